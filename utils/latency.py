"""Latency histograms of the hot path, cheap enough to record every event: loop lag and
message-to-decision time, shown in the heartbeat's `performance` section and read by bench/scale.py.

Loop lag comes twice: `LOOP_LAG`, how late a 50 ms sleep on the loop wakes up (what every task
suffers), and `LOOP_LAG_OWN`, that minus how late a reference thread of the same process woke up
from its own sleeps over the same interval. On a loaded machine the OS alone holds a process off
the CPU for tens of milliseconds; a thread's sleep is late only then, never because the loop is
busy, so the difference is the lag the loop's own work caused (CPU-bound work on the loop shows in
full: the reference thread still gets the GIL every switch interval).

Buckets are log-spaced (10 a decade from 1 µs to 100 s), so recording is one bisect on 81 floats
and a percentile is exact to one bucket (±12 %). The counts are cumulative since start: a reader
that wants a window takes two snapshots and subtracts them (`percentile(q, counts)`).
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import threading
import time

__all__ = ["BUCKET_EDGES_MS", "DECISION_LATENCY", "LOOP_LAG", "LOOP_LAG_OWN", "LatencyHistogram",
           "watch_loop_lag"]

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
LOOP_LAG_OWN = LatencyHistogram()

_REFERENCE_PERIOD_S = 0.01


def _reference(samples: collections.deque[tuple[float, float, float]], halt: threading.Event) -> None:
    while not halt.is_set():
        start = time.monotonic()
        time.sleep(_REFERENCE_PERIOD_S)
        end = time.monotonic()
        samples.append((start, end, end - start - _REFERENCE_PERIOD_S))


def _machine_lag(samples: collections.deque[tuple[float, float, float]], start: float, end: float) -> float:
    """The worst reference lag among the samples overlapping [start, end]."""
    worst = 0.0
    # A copy first: the reference thread appends meanwhile, and iterating a deque that changes
    # raises (list() copies it in one step under the GIL).
    for s_start, s_end, lag in reversed(list(samples)):
        if s_end < start:
            break
        if s_start < end and lag > worst:
            worst = lag
    return worst


async def watch_loop_lag(interval_s: float = 0.05) -> None:
    """Sleep `interval_s` again and again; how much later than asked each wake-up came is the lag
    every other callback on the loop waited too (`LOOP_LAG`; `LOOP_LAG_OWN` without the machine's)."""
    samples: collections.deque[tuple[float, float, float]] = collections.deque(maxlen=400)
    halt = threading.Event()
    thread = threading.Thread(target=_reference, args=(samples, halt), name="loop-lag-reference", daemon=True)
    thread.start()
    try:
        while True:
            start = time.monotonic()
            await asyncio.sleep(interval_s)
            end = time.monotonic()
            lag = max(0.0, end - start - interval_s)
            LOOP_LAG.add(lag * 1000)
            LOOP_LAG_OWN.add(max(0.0, lag - _machine_lag(samples, start, end)) * 1000)
    finally:
        halt.set()
