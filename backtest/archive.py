"""Binance's public data archive read row by row, every value checked: klines and funding rates.

Layouts read: kline CSV (`open_time,open,high,low,close,volume,close_time,quote_volume,count,...`)
with or without a header, plain, `.gz`, or zipped as the archive serves it (daily `BTCUSDT-1m-2024-
01-01.zip`, monthly `BTCUSDT-1m-2024-01.zip`), a zip verified against the `.CHECKSUM` file beside it
when there is one; and funding-rate files (`calc_time,funding_interval_hours,last_funding_rate`).

Rows come out in batches of storable tuples (prices as canonical decimal text). A bad row ends the
file with an `ArchiveError` naming file, line, column and the fault — after the rows before it were
handed out, so what came before can be stored and a re-run after the fix completes the rest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BATCH = 50_000
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_N = r"((?:0|[1-9]\d*)(?:\.\d+)?)"
# A well-formed kline line in one match (the fast path); anything else is checked cell by cell.
_KLINE = re.compile(rf"(\d{{1,13}}),{_N},{_N},{_N},{_N},{_N},(\d{{1,13}})(?:,{_N}?(?:,(\d*)(?:,.*)?)?)?\s*")
_SYMBOL = re.compile(r"^([A-Z0-9]{2,30}?)(?:[_-]|\.csv|\.zip)")
_INTERVAL = re.compile(r"^\d+[smhdwM]$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
KLINE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count")
FUNDING_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")

Candle = tuple[str, int, int, str, str, str, str, str, str, int]  # symbol, open, close time, OHLCV, quote, n
Funding = tuple[str, int, int, str]  # symbol, funding time, interval hours, rate


class ArchiveError(ValueError):
    """A file that cannot be imported: one line naming the file (and line, column) and the fault."""


def interval_ms(label: str) -> int:
    """Milliseconds of an interval label (1m, 3m, 1h, 1d, 1w); ValueError for anything else."""
    if not _INTERVAL.match(label) or label.endswith("M"):
        raise ValueError(f"expected an interval like 1m, 5m, 1h, 1d, got {label!r}")
    return int(label[:-1]) * _UNIT_MS[label[-1]]


def interval_label(ms: int) -> str:
    """The archive's label of an interval in milliseconds (60000 -> 1m, 3600000 -> 1h)."""
    for unit in ("w", "d", "h", "m", "s"):
        if ms % _UNIT_MS[unit] == 0:
            return f"{ms // _UNIT_MS[unit]}{unit}"
    raise ValueError(f"{ms} ms is not an interval")


def _short(text: str) -> str:
    """`canonical` of a cell the fast path matched (no sign, no leading zero): trailing zeros dropped."""
    if "." in text:
        text = text.rstrip("0")
        if text[-1] == ".":
            return text[:-1]
    return text


def canonical(text: str) -> str:
    """A decimal string as Money stores it on SQLite: no trailing zeros, no leading zeros, no -0."""
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    text = text.lstrip("0") or "0"
    if text.startswith("."):
        text = "0" + text
    return "0" if text == "0" else sign + text


@dataclass(frozen=True, slots=True)
class Source:
    """One input file: its name for messages, symbol, kind ("klines"/"funding") and interval label."""

    path: Path
    symbol: str
    kind: str
    interval: str | None  # from the name or --interval; checked against the rows


def describe(path: Path, symbol: str | None, interval: str | None) -> Source:
    """What `path` holds, from its name and the options (the rows are checked when read)."""
    name = path.name
    if symbol is None:
        match = _SYMBOL.match(name)
        if match is None:
            raise ArchiveError(f"{path}: no symbol in the file name; give it with --symbol BTCUSDT")
        symbol = match.group(1)
    tokens = re.split(r"[_\-.]", name)
    kind = "funding" if any(t.lower() == "fundingrate" for t in tokens) else "klines"
    if interval is None:
        interval = next((t for t in tokens if _INTERVAL.match(t) and not t.endswith("M")), None)
    return Source(path, symbol.upper(), kind, interval)


def _verify_checksum(path: Path) -> None:
    checksum = path.with_name(path.name + ".CHECKSUM")
    if not checksum.exists():
        return
    expected = checksum.read_text().split()[0].lower() if checksum.read_text().split() else ""
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise ArchiveError(
            f"{path}: SHA-256 {actual[:16]}... does not match {checksum.name} ({expected[:16]}...): "
            "the download is damaged, fetch it again"
        )


def lines(path: Path) -> Iterator[str]:
    """The text lines of a `.csv`, `.csv.gz` or archive `.zip` (checksum verified first)."""
    if path.name.endswith(".zip"):
        _verify_checksum(path)
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise ArchiveError(f"{path}: not a zip file (damaged download?)") from None
        with archive:
            members = [m for m in archive.namelist() if m.endswith(".csv")]
            if len(members) != 1:
                raise ArchiveError(f"{path}: expected one CSV inside, found {len(members)}")
            with archive.open(members[0]) as raw:
                yield from io.TextIOWrapper(raw, encoding="utf-8")
        return
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from handle
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{path}: cannot be read ({exc})") from None


