"""Market data for the simulator: kline loading, the intra-bar price path, time-shifted replay.

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

Time shifting and looping (`Replay`)
    The source series is moved by a whole number of days so that it starts at least `history_ms`
    before the simulation's start (time of day preserved). Past its end it loops; loop k multiplies
    every price by (last close / first open)^k, rounded to the tick, and the first open of each loop
    is pinned to the previous loop's last close, so prices stay continuous. Volumes are unchanged.

Synthetic markets (`SyntheticSeries`) are SYNTHETIC, not market data: a seeded geometric random walk
in integer ticks around a base price, for scale tests with hundreds of symbols.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Protocol

MINUTE_MS = 60_000
DAY_MS = 86_400_000
_ZERO = Decimal(0)


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


def _round(price: Decimal, tick: Decimal) -> Decimal:
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
            return _round(p0 + (p1 - p0) * (offset - t0) / (t1 - t0), tick)
    return bar.close


def path_range(bar: Bar, start_ms: int, end_ms: int, tick: Decimal) -> tuple[Decimal, Decimal]:
    """(low, high) of the path on offsets [start_ms, end_ms] of `bar` (linear legs: extremes are at
    the ends or at a waypoint inside)."""
    prices = [path_price(bar, start_ms, tick), path_price(bar, end_ms, tick)]
    prices.extend(p for t, p in waypoints(bar) if start_ms < t < end_ms)
    return min(prices), max(prices)


def partial_bar(bar: Bar, offset_ms: int, tick: Decimal) -> Bar:
    """The bar as it stands `offset_ms` into its minute: open, the path's extremes so far, the path
    price as close, volumes pro rata to elapsed time (rounded down to the source's decimals)."""
    low, high = path_range(bar, 0, offset_ms, tick)
    elapsed = min(max(offset_ms, 0), bar.interval_ms)

    def share(v: Decimal) -> Decimal:
        return (v * elapsed / bar.interval_ms).quantize(_unit(v), rounding=ROUND_DOWN)

    return Bar(
        open_time=bar.open_time,
        open=bar.open,
        high=high,
        low=low,
        close=path_price(bar, offset_ms, tick),
        volume=share(bar.volume),
        quote_volume=share(bar.quote_volume),
        trades=bar.trades * elapsed // bar.interval_ms,
        taker_buy_volume=share(bar.taker_buy_volume),
        taker_buy_quote_volume=share(bar.taker_buy_quote_volume),
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


# --- loading -------------------------------------------------------------------------------------


def _dec(cell: str) -> Decimal:
    return Decimal(cell) if cell.strip() else _ZERO


def load_kline_csv(path: Path) -> list[Bar]:
    """Read a kline CSV (Binance column order, optional header, `.gz` allowed) into bars.

    A missing quote volume is estimated as volume × the bar's OHLC mean (4 decimals); missing trade
    counts and taker volumes are 0. The interval is close_time - open_time + 1 of the first row.
    """
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode() if path.name.endswith(".gz") else raw.decode()
    bars: list[Bar] = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip().isdigit():
            continue  # header or blank line
        o, h, lo, c, v = (Decimal(x) for x in row[1:6])
        quote = _dec(row[7]) if len(row) > 7 else _ZERO
        if quote == 0 and v > 0:
            quote = (v * (o + h + lo + c) / 4).quantize(Decimal("0.0001"))
        bars.append(
            Bar(
                open_time=int(row[0]),
                open=o,
                high=h,
                low=lo,
                close=c,
                volume=v,
                quote_volume=quote,
                trades=int(row[8]) if len(row) > 8 and row[8].strip() else 0,
                taker_buy_volume=_dec(row[9]) if len(row) > 9 else _ZERO,
                taker_buy_quote_volume=_dec(row[10]) if len(row) > 10 else _ZERO,
                interval_ms=int(row[6]) - int(row[0]) + 1,
            )
        )
    if not bars:
        raise ValueError(f"{path}: no kline rows")
    return bars


# --- sources -------------------------------------------------------------------------------------


class MinuteSource(Protocol):
    """A finite series of contiguous 1m bars, indexed from 0."""

    @property
    def minutes(self) -> int: ...

    @property
    def first_open_time(self) -> int: ...

    def minute_bar(self, index: int) -> Bar: ...


class KlineSeries:
    """Real bars of any interval, served as 1m bars (coarse bars split lazily, one cached).

    Gaps in the file are filled with flat, zero-volume bars at the previous close.
    """

    def __init__(self, bars: Sequence[Bar], tick: Decimal) -> None:
        interval = bars[0].interval_ms
        self._tick = tick
        self._per = interval // MINUTE_MS
        self._bars: list[Bar] = []
        for bar in bars:
            while self._bars and bar.open_time > self._bars[-1].open_time + interval:
                prev = self._bars[-1]
                c = prev.close
                self._bars.append(
                    Bar(prev.open_time + interval, c, c, c, c, _ZERO, _ZERO, 0, _ZERO, _ZERO, interval)
                )
            self._bars.append(bar)
        self._cached: tuple[int, list[Bar]] = (-1, [])

    @property
    def minutes(self) -> int:
        return len(self._bars) * self._per

    @property
    def first_open_time(self) -> int:
        return self._bars[0].open_time

    def minute_bar(self, index: int) -> Bar:
        coarse, sub = divmod(index, self._per)
        if self._per == 1:
            return self._bars[coarse]
        if self._cached[0] != coarse:
            self._cached = (coarse, split_bar(self._bars[coarse], self._tick))
        return self._cached[1][sub]


class SyntheticSeries:
    """SYNTHETIC 1m bars (not market data): a seeded geometric random walk in integer ticks.

    Each minute takes 4 steps of a random move of -8..+8 basis points (pulled back toward the base
    price when it strays beyond ×/÷ 2); open/close are the first/last step, high/low the extremes.
    The same (symbol, seed, base price, tick, days) always gives the same bars.
    """

    def __init__(
        self,
        symbol: str,
        seed: int,
        base_price: Decimal,
        tick: Decimal,
        *,
        days: int = 3,
        start_time: int = 0,
    ) -> None:
        self._symbol, self._seed, self._tick, self._days = symbol, seed, tick, days
        self._base_ticks = max(int(base_price / tick), 100)
        self._start = start_time
        self._bars: list[Bar] | None = None  # generated on first use: 500 idle symbols cost nothing

    @property
    def minutes(self) -> int:
        return self._days * 1440

    @property
    def first_open_time(self) -> int:
        return self._start

    def minute_bar(self, index: int) -> Bar:
        if self._bars is None:
            self._bars = list(self._generate())
        return self._bars[index]

    def _generate(self) -> Iterator[Bar]:
        rng = random.Random(f"synthetic:{self._symbol}:{self._seed}")
        base, price, tick = self._base_ticks, self._base_ticks, self._tick
        for i in range(self.minutes):
            steps = [price]
            for _ in range(4):
                pull = -3 if price > 2 * base else 3 if price * 2 < base else 0
                price = max(1, price + price * (rng.randint(-8, 8) + pull) // 10_000)
                steps.append(price)
            volume = Decimal(rng.randint(100, 10_000))
            mean = Decimal(sum(steps)) * tick / len(steps)
            yield Bar(
                open_time=self._start + i * MINUTE_MS,
                open=steps[0] * tick,
                high=max(steps) * tick,
                low=min(steps) * tick,
                close=steps[-1] * tick,
                volume=volume,
                quote_volume=(volume * mean).quantize(Decimal("0.0001")),
                trades=rng.randint(10, 500),
                taker_buy_volume=(volume / 2).quantize(Decimal(1), rounding=ROUND_DOWN),
                taker_buy_quote_volume=(volume * mean / 2).quantize(Decimal("0.0001")),
            )


# --- what the exchange reads of a market ---------------------------------------------------------


class MarketSeries(Protocol):
    """One symbol's market as the exchange and the matching engine read it.

    `Replay` (sim mode, backtests) satisfies it, and so does the live feed of paper mode
    (`simulator/live_feed.py`): one matching engine, whatever the prices come from.
    """

    def price_at(self, now_ms: int) -> Decimal:
        """The trade price at `now_ms` (the engine's mark and fill reference)."""
        ...

    def price_range(self, after_ms: int, until_ms: int) -> tuple[Decimal, Decimal]:
        """(low, high) of the prices traded on (after_ms, until_ms] (resting limit orders)."""
        ...

    def bar(self, open_time: int) -> Bar:
        """The 1m bar opening at `open_time`."""
        ...

    def live_bar(self, now_ms: int) -> Bar:
        """The current minute's bar as it stands at `now_ms`."""
        ...

    def bars(self, first_open: int, last_open: int, now_ms: int) -> list[Bar]:
        """The 1m bars opening in [first_open, last_open] (the current one as it stands at
        `now_ms`), oldest first: what GET /fapi/v1/klines serves. A live feed returns only the
        bars it holds, so the list may be shorter than the range."""
        ...


# --- replay --------------------------------------------------------------------------------------


class Replay:
    """A source shifted by whole days onto the simulation's timeline and looped without end."""

    def __init__(self, source: MinuteSource, tick: Decimal, *, start_ms: int, history_ms: int) -> None:
        self.source = source
        self.tick = tick
        days = (start_ms - history_ms - source.first_open_time) // DAY_MS
        self.shift_ms = days * DAY_MS
        self.origin = source.first_open_time + self.shift_ms  # first replayed minute
        self._seam: tuple[Decimal, Decimal] | None = None  # (ratio, last close), on first loop
        self._cache: dict[int, Bar] = {}

    def bar(self, open_time: int) -> Bar:
        """The 1m bar opening at `open_time` (a multiple of 60 000) on the simulated timeline."""
        cached = self._cache.get(open_time)
        if cached is not None:
            return cached
        loop, index = divmod((open_time - self.origin) // MINUTE_MS, self.source.minutes)
        src = self.source.minute_bar(index)
        if loop == 0:
            bar = Bar(
                open_time,
                src.open,
                src.high,
                src.low,
                src.close,
                src.volume,
                src.quote_volume,
                src.trades,
                src.taker_buy_volume,
                src.taker_buy_quote_volume,
            )
        else:
            ratio, last_close = self._loop_scale()
            scale = ratio**loop
            o = _round(src.open * scale, self.tick)
            if index == 0:  # pin to the previous loop's last close: no jump at the seam
                o = _round(last_close * ratio ** (loop - 1), self.tick)
            h, lo, c = (_round(p * scale, self.tick) for p in (src.high, src.low, src.close))
            bar = Bar(
                open_time,
                o,
                max(h, o),
                min(lo, o),
                c,
                src.volume,
                (src.quote_volume * scale).quantize(Decimal("0.0001")),
                src.trades,
                src.taker_buy_volume,
                (src.taker_buy_quote_volume * scale).quantize(Decimal("0.0001")),
            )
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[open_time] = bar
        return bar

    def _loop_scale(self) -> tuple[Decimal, Decimal]:
        # Lazy: a synthetic source is generated only when something first needs its prices.
        if self._seam is None:
            first, last = self.source.minute_bar(0), self.source.minute_bar(self.source.minutes - 1)
            self._seam = (last.close / first.open, last.close)
        return self._seam

    def price_at(self, now_ms: int) -> Decimal:
        """The path price at `now_ms`."""
        open_time = now_ms - now_ms % MINUTE_MS
        return path_price(self.bar(open_time), now_ms - open_time, self.tick)

    def price_range(self, after_ms: int, until_ms: int) -> tuple[Decimal, Decimal]:
        """(low, high) of the path on (after_ms, until_ms]."""
        lows: list[Decimal] = []
        highs: list[Decimal] = []
        t = after_ms + 1
        while t <= until_ms:
            open_time = t - t % MINUTE_MS
            end = min(until_ms, open_time + MINUTE_MS - 1)
            lo, hi = path_range(self.bar(open_time), t - open_time, end - open_time, self.tick)
            lows.append(lo)
            highs.append(hi)
            t = end + 1
        if not lows:
            p = self.price_at(until_ms)
            return p, p
        return min(lows), max(highs)

    def live_bar(self, now_ms: int) -> Bar:
        """The current minute's bar as it stands at `now_ms` (what a kline update shows)."""
        open_time = now_ms - now_ms % MINUTE_MS
        return partial_bar(self.bar(open_time), now_ms - open_time, self.tick)

    def bars(self, first_open: int, last_open: int, now_ms: int) -> list[Bar]:
        """Every minute of [first_open, last_open]; the current one as it stands at `now_ms`."""
        current = now_ms - now_ms % MINUTE_MS
        return [
            self.live_bar(now_ms) if t == current else self.bar(t)
            for t in range(first_open, last_open + 1, MINUTE_MS)
        ]
