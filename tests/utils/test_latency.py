"""The hot-path latency histograms the heartbeat's `performance` section and bench/scale.py read."""

from __future__ import annotations

import asyncio
import time

from utils.latency import LOOP_LAG, LOOP_LAG_OWN, LatencyHistogram, watch_loop_lag


def test_percentiles_are_exact_to_one_bucket() -> None:
    histogram = LatencyHistogram()
    for ms in [0.1] * 98 + [30.0, 30.0]:
        histogram.add(ms)
    p50 = LatencyHistogram.percentile(0.5, histogram.counts)
    p99 = LatencyHistogram.percentile(0.99, histogram.counts)
    assert p50 is not None and 0.1 <= p50 < 0.1 * 1.26
    assert p99 is not None and 30.0 <= p99 < 30.0 * 1.26
    assert histogram.summary()["max_ms"] == 30.0
    assert LatencyHistogram.percentile(0.99, [0] * len(histogram.counts)) is None


async def test_a_blocked_loop_shows_as_its_own_lag() -> None:
    before, own_before = sum(LOOP_LAG.counts), list(LOOP_LAG_OWN.counts)
    watcher = asyncio.create_task(watch_loop_lag(interval_s=0.005))
    try:
        while sum(LOOP_LAG.counts) < before + 20:  # the watcher survives its reference thread
            await asyncio.sleep(0.01)
        time.sleep(0.1)  # the loop blocked: every task waits 100 ms
        seen = sum(LOOP_LAG.counts)
        while sum(LOOP_LAG.counts) == seen:
            await asyncio.sleep(0.01)
    finally:
        watcher.cancel()
    window = [b - a for a, b in zip(own_before, LOOP_LAG_OWN.counts, strict=True)]
    worst = LatencyHistogram.percentile(1.0, window)
    assert worst is not None and worst >= 50  # not explained by the machine: the loop's own