def _fault(source: Source, number: int, column: int, names: tuple[str, ...], what: str) -> ArchiveError:
    name = names[column] if column < len(names) else f"#{column + 1}"
    return ArchiveError(f"{source.path}: line {number}, column {column + 1} ({name}): {what}")


def _number(cell: str, source: Source, number: int, column: int, names: tuple[str, ...]) -> str:
    cell = cell.strip()
    if not _NUMBER.fullmatch(cell):
        raise _fault(source, number, column, names, f"{cell!r} is not a number")
    return canonical(cell)


def _time(cell: str, source: Source, number: int, column: int, names: tuple[str, ...]) -> int:
    cell = cell.strip()
    if not cell.isdigit():
        raise _fault(source, number, column, names, f"{cell!r} is not a time in epoch milliseconds")
    value = int(cell)
    return value // 1000 if value >= 10**14 else value  # the archive's newer files use microseconds


def read_klines(source: Source, rows: Iterator[str]) -> Iterator[list[Candle]]:
    """Batches of checked candles; an `ArchiveError` after the rows before a bad one."""
    batch: list[Candle] = []
    step: int | None = interval_ms(source.interval) if source.interval else None
    names = KLINE_COLUMNS
    for number, line in enumerate(rows, start=1):
        fast = _KLINE.fullmatch(line)
        if fast is not None:
            t, o, h, lo, c, v, end, quote, count = fast.groups()
            ti, ei = int(t), int(end)
            if step is None:
                step = ei - ti + 1
            fo, fc = float(o), float(c)
            if ei - ti + 1 == step and float(lo) <= min(fo, fc) and max(fo, fc) <= float(h):
                batch.append(
                    (source.symbol, ti, ei, _short(o), _short(h), _short(lo), _short(c), _short(v),
                     _short(quote) if quote else "0", int(count) if count else 0)
                )  # fmt: skip
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
                continue
        line = line.strip()
        if not line or (number == 1 and not line[0].isdigit()):
            continue  # a blank line, or the header
        try:
            cells = line.split(",")
            if len(cells) < 7:
                raise _fault(
                    source, number, len(cells), names, f"missing: {len(cells)} columns, a kline has 12"
                )
            t = _time(cells[0], source, number, 0, names)
            o, h, lo, c, v = (_number(cells[i], source, number, i, names) for i in range(1, 6))
            for column, value in enumerate((o, h, lo, c, v), start=1):
                if value.startswith("-"):
                    raise _fault(source, number, column, names, f"{value} is negative")
            end = _time(cells[6], source, number, 6, names)
            if step is None:
                step = end - t + 1
            if end - t + 1 != step:
                raise _fault(
                    source,
                    number,
                    6,
                    names,
                    f"{end} does not close a {interval_label(step)} candle opened at {t}",
                )
            fh, fl = float(h), float(lo)
            if not fl <= min(float(o), float(c)) <= max(float(o), float(c)) <= fh:
                raise _fault(
                    source, number, 2, names, f"high {h} / low {lo} do not contain open {o} and close {c}"
                )
            quote = (
                _number(cells[7], source, number, 7, names) if len(cells) > 7 and cells[7].strip() else "0"
            )
            count = cells[8].strip() if len(cells) > 8 else ""
            if count and not count.isdigit():
                raise _fault(source, number, 8, names, f"{count!r} is not a trade count")
        except ArchiveError:
            if batch:
                yield batch
            raise
        batch.append((source.symbol, t, end, o, h, lo, c, v, quote, int(count or 0)))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def read_funding(source: Source, rows: Iterator[str]) -> Iterator[list[Funding]]:
    """Batches of checked funding rates; an `ArchiveError` after the rows before a bad one."""
    batch: list[Funding] = []
    names = FUNDING_COLUMNS
    for number, line in enumerate(rows, start=1):
        line = line.strip()
        if not line or (number == 1 and not line[0].isdigit()):
            continue
        try:
            cells = line.split(",")
            if len(cells) != 3:
                raise _fault(source, number, min(len(cells), 3), names, f"{len(cells)} columns, expected 3")
            t = _time(cells[0], source, number, 0, names)
            hours = cells[1].strip()
            if not hours.isdigit() or int(hours) == 0:
                raise _fault(source, number, 1, names, f"{hours!r} is not a number of hours")
            rate = _number(cells[2], source, number, 2, names)
        except ArchiveError:
            if batch:
                yield batch
            raise
        batch.append((source.symbol, t, int(hours), rate))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = [
    "ArchiveError",
    "Candle",
    "Funding",
    "Source",
    "canonical",
    "describe",
    "interval_label",
    "interval_ms",
    "lines",
    "read_funding",
    "read_klines",
]
