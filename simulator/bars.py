"""The 1m bar and its intra-bar price path: exact prices at any millisecond, bars split to 1m.

Everything here is pure and exact (Decimal prices, integer epoch-ms times); nothing reads a clock.

Intra-bar path
    A bar of length T ms (60 000 for 1m) is walked through four waypoints, linear in between, each
    price rounded to the symbol's tick (half-even):
        offset 0        -> open
        offset T/3      -> low  if the bar closes up (close >= open), else high
        offset 2T/3     -> high if the bar closes up,                 else low
        offset T - 1    -> close (the bar's last millisecond, its close_time)
    so a 1m bar is at its open at :00.000, first extreme at :20.000, second at :40.000 and its close
    at :59.999. The price at any millisecond of any bar is defined.

Coarser files (3m, 1h, ...)
    A bar of n minutes is walked along the same path over its whole length and cut into n 1m bars:
    1m bar i has open = path(60 000 i), close = path(60 000 i + 59 999), high/low = the extremes of
    the path on that minute. Volume, quote volume, taker volumes and trade count are split evenly,
    the remainder (from rounding down to the source's decimals) going to the last minute, so the 1m
    bars aggregate back to exactly the original bar. Each 1m bar is then itself replayed along the
    1m path above.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

MINUTE_MS = 60_000
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Bar:
    """One kline with exact values; `interval_ms` is 60 000 for the 1m bars the simulator replays."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    taker_buy_volume: Decimal
    taker_buy_quote_volume: Decimal
    interval_ms: int = MINUTE_MS

    @property
    def close_time(self) -> int:
        return self.open_time + self.interval_ms - 1


# --- intra-bar path ------------------------------------------------------------------------------


def waypoints(bar: Bar) -> tuple[tuple[int, Decimal], ...]:
    """The path's (offset ms, price) corners: O, first extreme, second extreme, C (see module doc)."""
    t = bar.interval_ms
    first, second = (bar.low, bar.high) if bar.close >= bar.open else (bar.high, bar.low)
    return ((0, bar.open), (t // 3, first), (2 * t // 3, second), (t - 1, bar.close))


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """`price` rounded to a multiple of `tick` (half-even), as every path price is."""
    return (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick


def path_price(bar: Bar, offset_ms: int, tick: Decimal) -> Decimal:
    """The path price `offset_ms` into `bar` (clamped to the bar), rounded to `tick`."""
    points = waypoints(bar)
    offset = min(max(offset_ms, 0), bar.interval_ms - 1)
    for (t0, p0), (t1, p1) in itertools.pairwise(points):
        if offset <= t1:
            if offset == t1:
                return p1
            if offset == t0:
                return p0
            return round_to_tick(p0 + (p1 - p0) * (offset - t0) / (t1 - t0), tick)
    return bar.close


def path_range(bar: Bar, start_ms: int, end_ms: int, tick: Decimal) -> tuple[Decimal, Decimal]:
    """(low, high) of the path on offsets [start_ms, end_ms] of `bar` (linear legs: extremes are at
    the ends or at a waypoint inside)."""
    prices = [path_price(bar, start_ms, tick), path_price(bar, end_ms, tick)]
    prices.extend(p for t, p in waypoints(bar) if start_ms < t < end_ms)
    return min(prices), max(prices)


VolumeUnits = tuple[Decimal, Decimal, Decimal, Decimal]


def volume_units(bar: Bar) -> VolumeUnits:
    """The smallest step of each of the bar's four volumes (their own decimals), which
    `partial_bar` rounds down to; a caller replaying one bar many times computes them once."""
    return (_unit(bar.volume), _unit(bar.quote_volume), _unit(bar.taker_buy_volume),
            _unit(bar.taker_buy_quote_volume))


def partial_bar(bar: Bar, offset_ms: int, tick: Decimal, units: VolumeUnits | None = None) -> Bar:
    """The bar as it stands `offset_ms` into its minute: open, the path's extremes so far, the path
    price as close, volumes pro rata to elapsed time (rounded down to the source's decimals)."""
    # The hot path of a fast simulator (240 updates per candle and symbol): the close is computed
    # once, and the extremes so far are it and the corners already passed (the open included).
    close = path_price(bar, offset_ms, tick)
    low = high = close
    for t, p in waypoints(bar):
        if t <= offset_ms:
            low, high = min(low, p), max(high, p)
    elapsed = min(max(offset_ms, 0), bar.interval_ms)
    u_vol, u_quote, u_taker, u_taker_quote = units or volume_units(bar)

    def share(v: Decimal, unit: Decimal) -> Decimal:
        return (v * elapsed / bar.interval_ms).quantize(unit, rounding=ROUND_DOWN)

    return Bar(
        open_time=bar.open_time,
        open=bar.open,
        high=high,
        low=low,
        close=close,
        volume=share(bar.volume, u_vol),
        quote_volume=share(bar.quote_volume, u_quote),
        trades=bar.trades * elapsed // bar.interval_ms,
        taker_buy_volume=share(bar.taker_buy_volume, u_taker),
        taker_buy_quote_volume=share(bar.taker_buy_quote_volume, u_taker_quote),
        interval_ms=bar.interval_ms,
    )


def _unit(v: Decimal) -> Decimal:
    exponent = v.as_tuple().exponent
    return Decimal(1).scaleb(min(exponent, 0)) if isinstance(exponent, int) else Decimal(1)


def split_bar(bar: Bar, tick: Decimal) -> list[Bar]:
    """Cut a bar of n minutes into n 1m bars along its path (see module doc)."""
    n = bar.interval_ms // MINUTE_MS
    if n <= 1:
        return [bar]

    def parts(v: Decimal) -> list[Decimal]:
        each = (v / n).quantize(_unit(v), rounding=ROUND_DOWN)
        return [each] * (n - 1) + [v - each * (n - 1)]

    vol, qv = parts(bar.volume), parts(bar.quote_volume)
    tbv, tbq = parts(bar.taker_buy_volume), parts(bar.taker_buy_quote_volume)
    trades = [bar.trades // n] * (n - 1) + [bar.trades - bar.trades // n * (n - 1)]
    out = []
    for i in range(n):
        start = i * MINUTE_MS
        low, high = path_range(bar, start, start + MINUTE_MS - 1, tick)
        out.append(
            Bar(
                open_time=bar.open_time + start,
                open=path_price(bar, start, tick),
                high=high,
                low=low,
                close=path_price(bar, start + MINUTE_MS - 1, tick),
                volume=vol[i],
                quote_volume=qv[i],
                trades=trades[i],
                taker_buy_volume=tbv[i],
                taker_buy_quote_volume=tbq[i],
            )
        )
    return out

