"""Risk: the gate every signal passes, its rules, its state and the kill switch."""
