"""Live prices for the matching engine: paper mode's `MarketSeries`, fed by a public market stream.

Paper mode fills orders locally with the same `MatchingEngine` as sim mode; only the prices differ.
Instead of a `Replay` of files, each symbol gets a `LiveSeries` that holds what Binance's public
streams (and its public klines REST, for history and gaps) said. This module is pure: it neither
opens sockets nor reads a clock; the owner (`trader/paper_venue.py`) feeds decoded events in with
the local time they were received.

Prices on the engine's timeline
    The engine runs on the local wall clock, so every price is stamped with the LOCAL time it was
    received (strictly after every instant the engine has already processed), never with Binance's
    event time: a resting order is matched only against prices that arrived after it was placed.
    Between updates the price stays at the last one (a step function).

What counts as traded
    Each kline update's close is a trade. A new high or low of the same bar since the previous
    update was traded in between, and so were the open, high and low of the next minute's first
    update; those count too, so a wick between two updates fills a resting limit order. After a
    start, a reconnect or skipped minutes the bar's extremes may be older than a resting order,
    so only the close counts (a trade during a feed outage does not fill anything: conservative).

Klines
    The bars are kept as received (the newest version of each minute, stream or REST), up to
    `max_bars` per symbol, and served as they are: a minute the feed never delivered is absent,
    never invented. The public REST has no taker-buy volumes on the stream side: they are 0 for
    bars that came only from the stream.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.events import Candle, MarkPrice
from simulator.bars import MINUTE_MS, Bar
from simulator.errors import SimError

__all__ = ["FeedStats", "LiveFeed", "LiveSeries", "bar_from_rest_row"]

_ZERO = Decimal(0)
_FUNDING_TIMES_KEPT = 4  # the next one, and the last few in case a payment is still being settled


def bar_from_rest_row(row: Sequence[Any]) -> Bar:
    """One row of GET /fapi/v1/klines (Binance's column order) as an exact 1m `Bar`."""
    open_time, close_time = int(row[0]), int(row[6])
    return Bar(
        open_time=open_time,
        open=Decimal(str(row[1])),
        high=Decimal(str(row[2])),
        low=Decimal(str(row[3])),
        close=Decimal(str(row[4])),
        volume=Decimal(str(row[5])),
        quote_volume=Decimal(str(row[7])),
        trades=int(row[8]),
        taker_buy_volume=Decimal(str(row[9])),
        taker_buy_quote_volume=Decimal(str(row[10])),
        interval_ms=close_time - open_time + 1,
    )


def _bar_from_candle(candle: Candle) -> Bar:
    return Bar(
        open_time=candle.open_time,
        open=candle.open,
        high=candle.high,
        low=candle.low,
        close=candle.close,
        volume=candle.volume,
        quote_volume=candle.quote_volume,
        trades=candle.trades,
        taker_buy_volume=_ZERO,
        taker_buy_quote_volume=_ZERO,
        interval_ms=candle.close_time - candle.open_time + 1,
    )


class LiveSeries:
    """One symbol's live market (satisfies `simulator.market_series.MarketSeries`)."""

    def __init__(self, symbol: str, *, max_bars: int = 3000, keep_prices_ms: int = 3_600_000) -> None:
        self.symbol = symbol
        self.max_bars = max_bars
        self.keep_prices_ms = keep_prices_ms
        self._bars: dict[int, Bar] = {}
        self._latest_open: int | None = None  # newest minute held
        self._times: list[int] = []  # local receive stamps, non-decreasing
        self._prices: list[Decimal] = []
        # The previous stream update: whether the flow since it was unbroken, and its bar's extremes.
        self._continuous = False
        self._seen: tuple[int, Decimal, Decimal] | None = None  # (open_time, high, low)
        self.updates = 0
        self.last_update_ms: int | None = None

    # --- input -----------------------------------------------------------------------------------

    def on_candle(self, candle: Candle, received_ms: int) -> bool:
        """Take one kline update received at local time `received_ms`.

        Returns True when minutes were skipped since the previous update (the owner back-fills them).
        """
        self.updates += 1
        self.last_update_ms = received_ms
        self._store(_bar_from_candle(candle))
        seen = self._seen
        skipped = seen is not None and candle.open_time > seen[0] + MINUTE_MS
        if seen is not None and candle.open_time < seen[0]:
            return False  # an older minute (a repeated final after a reconnect): stored, not traded
        traded: list[Decimal] = []
        if self._continuous and seen is not None and candle.open_time == seen[0]:
            if candle.high > seen[1]:
                traded.append(candle.high)
            if candle.low < seen[2]:
                traded.append(candle.low)
        elif self._continuous and seen is not None and candle.open_time == seen[0] + MINUTE_MS:
            traded.extend((candle.open, candle.high, candle.low))
        traded.append(candle.close)  # last: price_at() is the newest close
        for price in traded:
            self._observe(received_ms, price)
        self._seen = (candle.open_time, candle.high, candle.low)
        self._continuous = True
        return skipped

    def add_history(self, bars: Iterable[Bar]) -> None:
        """Add bars from the public REST (history at start, a gap's back-fill).

        A closed minute takes the REST version; the newest minute keeps the stream's version. With
        no price yet, the newest close becomes the price (stamped 0: before anything the engine does).
        """
        newest: Bar | None = None
        for bar in bars:
            if (
                self._latest_open is None
                or bar.open_time < self._latest_open
                or bar.open_time not in self._bars
            ):
                self._store(bar)
            if newest is None or bar.open_time > newest.open_time:
                newest = bar
        if newest is not None and not self._prices:
            self._observe(0, newest.close)

    def mark_gap(self) -> None:
        """The flow was broken (reconnect): the next update's extremes do not count as traded."""
        self._continuous = False

    def _store(self, bar: Bar) -> None:
        self._bars[bar.open_time] = bar
        if self._latest_open is None or bar.open_time > self._latest_open:
            self._latest_open = bar.open_time
        if len(self._bars) > self.max_bars + self.max_bars // 10:
            for t in sorted(self._bars)[: len(self._bars) - self.max_bars]:
                del self._bars[t]

    def _observe(self, stamp: int, price: Decimal) -> None:
        if self._times and stamp < self._times[-1]:
            stamp = self._times[-1]  # the wall clock stepped back: keep the timeline ordered
        self._times.append(stamp)
        self._prices.append(price)
        if len(self._times) > 4096:
            # Keep the last hour, and the price in force at its start.
            cut = max(bisect.bisect_right(self._times, stamp - self.keep_prices_ms) - 1, 0)
            if cut:
                del self._times[:cut]
                del self._prices[:cut]

    # --- MarketSeries ----------------------------------------------------------------------------

    @property
    def has_price(self) -> bool:
        """Whether any price (history or live) is known."""
        return bool(self._prices)

    @property
    def latest_open_time(self) -> int | None:
        """The newest minute held."""
        return self._latest_open

    def refetch_from(self) -> int | None:
        """The first minute to fetch again after a gap: the oldest missing minute of the newest hole
        between the bars held, else the newest minute (its final version may have been missed)."""
        if self._latest_open is None:
            return None
        t = self._latest_open
        while t - MINUTE_MS in self._bars:
            t -= MINUTE_MS
        older = [o for o in self._bars if o < t]
        return max(older) + MINUTE_MS if older else self._latest_open

    def price_at(self, now_ms: int) -> Decimal:
        """The last price received at or before `now_ms` (the earliest known one before that)."""
        if not self._prices:
            raise SimError(-1001, f"Internal error; no market price for {self.symbol} yet.", 503)
        index = bisect.bisect_right(self._times, now_ms) - 1
        return self._prices[max(index, 0)]

    def price_range(self, after_ms: int, until_ms: int) -> tuple[Decimal, Decimal]:
        """(low, high) of the prices received on (after_ms, until_ms]; the price in force if none."""
        lo = bisect.bisect_right(self._times, after_ms)
        hi = bisect.bisect_right(self._times, until_ms)
        if lo >= hi:
            price = self.price_at(until_ms)
            return price, price
        window = self._prices[lo:hi]
        return min(window), max(window)

    def bar(self, open_time: int) -> Bar:
        """The bar held for that minute, else a flat zero-volume bar at the price then in force."""
        held = self._bars.get(open_time)
        if held is not None:
            return held
        price = self.price_at(open_time + MINUTE_MS - 1)
        return Bar(open_time, price, price, price, price, _ZERO, _ZERO, 0, _ZERO, _ZERO)

    def live_bar(self, now_ms: int) -> Bar:
        """The newest bar held (as the feed last showed it)."""
        if self._latest_open is None:
            return self.bar(now_ms - now_ms % MINUTE_MS)
        return self._bars[self._latest_open]

    def bars(self, first_open: int, last_open: int, now_ms: int) -> list[Bar]:
        """The bars held that open in [first_open, last_open], oldest first (absent ones skipped)."""
        return [self._bars[t] for t in sorted(t for t in self._bars if first_open <= t <= last_open)]


@dataclass(frozen=True, slots=True)
class FeedStats:
    """Counters of a LiveFeed for the heartbeat."""

    candles: int
    mark_prices: int
    unknown_symbol: int
    gaps: int
    last_update_ms: int | None


class LiveFeed:
    """Every symbol's `LiveSeries`, and the sink a market stream hands decoded events to.

    `now_ms` is the local clock (the engine's); each price is stamped `now_ms() + 1` so it lies
    strictly after every instant the engine has processed. `on_gap(symbol)` is called when a
    symbol's stream skipped minutes (the owner back-fills them from the public REST).
    """

    def __init__(
        self,
        symbols: Iterable[str],
        now_ms: Callable[[], int],
        *,
        on_gap: Callable[[str], None] | None = None,
        max_bars: int = 3000,
    ) -> None:
        self.series: dict[str, LiveSeries] = {s: LiveSeries(s, max_bars=max_bars) for s in symbols}
        self._max_bars = max_bars
        self._now_ms = now_ms
        self._on_gap = on_gap
        self.candles = 0
        self.mark_prices = 0
        self.unknown_symbol = 0
        self.gaps = 0
        self.last_mark: dict[str, Decimal] = {}
        # symbol -> {announced funding time: the latest rate announced for it}
        self._funding: dict[str, dict[int, Decimal]] = {}

    @property
    def markets(self) -> Mapping[str, LiveSeries]:
        """The series by symbol (what the exchange and the engine read)."""
        return self.series

    def add_symbol(self, symbol: str) -> LiveSeries:
        """Follow one more symbol (a live config edit); its series, new or existing."""
        series = self.series.get(symbol)
        if series is None:
            series = self.series[symbol] = LiveSeries(symbol, max_bars=self._max_bars)
        return series

    def sink(self, event: Candle | MarkPrice) -> None:
        """A decoded market event from the stream: kline updates move prices, mark prices are noted."""
        series = self.series.get(event.symbol)
        if series is None:
            self.unknown_symbol += 1
            return
        if type(event) is Candle:
            self.candles += 1
            if series.on_candle(event, self._now_ms() + 1):
                self.gaps += 1
                if self._on_gap is not None:
                    self._on_gap(event.symbol)
        elif type(event) is MarkPrice:
            self.mark_prices += 1
            self.last_mark[event.symbol] = event.mark_price
            announced = self._funding.setdefault(event.symbol, {})
            announced[event.next_funding_time] = event.funding_rate
            if len(announced) > _FUNDING_TIMES_KEPT:
                del announced[min(announced)]

    def funding_times(self, symbol: str) -> list[int]:
        """The funding times the stream announced for `symbol` (the newest few), ascending."""
        return sorted(self._funding.get(symbol, ()))

    def funding_rate(self, symbol: str, funding_time: int) -> Decimal | None:
        """The last rate the stream announced for that funding time; None if it never did."""
        return self._funding.get(symbol, {}).get(funding_time)

    def mark_gap(self, symbols: Iterable[str]) -> None:
        """The stream of these symbols reconnected: their next update's extremes do not count."""
        for symbol in symbols:
            series = self.series.get(symbol)
            if series is not None:
                series.mark_gap()

    def stats(self) -> FeedStats:
        """Counters and the newest update time."""
        times = [s.last_update_ms for s in self.series.values() if s.last_update_ms is not None]
        return FeedStats(
            self.candles, self.mark_prices, self.unknown_symbol, self.gaps, max(times, default=None)
        )
