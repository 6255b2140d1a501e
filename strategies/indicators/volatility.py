"""The short-window volatility guard: no new entries while the price is jumping around.

Price samples come from the mark price (once a second) and from live kline updates (last trade
price, several a second). Each source keeps its own window, because mark and last price differ by
the basis and mixing them would read that gap as volatility. Over the last `window_ms` of each
source the range reading is (max − min) / min; when either exceeds `max_range` the guard is active
until `cooldown_ms` after the last breach. Entries check `active(now)`; exits never do.

Each window keeps two monotonic deques (times of decreasing maxima and of increasing minima), so a
sample costs amortised O(1) and the range is read in O(1) whatever the sample rate.
"""

from __future__ import annotations

from collections import deque


class _Window:
    """Sliding time window with O(1) max and min (monotonic deques of (time, price))."""

    __slots__ = ("_last_time", "_maxima", "_minima")

    def __init__(self) -> None:
        self._maxima: deque[tuple[int, float]] = deque()
        self._minima: deque[tuple[int, float]] = deque()
        self._last_time = -(2**62)

    def add(self, time_ms: int, price: float, window_ms: int) -> float:
        """Add a sample and return the range fraction (max − min) / min over the window."""
        # Two streams interleave with slightly different clocks: never let time run backwards.
        if time_ms < self._last_time:
            time_ms = self._last_time
        self._last_time = time_ms
        sample = (time_ms, price)
        maxima = self._maxima
        while maxima and maxima[-1][1] <= price:
            maxima.pop()
        maxima.append(sample)
        minima = self._minima
        while minima and minima[-1][1] >= price:
            minima.pop()
        minima.append(sample)
        oldest = time_ms - window_ms
        while maxima[0][0] < oldest:
            maxima.popleft()
        while minima[0][0] < oldest:
            minima.popleft()
        low = minima[0][1]
        if low <= 0.0:
            return 0.0
        return (maxima[0][1] - low) / low

    def clear(self) -> None:
        self._maxima.clear()
        self._minima.clear()


class VolatilityGuard:
    """Blocks entries for `cooldown_ms` after any breach of `max_range` within `window_ms`.

    `add_mark()` / `add_trade()` return True only for the sample that *activated* the guard (it was
    not active before), so the caller emits exactly one event per activation; later breaches while
    active only extend `until_ms`.
    """

    __slots__ = (
        "_mark",
        "_mark_reading",
        "_mark_time",
        "_trade",
        "_trade_reading",
        "_trade_time",
        "cooldown_ms",
        "max_range",
        "until_ms",
        "window_ms",
    )

    def __init__(self, window_ms: int, max_range: float, cooldown_ms: int) -> None:
        self.window_ms = window_ms
        self.max_range = max_range
        self.cooldown_ms = cooldown_ms
        self.until_ms = 0
        self._mark_reading = 0.0
        self._trade_reading = 0.0
        self._mark_time = 0
        self._trade_time = 0
        self._mark = _Window()
        self._trade = _Window()

    def configure(self, window_ms: int, max_range: float, cooldown_ms: int) -> None:
        """Apply new settings; the windows keep their samples and shrink on the next sample."""
        self.window_ms = window_ms
        self.max_range = max_range
        self.cooldown_ms = cooldown_ms

    def add_mark(self, time_ms: int, price: float) -> bool:
        """A mark price sample; True when it activated the guard."""
        reading = self._mark.add(time_ms, price, self.window_ms)
        self._mark_reading = reading
        self._mark_time = time_ms
        return self._check(time_ms, reading)

    def add_trade(self, time_ms: int, price: float) -> bool:
        """A last-trade price sample (live kline close); True when it activated the guard."""
        reading = self._trade.add(time_ms, price, self.window_ms)
        self._trade_reading = reading
        self._trade_time = time_ms
        return self._check(time_ms, reading)

    @property
    def reading(self) -> float:
        """The latest range fraction, the larger of the two sources."""
        return max(self._mark_reading, self._trade_reading)

    def reading_at(self, now_ms: int) -> float:
        """The latest range fraction of the sources sampled within the window before `now_ms`
        (a source that went quiet longer ago reads 0): what signal inputs show."""
        oldest = now_ms - self.window_ms
        mark = self._mark_reading if self._mark_time >= oldest else 0.0
        trade = self._trade_reading if self._trade_time >= oldest else 0.0
        return max(mark, trade)

    def _check(self, time_ms: int, reading: float) -> bool:
        if reading <= self.max_range:
            return False
        activated = time_ms >= self.until_ms
        until = time_ms + self.cooldown_ms
        if until > self.until_ms:
            self.until_ms = until
        return activated

    def active(self, now_ms: int) -> bool:
        """True while entries are blocked."""
        return now_ms < self.until_ms
