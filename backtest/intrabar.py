"""Inside a candle: when the live stream would speak, and which of those moments can matter.

The daemon sees a candle unfold as kline updates every `kline_ms` and mark prices every `mark_ms`
(each price on the simulator's intra-bar path, `simulator/bars.py`). A backtest replays the same
moments, but only those that can change something: the strategy's `QuietBand` says which live
prices answer nothing, so a candle whose path stays inside the band is skipped whole, and
otherwise the first moment outside it is found by bisection on the path's monotone legs (exact:
the same rounded path prices the engine fills at), not by visiting every update.
"""

from __future__ import annotations

from decimal import Decimal

from simulator.bars import Bar, path_price, waypoints
from strategies.base import QuietBand

MINUTE_MS = 60_000


class Grid:
    """The instants the live stream speaks at: multiples of each cadence (and, with `minutes`,
    each minute's start, when the simulator moves its engine too)."""

    __slots__ = ("cadences", "kline_ms", "mark_ms")

    def __init__(self, kline_ms: int, mark_ms: int, *, minutes: bool = False) -> None:
        if kline_ms < 1 or mark_ms < 1:
            raise ValueError("update intervals must be at least 1 ms")
        self.kline_ms = kline_ms
        self.mark_ms = mark_ms
        self.cadences = tuple(sorted({kline_ms, mark_ms, MINUTE_MS} if minutes else {kline_ms, mark_ms}))

    def at_or_after(self, t: int) -> int:
        """The first instant of the grid at or after `t`."""
        return min(t + (-t) % c for c in self.cadences)

    def is_kline(self, t: int) -> bool:
        return t % self.kline_ms == 0

    def is_mark(self, t: int) -> bool:
        return t % self.mark_ms == 0

    def at(self, t: int) -> bool:
        """Whether the stream speaks at `t` (a kline update or a mark price)."""
        return t % self.kline_ms == 0 or t % self.mark_ms == 0


def _violates(price: float, band: QuietBand) -> bool:
    return not band.low < price < band.high


def first_moment(bar: Bar, tick: Decimal, grid: Grid, start: int, band: QuietBand) -> int | None:
    """The first grid instant in [start, bar end) whose path price is outside `band` (or that is
    at or after `band.until_ms`); None when there is none in this bar."""
    end = bar.open_time + bar.interval_ms  # exclusive
    corners = [bar.open_time + offset for offset, _ in waypoints(bar)]

    def price(t: int) -> float:
        return float(path_price(bar, t - bar.open_time, tick))

    s = grid.at_or_after(start)
    while s < end:
        if s >= band.until_ms:
            return s
        if _violates(price(s), band):
            return s
        # The path is monotone between two corners: look at the end of this leg only.
        leg_end = next((c for c in corners if c > s), end - 1)
        leg_end = min(leg_end, end - 1, band.until_ms - 1)
        if leg_end > s and _violates(price(leg_end), band):
            lo, hi = s, leg_end  # lo inside the band, hi outside
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _violates(price(mid), band):
                    hi = mid
                else:
                    lo = mid
            candidate = grid.at_or_after(hi)
            if candidate <= leg_end:
                return candidate
            s = candidate
            continue
        s = grid.at_or_after(leg_end + 1)
    return None


def guard_may_fire(
    bar: tuple[float, float, float],
    previous: tuple[float, float, float],
    tick: float,
    interval_ms: int,
    window_ms: int,
    max_range: float,
) -> bool:
    """Whether live prices within any `window_ms` of this candle (and the end of the one before)
    can range by more than `max_range` (a fraction). `bar` is (open, high, low), `previous` the
    candle before as (close, high, low). Conservative: the path's steepest leg spans high − low in
    a third of the candle, so a window sees at most that slope times its length, plus the gap at
    the open and a tick of rounding at each end; and never more than the two candles' range."""
    open_, high, low = bar
    prev_close, prev_high, prev_low = previous
    floor = min(low, prev_low)
    if floor <= 0.0:
        return True
    total = max(high, prev_high) - floor
    third = max(interval_ms // 3, 1)
    steep = (high - low + prev_high - prev_low) * window_ms / third + abs(open_ - prev_close) + 2 * tick
    return min(total, steep) / floor > max_range


__all__ = ["Grid", "first_moment", "guard_may_fire"]
