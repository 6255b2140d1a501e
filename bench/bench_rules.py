"""The benchmark's rules (../shared/docs/backtest-bench.md) as the vwap strategy's parameters, and
the reference's name for each of the project's exit reasons.

`bench/backtest.py` and `tests/backtest/test_backtest.py` both run the project's backtest with these
and compare its trades with `bench/bench_reference.py`; one copy keeps the two comparisons alike.
Plain data, importing nothing: bench/backtest.py keeps its parent process small.
"""

from __future__ import annotations

PARAMS = {
    "band_k": 2.0,
    "adx_period": 14,
    "adx_max": 20,
    "min_candles_after_anchor": 0,
    "min_sigma_pct": 0,
    "stop_loss_pct": 2,
    "band_stop": False,
    "stop_on_tick": True,
    "max_holding_minutes": 0,
    "volatility_guard": False,
    "live_exits": True,
    "live_take_profit": False,
    "enter_on_exit": True,
    "sigma_formula": "sums",
}
REASONS = {"take_profit": "vwap", "stop_loss_pct": "stop", "force": "force"}
