"""A data directory's markets: exchange_info.json plus every klines/* file as a replay, and
seeded SYNTHETIC markets for the symbols asked for (what `SimulatedExchange.from_data` loads)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulator.bars import DAY_MS
from simulator.exchange_info import instruments_of, load_exchange_info, with_synthetic_symbols
from simulator.kline_files import KlineSeries, load_kline_csv
from simulator.many_symbols import ScaledSource, many_symbols_doc
from simulator.replay import Replay
from simulator.synthetic import SyntheticSeries

# Base prices of SYNTHETIC markets for symbols we know; others get a seeded price in 0.1 .. 10.
SYNTHETIC_BASE_PRICES = {
    "BTCUSDT": Decimal("60000"),
    "ETHUSDT": Decimal("3000"),
    "BNBUSDT": Decimal("500"),
    "SOLUSDT": Decimal("150"),
    "XRPUSDT": Decimal("0.5"),
    "DOGEUSDT": Decimal("0.1"),
    "LINKUSDT": Decimal("15"),
}
_KLINE_FILE = re.compile(r"^([A-Z0-9]+?)(?:_PERP)?_(\d+[mh])_.*\.csv(\.gz)?$")


def replayable_symbols(data_dir: Path) -> set[str]:
    """Symbols with a kline file under `data_dir`/klines (real data to replay)."""
    names = (_KLINE_FILE.match(p.name) for p in (data_dir / "klines").iterdir())
    return {m.group(1) for m in names if m is not None}


def listed_symbols(data_dir: Path) -> set[str]:
    """Every symbol of `data_dir`/exchange_info.json."""
    return {str(s["symbol"]) for s in load_exchange_info(data_dir / "exchange_info.json")["symbols"]}


def load_markets(
    data_dir: Path,
    *,
    start_ms: int,
    symbols: Sequence[str] | None = None,
    synthetic_symbols: Sequence[str] = (),
    seed: int = 0,
    history_days: int = 2,
    count: int | None = None,
) -> tuple[dict[str, Any], dict[str, Replay]]:
    """The exchangeInfo document (SYNTHETIC symbols added) and a replay per symbol, `history_days`
    of bars before `start_ms` (parameters as `SimulatedExchange.from_data`). With `count`, the
    first `count` symbols of `simulator/many_symbols.py` instead, each one replayed."""
    if count is not None:
        return _many_markets(data_dir, count, start_ms=start_ms, history_ms=history_days * DAY_MS)
    doc = with_synthetic_symbols(
        load_exchange_info(data_dir / "exchange_info.json"), list(synthetic_symbols)
    )
    instruments = instruments_of(doc)
    history_ms = history_days * DAY_MS
    replays: dict[str, Replay] = {}
    for path in sorted((data_dir / "klines").iterdir()):
        match = _KLINE_FILE.match(path.name)
        if match is None or match.group(1) not in instruments:
            continue
        symbol = match.group(1)
        if (symbols is not None and symbol not in symbols) or symbol in replays:
            continue
        tick = instruments[symbol].tick_size
        replays[symbol] = Replay(
            KlineSeries(load_kline_csv(path), tick), tick, start_ms=start_ms, history_ms=history_ms
        )
    for symbol in synthetic_symbols:
        tick = instruments[symbol].tick_size
        base = (
            SYNTHETIC_BASE_PRICES.get(symbol)
            or Decimal(1 + zlib.crc32(f"{seed}:{symbol}".encode()) % 100) / 10
        )
        series = SyntheticSeries(symbol, seed, base, tick, start_time=start_ms - history_ms)
        replays[symbol] = Replay(series, tick, start_ms=start_ms, history_ms=history_ms)
    return doc, replays


def _many_markets(
    data_dir: Path, count: int, *, start_ms: int, history_ms: int
) -> tuple[dict[str, Any], dict[str, Replay]]:
    doc = many_symbols_doc(data_dir, count)
    instruments = instruments_of(doc)
    own: dict[str, Path] = {}
    for path in sorted((data_dir / "klines").iterdir()):
        match = _KLINE_FILE.match(path.name)
        if match is not None:
            own.setdefault(match.group(1), path)
    series = {sym: KlineSeries(load_kline_csv(p), instruments[sym].tick_size if sym in instruments
                               else Decimal("0.0001")) for sym, p in own.items()}
    sources = sorted(series.values(), key=lambda s: -s.minutes)
    replays: dict[str, Replay] = {}
    for index, entry in enumerate(doc["symbols"]):
        symbol = entry["symbol"]
        tick = instruments[symbol].tick_size
        source = series[symbol] if symbol in series else ScaledSource.for_symbol(index, sources, entry)
        replays[symbol] = Replay(source, tick, start_ms=start_ms, history_ms=history_ms)
    return doc, replays
