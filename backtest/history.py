"""Stored history (`data import`) into what a backtest runs on: `BarSeries` and a funding schedule.

Candles of the interval asked for are read as stored; for 1m, a symbol with no 1m candles but
coarser ones (the shipped WLDUSDT file holds 3m bars) gets them cut into 1m bars along the
simulator's intra-bar path, as sim mode replays them. A missing candle is filled flat at the
previous close with no volume, as the simulator fills a gap in a kline file; how many were filled
is reported. Funding rates imported from the archive become the matching engine's funding times.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine

from backtest.archive import interval_ms
from backtest.loading import split_to_minutes
from backtest.series import BarSeries, exact
from backtest.store import Columns, read_candles, read_funding, stored
from simulator.bars import MINUTE_MS, Bar
from simulator.kline_files import KlineSeries

_QUOTE = Decimal("0.0001")


@dataclass(slots=True)
class Loaded:
    """The series found, and what was done to them (said to the user)."""

    series: dict[str, BarSeries] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class ImportedFunding:
    """`simulator.funding.FundingSchedule` over imported funding rates: symbol -> {time: rate}."""

    def __init__(self, rates: Mapping[str, Mapping[int, Decimal]]) -> None:
        self._rates = {s: dict(r) for s, r in rates.items() if r}
        self._times = {s: sorted(r) for s, r in self._rates.items()}

    def __bool__(self) -> bool:
        return bool(self._rates)

    def count(self, start_ms: int, end_ms: int) -> int:
        """Funding times in [start_ms, end_ms), all symbols."""
        return sum(1 for times in self._times.values() for t in times if start_ms <= t < end_ms)

    def funding_times(self, symbol: str) -> list[int]:
        """The symbol's funding times, oldest first (empty: the configured schedule applies)."""
        return self._times.get(symbol, [])

    def funding_rate(self, symbol: str, funding_time: int) -> Decimal | None:
        """The rate applied at `funding_time`, if imported."""
        return self._rates.get(symbol, {}).get(funding_time)


def imported_funding(engine: Engine, symbols: Iterable[str]) -> ImportedFunding:
    """The funding rates stored for `symbols`."""
    return ImportedFunding(read_funding(engine, list(symbols)))


_LONG_GAP_MS = 86_400_000  # a day without candles: two different stretches, not a market pause


def _longest_stretch(columns: Columns) -> tuple[Columns, bool]:
    """The longest run of candles without a day-long gap (and whether anything was left out)."""
    times = columns.open_times
    cuts = [0, *(i for i in range(1, len(times)) if times[i] - times[i - 1] > _LONG_GAP_MS), len(times)]
    if len(cuts) == 2:
        return columns, False
    a, b = max(itertools.pairwise(cuts), key=lambda ab: ab[1] - ab[0])
    c = columns
    return Columns(
        c.open_times[a:b], c.opens[a:b], c.highs[a:b], c.lows[a:b], c.closes[a:b],
        c.volumes[a:b], c.quote_volumes[a:b],
    ), True  # fmt: skip


def _filled(columns: Columns, step: int) -> tuple[Columns, int]:
    times = columns.open_times
    if not times or times[-1] - times[0] == (len(times) - 1) * step:
        return columns, 0  # contiguous: the common case, no copy
    out = Columns([], [], [], [], [], [], [])
    for i, t in enumerate(times):
        if out.open_times:
            last, close = out.open_times[-1], out.closes[-1]
            for gap in range(last + step, t, step):
                for target, value in zip(
                    (
                        out.open_times,
                        out.opens,
                        out.highs,
                        out.lows,
                        out.closes,
                        out.volumes,
                        out.quote_volumes,
                    ),
                    (gap, close, close, close, close, 0.0, 0.0),
                    strict=True,
                ):
                    target.append(value)  # type: ignore[attr-defined]
        out.open_times.append(t)
        out.opens.append(columns.opens[i])
        out.highs.append(columns.highs[i])
        out.lows.append(columns.lows[i])
        out.closes.append(columns.closes[i])
        out.volumes.append(columns.volumes[i])
        out.quote_volumes.append(columns.quote_volumes[i])
    return out, len(out.open_times) - len(times)


def _bars(columns: Columns, step: int) -> list[Bar]:
    out = []
    for i, t in enumerate(columns.open_times):
        o, h, lo, c, v = (
            exact(x[i]) for x in (columns.opens, columns.highs, columns.lows, columns.closes, columns.volumes)
        )
        quote = exact(columns.quote_volumes[i])
        if quote == 0 and v > 0:  # as simulator.kline_files estimates a missing quote volume
            quote = (v * (o + h + lo + c) / 4).quantize(_QUOTE)
        out.append(Bar(t, o, h, lo, c, v, quote, 0, Decimal(0), Decimal(0), step))
    return out


def load_stored(
    engine: Engine,
    symbols: Iterable[str],
    ticks: Mapping[str, Decimal],
    interval: str = "1m",
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Loaded:
    """`symbols`' stored candles of `interval` in [start_ms, end_ms) (see the module docstring)."""
    step = interval_ms(interval)
    held: dict[str, list[str]] = {}
    for s in stored(engine):
        held.setdefault(s.symbol, []).append(s.interval)
    loaded = Loaded()
    for symbol in symbols:
        intervals = held.get(symbol, [])
        candidates = [interval] if interval in intervals else []
        if step == MINUTE_MS:  # coarser candles can be cut into minutes
            candidates += [i for i in intervals if i != interval and interval_ms(i) % MINUTE_MS == 0]
        # Of what is stored, the interval that covers the most of the window: a database the
        # daemon wrote a few hours of 1m candles into still backtests the imported months of 3m.
        best: tuple[int, str, Columns] | None = None
        for candidate in candidates:
            candidate_ms = interval_ms(candidate)
            # A coarse bar that starts before `start_ms` still holds minutes inside the window.
            first = None if start_ms is None else start_ms - candidate_ms + 1
            found = read_candles(engine, symbol, candidate, first, end_ms)
            covered = len(found.open_times) * candidate_ms
            if found.open_times and (best is None or covered > best[0]):
                best = (covered, candidate, found)
        if best is None:
            continue
        _, source, columns = best
        source_ms = interval_ms(source)
        if start_ms is None and end_ms is None:
            # No period asked for: stretches months apart (imported history, a few hours the
            # daemon stored) are not one market; the longest is backtested, not years filled flat.
            columns, cut = _longest_stretch(columns)
            if cut:
                loaded.notes.append(
                    f"{symbol}: its stored {source} candles have gaps over a day; the longest stretch is "
                    "used (--start / --end choose another)"
                )
        columns, gaps = _filled(columns, source_ms)
        if gaps:
            loaded.notes.append(
                f"{symbol}: {gaps:,} missing {source} candles filled flat at the previous close"
            )
        if source_ms == step:
            series = BarSeries(symbol, step, ticks[symbol], *_columns_of(columns))
        else:
            series = split_to_minutes(
                symbol, ticks[symbol], KlineSeries(_bars(columns, source_ms), ticks[symbol])
            )
            loaded.notes.append(f"{symbol}: {source} candles cut into 1m bars along the simulator's path")
        loaded.series[symbol] = series.window(start_ms, end_ms)
    return loaded


def _columns_of(
    c: Columns,
) -> tuple[list[int], list[float], list[float], list[float], list[float], list[float], list[float]]:
    return c.open_times, c.opens, c.highs, c.lows, c.closes, c.volumes, c.quote_volumes


__all__ = ["ImportedFunding", "Loaded", "imported_funding", "load_stored"]
