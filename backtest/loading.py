"""Kline files and stored candles into `BarSeries`.

Files in Binance's kline CSV layout (with or without a header, `.csv` or `.csv.gz`) are read with
numpy's C parser into float columns. A file of coarser bars (3m, 1h, ...) is cut into 1m bars along
the intra-bar path by the simulator's own code (`simulator.kline_files.KlineSeries`), so a backtest
on 1m sees exactly the 1m bars sim mode replays; `interval_ms` keeps the file's bars instead.
"""

from __future__ import annotations

import gzip
import re
from array import array
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from backtest.series import BarSeries
from simulator.bars import MINUTE_MS
from simulator.kline_files import KlineSeries, load_kline_csv

_SYMBOL = re.compile(r"^([A-Z0-9]{2,20}?(?:USDT|USDC))(?:[_-].*)?\.csv(?:\.gz)?$")


class DataError(ValueError):
    """History that cannot be backtested on: one line naming the file and the problem."""


def symbol_of(path: Path) -> str | None:
    """The symbol a kline file's name starts with (`WLDUSDT_PERP_3m_...csv`, `BTCUSDT-1m-...csv`)."""
    match = _SYMBOL.match(path.name)
    return match.group(1) if match else None


def _first_char(path: Path) -> str:
    with gzip.open(path, "rt") if path.name.endswith(".gz") else path.open() as f:
        return f.readline().lstrip()[:1]


def load_kline_file(
    path: Path, symbol: str, tick: Decimal, *, interval_ms: int | None = MINUTE_MS
) -> BarSeries:
    """One kline file as a series of `interval_ms` bars (None: the file's own interval)."""
    skip = 0 if _first_char(path).isdigit() else 1  # a header line
    try:
        # numpy reads the file itself (and .gz): no copy of the whole text in memory
        table = np.loadtxt(path, delimiter=",", usecols=(0, 1, 2, 3, 4, 5, 6), skiprows=skip, ndmin=2)
    except ValueError as exc:
        raise DataError(
            f"{path}: not a kline CSV ({exc}); run `python -m trader data import {path}` "
            "for the line and column at fault"
        ) from None
    if len(table) == 0:
        raise DataError(f"{path}: no kline rows")
    file_interval = int(table[0, 6]) - int(table[0, 0]) + 1
    wanted = file_interval if interval_ms is None else interval_ms
    if wanted == file_interval:
        return _from_columns(symbol, file_interval, tick, table)
    if wanted != MINUTE_MS or file_interval % MINUTE_MS:
        raise DataError(
            f"{path}: holds {file_interval // MINUTE_MS}m bars; only 1m or the file's own "
            "interval can be backtested"
        )
    return split_to_minutes(symbol, tick, KlineSeries(load_kline_csv(path), tick))


def _from_columns(symbol: str, interval_ms: int, tick: Decimal, table: np.ndarray) -> BarSeries:
    return BarSeries(
        symbol,
        interval_ms,
        tick,
        _typed(table[:, 0].astype(np.int64), "q"),
        _typed(table[:, 1], "d"),
        _typed(table[:, 2], "d"),
        _typed(table[:, 3], "d"),
        _typed(table[:, 4], "d"),
        _typed(table[:, 5], "d"),
    )


def _typed(values: np.ndarray, code: str) -> array[Any]:
    """A numpy column as a typed array (8 bytes a value; a list of Python floats takes 32)."""
    out: array[Any] = array(code)
    out.frombytes(np.ascontiguousarray(values).tobytes())
    return out


def split_to_minutes(symbol: str, tick: Decimal, source: KlineSeries) -> BarSeries:
    """Every 1m bar of a (possibly coarser) kline series, as sim mode replays them."""
    n = source.minutes
    cols: tuple[list[int], list[float], list[float], list[float], list[float], list[float], list[float]] = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    for i in range(n):
        bar = source.minute_bar(i)
        cols[0].append(source.first_open_time + i * MINUTE_MS)
        cols[1].append(float(bar.open))
        cols[2].append(float(bar.high))
        cols[3].append(float(bar.low))
        cols[4].append(float(bar.close))
        cols[5].append(float(bar.volume))
        cols[6].append(float(bar.quote_volume))
    return BarSeries(symbol, MINUTE_MS, tick, *cols)


def load_files(
    paths: Sequence[Path], ticks: dict[str, Decimal], *, interval_ms: int | None = MINUTE_MS
) -> dict[str, BarSeries]:
    """Every kline file of `paths` (folders are searched for `*.csv` / `*.csv.gz`) by symbol."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.name.endswith((".csv", ".csv.gz"))))
        elif path.exists():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    out: dict[str, BarSeries] = {}
    for path in files:
        symbol = symbol_of(path)
        if symbol is None:
            continue
        if symbol not in ticks:
            raise DataError(f"{path}: {symbol} is not in the exchange info (no tick size to trade it with)")
        if symbol in out:
            raise DataError(f"{path}: a second file for {symbol}; import them (`data import`) to merge")
        out[symbol] = load_kline_file(path, symbol, ticks[symbol], interval_ms=interval_ms)
    return out
