"""The vwap strategy's kept candles: a day of them per symbol, compact (issue 19: 500 symbols in one
daemon under 300 MB), and a live period edit still rebuilds from exactly the newest 1,500."""

from __future__ import annotations

import tracemalloc

from strategies.indicators.candle_keep import CandleKeep
from tests.strategies._candles import ranging
from tests.strategies._vwap import feed, make


def test_a_day_of_kept_candles_costs_under_100_kb_per_symbol() -> None:
    candles = ranging(0, 1_800)
    strategy = make()
    feed(strategy, candles[:10])
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        feed(strategy, candles[10:])
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 1,500 candles as (int, float x 4) tuples in a deque were ~320 KB; 500 symbols x that was
    # ~150 MB of the daemon's RSS. Five doubles a candle (and the indicators' own state) fit in 100 KB.
    assert after - before < 100_000


def test_a_period_edit_after_2000_candles_rebuilds_from_the_newest_1500() -> None:
    candles = ranging(0, 2_000)
    strategy = make()
    feed(strategy, candles)
    strategy.update_params({"adx_period": 7})
    fresh = make(adx_period=7)
    feed(fresh, candles[-1_500:])
    assert strategy.adx.value == fresh.adx.value
    assert strategy.vwap.vwap == fresh.vwap.vwap


def test_the_keep_returns_the_newest_candles_oldest_first_at_every_fill() -> None:
    keep = CandleKeep(100)
    rows = [(1_700_000_000_000 + i * 60_000, 1.0 + i, 0.5 + i, 0.75 + i, 10.0 * i) for i in range(1_000)]
    for n, row in enumerate(rows, start=1):
        keep.append(row)
        if n in (1, 63, 64, 65, 100, 101, 356, 357, 420, 999, 1_000):
            assert list(keep) == rows[max(0, n - 100):n]
            assert len(keep) == min(n, 100)
    keep.clear()
    assert list(keep) == [] and len(keep) == 0
