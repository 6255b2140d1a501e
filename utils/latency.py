"""Latency histograms of the hot path, cheap enough to record every event: loop lag and
message-to-decision time, shown in the heartbeat's `performance` section and read by bench/scale.py.

Buckets are log-spaced (10 a decade from 1 µs to 100 s), so recording is one bisect on 81 floats
and a percentile is exact to one bucket (±12 %). The counts are cumulative since start: a reader
that wants a window takes two snapshots and subtracts them (`percentile(q, counts)`).
"""

from __future__ import annotations

import asyncio
import bisect
import time

__all__ = ["BUCKET_EDGES_MS", "DECISION_LATENCY", "LOOP_LAG", "LatencyHistogram", "watch_loop_lag"]

# Upper bounds of the buckets in ms: 0.001 .. 100,000; a last bucket for anything above.
BUCKET_EDGES_MS: tuple[float, ...] = tuple(10 ** (k / 10 - 3) for k in range(81))


class LatencyHistogram:
    """Counts of latencies (ms) per log-spaced bucket, and the largest one seen."""

    __slots__ = ("counts", "max_ms")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKET_EDGES_MS) + 1)
        self.max_ms = 0.0

    def add(self, ms: float) -> None:
        """Record one latency in milliseconds."""
        self.counts[bisect.bisect_left(BUCKET_EDGES_MS, ms)] += 1
        if ms > self.max_ms:
            self.max_ms = ms

    @staticmethod
    def percentile(q: float, counts: list[int]) -> float | None:
        """The upper edge of the bucket holding the `q` quantile (0..1) of `counts`; None if empty."""
        total = sum(counts)
        if total == 0:
            return None
        rank = q * total
        seen = 0
        for index, count in enumerate(counts):
            seen += count
            if seen >= rank and count:
                return BUCKET_EDGES_MS[min(index, len(BUCKET_EDGES_MS) - 1)]
        return BUCKET_EDGES_MS[-1]

    def summary(self) -> dict[str, object]:
        """For the heartbeat: count, p50, p99, max (ms) since start, and the bucket counts."""
        counts = list(self.counts)
        p50, p99 = self.percentile(0.5, counts), self.percentile(0.99, counts)
        return {
            "count": sum(counts),
            "p50_ms": round(p50, 4) if p50 is not None else None,
            "p99_ms": round(p99, 4) if p99 is not None else None,
            "max_ms": round(self.max_ms, 3),
            "buckets": counts,
        }


# Process-wide: the strategy runners record market-event-to-decision times here (strategies/runner.py),
# `watch_loop_lag` records the event loop's lag.
DECISION_LATENCY = LatencyHistogram()
LOOP_LAG = LatencyHistogram()


async def watch_loop_lag(interval_s: float = 0.05, histogram: LatencyHistogram = LOOP_LAG) -> None:
    """Sleep `interval_s` again and again; how much later than asked each wake-up came is the lag
    every other callback on the loop waited too."""
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(interval_s)
        histogram.add(max(0.0, (time.perf_counter() - asked - interval_s) * 1000))
