"""Clocks. One clock object is handed to every component, so tests and backtests can run on
simulated time instead of the wall clock.

`now_ms()` is epoch milliseconds on the clock's timeline; `monotonic()` is seconds on the same
timeline that never go back (for measuring intervals); `sleep()` waits for that much of the
clock's time (for a scaled clock, less wall time); `speed` is how many of the clock's seconds pass
per wall second (1 for the wall clock and for a manual clock, which moves only when told).

Components that wait on the network (retries, recvWindow, polling) take a second clock for that,
the wall clock in the daemon: those waits follow real time even when the market runs faster.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What components need from a clock."""

    @property
    def speed(self) -> float:
        """The clock's seconds per wall second."""
        ...

    def now_ms(self) -> int:
        """Current time in epoch milliseconds on this clock's timeline."""
        ...

    def monotonic(self) -> float:
        """Seconds on this clock's timeline, never going back; only differences mean something."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class WallClock:
    """The real clock."""

    speed = 1.0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ScaledClock:
    """Simulated time that starts at `start_ms` and runs `speed` times faster than the wall clock.

    The simulator runs on it; in sim mode the daemon is handed the same object so both agree.
    """

    def __init__(self, start_ms: int, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.start_ms = start_ms
        self.speed = speed
        self._t0 = time.monotonic()

    def now_ms(self) -> int:
        return self.start_ms + int((time.monotonic() - self._t0) * 1000 * self.speed)

    def monotonic(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)


class ManualClock:
    """A clock that only moves when told to; for unit tests and the backtester.

    `sleep()` returns once the clock has been advanced past the wake-up time.
    """

    speed = 1.0

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._changed = asyncio.Event() if _has_running_loop() else None

    def now_ms(self) -> int:
        return self._now

    def monotonic(self) -> float:
        return self._now / 1000

    def set(self, now_ms: int) -> None:
        """Move the clock to `now_ms` (never backwards)."""
        if now_ms < self._now:
            raise ValueError(f"a clock never goes back: {now_ms} < {self._now}")
        self._now = now_ms
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def advance(self, ms: int) -> None:
        """Move the clock forward by `ms` milliseconds."""
        self.set(self._now + ms)

    async def sleep(self, seconds: float) -> None:
        wake = self._now + int(seconds * 1000)
        while self._now < wake:
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
