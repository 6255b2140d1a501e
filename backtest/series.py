"""One symbol's history as columns of plain numbers, and its exact intra-bar price path.

The loop reads floats (`open_times`, `opens`, ...: typed arrays from files, 8 bytes a value against
a list's 32, or Python lists);
exact values are rebuilt only where money changes hands: `bar(i)` gives the `simulator.bars.Bar`
(Decimal prices read back from the floats, exact for any price of 15 significant digits or fewer)
and `PathPrices` is the matching engine's price source, walking each bar along the simulator's
own intra-bar path (`simulator/bars.py`), so a backtest fills at the prices sim mode streams.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from core.events import Candle
from simulator.bars import MINUTE_MS, Bar, path_price, path_range

_ZERO = Decimal(0)

IntColumn: TypeAlias = "list[int] | array[int]"  # a string: array is generic only for typing in 3.11
FloatColumn: TypeAlias = "list[float] | array[float]"


def exact(value: float) -> Decimal:
    """The decimal a float was read from (the shortest text that reads back as the same float)."""
    return Decimal(repr(value))


def bar_candle(symbol: str, bar: Bar, *, closed: bool, event_time: int) -> Candle:
    """`bar` as the Candle a strategy is given: the final kline (`closed`) or a live update of the
    bar so far, stamped `event_time` as the stream would stamp it."""
    return Candle(
        symbol, bar.open_time, bar.close_time, bar.open, bar.high, bar.low, bar.close,
        bar.volume, bar.quote_volume, bar.trades, closed, event_time,
    )  # fmt: skip


@dataclass(slots=True)
class BarSeries:
    """Contiguous bars of one symbol and interval, oldest first (see the module docstring)."""

    symbol: str
    interval_ms: int
    tick: Decimal
    open_times: IntColumn
    opens: FloatColumn
    highs: FloatColumn
    lows: FloatColumn
    closes: FloatColumn
    volumes: FloatColumn
    quote_volumes: FloatColumn = field(default_factory=list)
    _bars: dict[int, Bar] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.open_times)

    @property
    def first_open_time(self) -> int:
        return self.open_times[0]

    @property
    def end_time(self) -> int:
        """The first millisecond after the last bar."""
        return self.open_times[-1] + self.interval_ms

    def bar(self, i: int) -> Bar:
        """Bar `i` with exact values (cached: the engine asks for the same bar many times)."""
        cached = self._bars.get(i)
        if cached is not None:
            return cached
        volume = exact(self.volumes[i])
        quote = exact(self.quote_volumes[i]) if self.quote_volumes else _ZERO
        bar = Bar(
            self.open_times[i],
            exact(self.opens[i]),
            exact(self.highs[i]),
            exact(self.lows[i]),
            exact(self.closes[i]),
            volume,
            quote,
            0,
            _ZERO,
            _ZERO,
            self.interval_ms,
        )
        if len(self._bars) > 64:
            self._bars.clear()
        self._bars[i] = bar
        return bar

    def index_at(self, time_ms: int) -> int:
        """The index of the bar containing `time_ms` (clamped to the series)."""
        i = bisect_right(self.open_times, time_ms) - 1
        return min(max(i, 0), len(self.open_times) - 1)

    def window(self, start_ms: int | None, end_ms: int | None) -> BarSeries:
        """The bars opening in [start_ms, end_ms) (None: unbounded)."""
        lo = 0 if start_ms is None else bisect_right(self.open_times, start_ms - 1)
        hi = len(self.open_times) if end_ms is None else bisect_right(self.open_times, end_ms - 1)
        return BarSeries(
            self.symbol,
            self.interval_ms,
            self.tick,
            self.open_times[lo:hi],
            self.opens[lo:hi],
            self.highs[lo:hi],
            self.lows[lo:hi],
            self.closes[lo:hi],
            self.volumes[lo:hi],
            self.quote_volumes[lo:hi] if self.quote_volumes else [],
        )


class PathPrices:
    """The matching engine's `PricePath` over a `BarSeries`: the simulator's intra-bar path."""

    def __init__(self, series: BarSeries) -> None:
        self.series = series

    def price_at(self, now_ms: int) -> Decimal:
        """The path price at `now_ms` (the last bar's close after the end)."""
        s = self.series
        i = s.index_at(now_ms)
        bar = s.bar(i)
        return path_price(bar, now_ms - bar.open_time, s.tick)

    def price_range(self, after_ms: int, until_ms: int) -> tuple[Decimal, Decimal]:
        """(low, high) of the path on (after_ms, until_ms]."""
        s = self.series
        lows: list[Decimal] = []
        highs: list[Decimal] = []
        t = after_ms + 1
        while t <= until_ms:
            i = s.index_at(t)
            bar = s.bar(i)
            end = min(until_ms, bar.open_time + bar.interval_ms - 1)
            if end < t:  # past the last bar: the path stays at its close
                end = until_ms
            lo, hi = path_range(bar, t - bar.open_time, end - bar.open_time, s.tick)
            lows.append(lo)
            highs.append(hi)
            t = end + 1
        if not lows:
            p = self.price_at(until_ms)
            return p, p
        return min(lows), max(highs)


__all__ = ["MINUTE_MS", "BarSeries", "FloatColumn", "IntColumn", "PathPrices", "bar_candle", "exact"]
