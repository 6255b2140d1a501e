"""`data import`: archive files (backtest/archive.py) into the database (backtest/store.py).

Files are imported in name order, each in batches that are committed as they come: a bad row stops
the import with its one-line error, and every batch before it (also the part of the file before the
bad row) is stored. Importing a file again, or an overlapping range, stores each candle once.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from backtest.archive import ArchiveError, Source, describe, interval_label, lines, read_funding, read_klines
from backtest.store import put_candles, put_funding

_SUFFIXES = (".csv", ".csv.gz", ".zip")
Advance = Callable[[int], None]  # bytes of input read since the last call


@dataclass(slots=True)
class Imported:
    """What an import stored: rows per (symbol, interval or "funding") and files read."""

    files: int = 0
    rows: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, symbol: str, what: str, count: int) -> None:
        """Count `count` rows of `symbol`'s `what`."""
        self.rows[(symbol, what)] = self.rows.get((symbol, what), 0) + count

    @property
    def total(self) -> int:
        """Rows stored, all kinds."""
        return sum(self.rows.values())


def input_files(paths: Sequence[Path]) -> list[Path]:
    """The files to import: the paths given, folders searched (not recursively) for archive files."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.name.endswith(_SUFFIXES)))
        elif path.is_file():
            out.append(path)
        else:
            raise ArchiveError(f"{path}: no such file or folder")
    return out


def text_size(path: Path) -> int:
    """The uncompressed size of a file (for the progress bar; gzip's is modulo 4 GiB)."""
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                return sum(i.file_size for i in archive.infolist())
        if path.name.endswith(".gz"):
            with path.open("rb") as handle:
                handle.seek(-4, 2)
                return int(struct.unpack("<I", handle.read(4))[0])
        return path.stat().st_size
    except (OSError, zipfile.BadZipFile, struct.error):
        return path.stat().st_size


def _counted(rows: Iterator[str], advance: Advance | None) -> Iterator[str]:
    pending = 0
    for line in rows:
        pending += len(line)
        if pending > 1_000_000 and advance is not None:
            advance(pending)
            pending = 0
        yield line
    if advance is not None:
        advance(pending)


def import_file(engine: Engine, source: Source, done: Imported, advance: Advance | None = None) -> None:
    """Store one file's rows, batch by batch (see the module docstring)."""
    rows = _counted(lines(source.path), advance)
    if source.kind == "funding":
        for funding in read_funding(source, rows):
            put_funding(engine, funding)
            done.add(source.symbol, "funding", len(funding))
        return
    for candles in read_klines(source, rows):
        interval = interval_label(candles[0][2] - candles[0][1] + 1)
        put_candles(engine, interval, candles)
        done.add(source.symbol, interval, len(candles))


def import_paths(
    engine: Engine,
    paths: Sequence[Path],
    *,
    symbol: str | None = None,
    interval: str | None = None,
    advance: Advance | None = None,
    done: Imported | None = None,
) -> Imported:
    """Import every file of `paths`; raises `ArchiveError` at the first bad file or row."""
    done = done if done is not None else Imported()
    for path in input_files(paths):
        import_file(engine, describe(path, symbol, interval), done, advance)
        done.files += 1
    return done


__all__ = ["Imported", "import_file", "import_paths", "input_files", "text_size"]
