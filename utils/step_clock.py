"""A simulated clock that moves in steps, only when its driver says so.

`python -m trader parity` runs the daemon and the simulator on it: between two steps time stands
still however long the daemon takes (threads, sockets, the database), so network latency costs no
simulated time and a live run is as deterministic as a backtest. `speed` is nominal: what the
components read to pace themselves (the simulator spaces its stream updates by it).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class StepClock:
    """Epoch-millisecond time that only `step_to` moves; `sleep` waits for a step past its deadline."""

    def __init__(self, start_ms: int, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.speed = speed
        self._now = start_ms
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now_ms(self) -> int:
        return self._now

    def monotonic(self) -> float:
        return self._now / 1000

    async def sleep(self, seconds: float) -> None:
        wake = self._now + max(0, int(seconds * 1000))
        if wake <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (wake, next(self._order), future))
        await future

    def next_wake(self) -> int | None:
        """The earliest deadline a sleeper waits for (None: nobody sleeps on this clock)."""
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def step_to(self, now_ms: int) -> None:
        """Move to `now_ms` (never back) and wake every sleeper whose deadline has come."""
        if now_ms < self._now:
            raise ValueError(f"a clock never goes back: {now_ms} < {self._now}")
        self._now = now_ms
        while self._sleepers and self._sleepers[0][0] <= now_ms:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)


__all__ = ["StepClock"]
