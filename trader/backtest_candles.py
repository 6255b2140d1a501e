"""Where `python -m trader backtest` gets its candles and funding: the database, or files.

Without `--data` the candles are read from the database (`data import` fills it). On first use —
no candles stored for any symbol asked for — the shipped kline files (the config's
`simulator.data/klines`) are imported, and the command says so. Funding rates imported from the
archive are charged at their funding times; without them a flat `--funding-rate` is, or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from backtest.history import ImportedFunding
from backtest.series import BarSeries


@dataclass(slots=True)
class Candles:
    """The series to backtest, the funding schedule (None: flat or none) and what to tell the user."""

    series: dict[str, BarSeries]
    funding: ImportedFunding | None = None
    said: list[str] = field(default_factory=list)


def from_database(
    url: str,
    shipped: Path,
    symbols: Sequence[str],
    ticks: dict[str, Decimal],
    interval: str,
    start_ms: int | None,
    end_ms: int | None,
) -> Candles:
    """The stored candles (importing `shipped` first when none of `symbols` has any)."""
    from backtest.history import imported_funding, load_stored
    from backtest.importing import import_paths
    from backtest.store import stored
    from config.settings import redact_database_url
    from database.engine import make_engine
    from database.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    shown = redact_database_url(url)
    try:
        said = []
        if not {s.symbol for s in stored(engine)} & set(symbols) and _ships(shipped, symbols):
            done = import_paths(engine, [shipped])
            held = ", ".join(f"{s} {n:,} {i}" for (s, i), n in sorted(done.rows.items()))
            said.append(
                f"first use: imported the shipped candles ({held}) from {shipped} into {shown}; "
                "`python -m trader data import` adds more"
            )
        loaded = load_stored(engine, symbols, ticks, interval, start_ms=start_ms, end_ms=end_ms)
        series = {s: v for s, v in loaded.series.items() if len(v) > 1}
        if series:
            counts = ", ".join(f"{s} {len(v):,}" for s, v in sorted(series.items()))
            said.append(f"candles ({interval}) from {shown}: {counts}")
        said.extend(loaded.notes)
        funding = imported_funding(engine, series)
        start = min((v.first_open_time for v in series.values()), default=0)
        end = max((v.end_time for v in series.values()), default=0)
        return Candles(series, funding if funding.count(start, end) else None, said)
    finally:
        engine.dispose()


def _ships(shipped: Path, symbols: Sequence[str]) -> bool:
    """Whether the shipped folder has a file for one of `symbols` (else importing it cannot help)."""
    from backtest.archive import ArchiveError, describe
    from backtest.importing import input_files

    try:
        return any(describe(path, None, None).symbol in symbols for path in input_files([shipped]))
    except ArchiveError:
        return False


__all__ = ["Candles", "from_database"]
