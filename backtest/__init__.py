"""The backtest: the live strategy, risk and order code replayed over history on a simulated clock."""
