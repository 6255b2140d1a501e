"""Small shared helpers with no trading logic: decimal precision, clocks, logging set-up."""
