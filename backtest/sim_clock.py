"""The backtest's clock: simulated time that moves only when the loop moves it."""

from __future__ import annotations


class SimClock:
    """The backtest's one clock for market and network: it moves only when the loop moves it."""

    speed = 1.0

    def __init__(self, now: int) -> None:
        self.now = now

    def now_ms(self) -> int:
        return self.now

    def monotonic(self) -> float:
        return self.now / 1000

    async def sleep(self, seconds: float) -> None:  # nothing in a backtest waits
        self.now += int(seconds * 1000)


__all__ = ["SimClock"]
