"""How late the event loop wakes up, minus what the machine's own load explains.

The probe sleeps 5 ms on the loop again and again and records how late each wake-up is: the lag
every task on the loop suffers. On a shared 2-core machine the OS alone can hold a process off the
CPU for tens of milliseconds, which says nothing about our code; so a reference thread of the same
process does the same 5 ms sleeps off the loop. A thread's sleep is late only when the machine (or
the whole process) is starved, never because the loop is busy or blocked: a loop wake-up's lag
minus the worst reference lag that overlaps it is the lag the loop itself caused. A blocking call
on the loop (a synchronous HTTP request, a `time.sleep`) shows in full; so does CPU-bound work
on the loop, since the reference thread still gets the GIL every switch interval.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time

_PERIOD_S = 0.005


class LagProbe:
    """`start()` on the loop, `await stop()`, then `worst()`: (raw, own) worst lag in seconds."""

    def __init__(self) -> None:
        self._loop_samples: list[tuple[float, float, float]] = []  # (start, end, lag)
        self._ref_samples: list[tuple[float, float, float]] = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._reference, name="lag-reference", daemon=True)
        self._task: asyncio.Task[None] | None = None

    @property
    def samples(self) -> int:
        return len(self._loop_samples)

    def start(self) -> None:
        self._thread.start()
        self._task = asyncio.create_task(self._probe())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._halt.set()
        await asyncio.to_thread(self._thread.join)

    def _reference(self) -> None:
        while not self._halt.is_set():
            start = time.monotonic()
            time.sleep(_PERIOD_S)
            end = time.monotonic()
            self._ref_samples.append((start, end, end - start - _PERIOD_S))

    async def _probe(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(_PERIOD_S)
            end = time.monotonic()
            self._loop_samples.append((start, end, end - start - _PERIOD_S))

    def worst(self) -> tuple[float, float]:
        """The worst raw loop lag, and the worst lag the loop caused itself (see the docstring)."""
        raw = max((lag for _s, _e, lag in self._loop_samples), default=0.0)
        ref = self._ref_samples
        ends = [end for _s, end, _l in ref]
        own = 0.0
        for start, end, lag in self._loop_samples:
            machine = 0.0
            i = bisect.bisect_left(ends, start)
            while i < len(ref) and ref[i][0] < end:
                machine = max(machine, ref[i][2])
                i += 1
            own = max(own, lag - machine)
        return raw, own
