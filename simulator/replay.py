"""Replay: a finite series of 1m bars moved onto the simulation's timeline and looped without end.

Time shifting and looping
    The source series is moved by a whole number of days so that it starts at least `history_ms`
    before the simulation's start (time of day preserved). Past its end it loops; loop k multiplies
    every price by (last close / first open)^k, rounded to the tick, and the first open of each loop
    is pinned to the previous loop's last close, so prices stay continuous. Volumes are unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from simulator.bars import (
    DAY_MS,
    MINUTE_MS,
    Bar,
    VolumeUnits,
    partial_bar,
    path_price,
    path_range,
    round_to_tick,
    volume_units,
)


class MinuteSource(Protocol):
    """A finite series of contiguous 1m bars, indexed from 0."""

    @property
    def minutes(self) -> int: ...

    @property
    def first_open_time(self) -> int: ...

    def minute_bar(self, index: int) -> Bar: ...


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
        self._live_units: tuple[int, VolumeUnits] | None = None  # the current minute's, for live_bar

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
            o = round_to_tick(src.open * scale, self.tick)
            if index == 0:  # pin to the previous loop's last close: no jump at the seam
                o = round_to_tick(last_close * ratio ** (loop - 1), self.tick)
            h, lo, c = (round_to_tick(p * scale, self.tick) for p in (src.high, src.low, src.close))
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
        if self._live_units is None or self._live_units[0] != open_time:
            self._live_units = (open_time, volume_units(self.bar(open_time)))
        return partial_bar(self.bar(open_time), now_ms - open_time, self.tick, self._live_units[1])

    def bars(self, first_open: int, last_open: int, now_ms: int) -> list[Bar]:
        """Every minute of [first_open, last_open]; the current one as it stands at `now_ms`."""
        current = now_ms - now_ms % MINUTE_MS
        return [
            self.live_bar(now_ms) if t == current else self.bar(t)
            for t in range(first_open, last_open + 1, MINUTE_MS)
        ]
