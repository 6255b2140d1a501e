"""Real kline files: a Binance-format CSV read into exact bars, served as 1m bars.

A file of coarser bars (3m, 1h, ...) is split into 1m bars along the intra-bar path
(`simulator/bars.py`, "Coarser files"); gaps are filled with flat, zero-volume bars.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from simulator.bars import MINUTE_MS, Bar, split_bar

_ZERO = Decimal(0)


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
