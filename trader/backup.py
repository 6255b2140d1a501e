"""Backups of the SQLite database while the daemon writes, and their restore.

A backup is SQLite's online backup API in one step: one read transaction, so the copy is the
database as it was at one instant, and in WAL mode the daemon's writes go on meanwhile. It is
written to a `.partial` file, checked with `PRAGMA integrity_check`, synced, and only then given
its final name `<database>-<UTC time>.db`; the oldest backups beyond `keep` are then removed.

A restore never loses data: the database it replaces is first saved beside it
(`<file>.before-restore-<time>`), the backup is copied in through the same API (so a reader such
as the dashboard sees one switch), checked again, and migrated to this code's schema.
PostgreSQL has its own module (`trader/backup_postgres.py`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.errors import TraderError

SQLITE_SUFFIX = ".db"
_STAMP = "%Y%m%dT%H%M%S"
_NAME = re.compile(r"^(?P<stem>.+)-(?P<time>\d{8}T\d{6}\.\d{3}Z)(?P<suffix>\.[a-z]+)$")
COUNTED_TABLES = ("orders", "fills", "positions")


class BackupError(TraderError):
    """A backup or restore that cannot be done; the message is the one line the user sees."""


@dataclass(frozen=True)
class Contents:
    """What a database file holds, as checked after copying it."""

    integrity: str
    revision: str | None
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """`integrity ok, schema 0001_initial, 12 orders, 30 fills, 2 positions`."""
        parts = [f"integrity {self.integrity}", f"schema {self.revision or 'none'}"]
        parts += [f"{n:,} {table}" for table, n in self.counts.items()]
        return ", ".join(parts)


@dataclass(frozen=True)
class BackupResult:
    """A finished, verified backup, and the older ones it removed."""

    path: Path
    size: int
    contents: Contents | None
    seconds: float
    removed: list[Path] = field(default_factory=list)


def backup_name(stem: str, suffix: str, now: datetime | None = None) -> str:
    """`<stem>-20261204T153012.123Z<suffix>`: sorts by time, tells which database it is of."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{stem}-{moment.strftime(_STAMP)}.{moment.microsecond // 1000:03d}Z{suffix}"


def backups_of(folder: Path, stem: str, suffix: str) -> list[Path]:
    """The backups of database `stem` in `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and match["stem"] == stem and match["suffix"] == suffix and path.is_file():
            found.append((match["time"], path))
    return [path for _, path in sorted(found)]


def prune(folder: Path, stem: str, suffix: str, keep: int) -> list[Path]:
    """Remove all but the newest `keep` backups of `stem` (keep 0: remove nothing); the removed."""
    if keep <= 0:
        return []
    old = backups_of(folder, stem, suffix)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


@contextlib.contextmanager
def _connect(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    if read_only:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    else:
        connection = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def inspect(path: Path) -> Contents:
    """Integrity, schema revision and row counts of a SQLite file (read-only)."""
    try:
        with _connect(path, read_only=True) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
            integrity = "ok" if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:5])
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            revision = None
            if "alembic_version" in tables:
                row = db.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
            counts = {t: int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
                      for t in COUNTED_TABLES if t in tables}  # fmt: skip
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a readable SQLite database ({exc})") from None
    return Contents(integrity, revision, counts)


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, *, single_file: bool = False) -> None:
    # pages=-1: the whole copy in one step, inside one read transaction of the source. A stepwise
    # copy restarts whenever another process writes, which a busy daemon would do forever.
    source.backup(target, pages=-1)
    if single_file:
        # The copy inherits WAL mode from the header; a backup should be one self-contained file.
        target.execute("PRAGMA journal_mode=DELETE")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_sqlite(database: Path, folder: Path, *, keep: int, now: datetime | None = None) -> BackupResult:
    """Copy `database` into `folder` while it may be written, verify it, prune to `keep`."""
    if not database.is_file():
        raise BackupError(f"{database}: no such database file (check TRADER_DATABASE_URL)")
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / backup_name(database.stem, SQLITE_SUFFIX, now)
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(database) as source, _connect(partial) as target:
            _copy(source, target, single_file=True)
        contents = inspect(partial)
        if contents.integrity != "ok":
            raise BackupError(f"{final.name}: integrity check failed: {contents.integrity}")
        _fsync(partial)
        os.replace(partial, final)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {database} failed: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    removed = prune(folder, database.stem, SQLITE_SUFFIX, keep)
    return BackupResult(final, final.stat().st_size, contents, time.monotonic() - started, removed)


@dataclass(frozen=True)
class RestoreResult:
    """A restore: what was put in place, and where the replaced database was saved."""

    target: Path
    saved: Path | None
    before: Contents
    after: Contents | None = None


def restore_sqlite(
    backup: Path, database: Path, *, save_to: Path | None = None, now: datetime | None = None
) -> RestoreResult:
    """Put `backup` in place of `database`, saved first into `save_to` (default: beside it)."""
    if not backup.is_file():
        raise BackupError(f"{backup}: no such file")
    if backup.resolve() == database.resolve():
        raise BackupError(f"{backup} is the database itself")
    before = inspect(backup)
    if before.integrity != "ok":
        raise BackupError(f"{backup}: integrity check failed ({before.integrity}); not restored")
    if before.revision is None:
        raise BackupError(f"{backup}: not a trader database (no schema revision); not restored")
    saved = None
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        if database.exists():
            folder = save_to if save_to is not None else database.parent
            folder.mkdir(parents=True, exist_ok=True)
            saved = folder / backup_name(f"{database.name}.before-restore", "", now)
            with _connect(database) as current, _connect(saved) as copy:
                _copy(current, copy, single_file=True)
        with _connect(backup, read_only=True) as source, _connect(database) as target:
            _copy(source, target)
    except sqlite3.Error as exc:
        raise BackupError(f"restore into {database} failed: {exc}") from None
    after = inspect(database)
    if after.integrity != "ok":
        raise BackupError(f"{database}: integrity check failed after the restore: {after.integrity}")
    return RestoreResult(database, saved, before, after)


__all__ = [
    "BackupError",
    "BackupResult",
    "Contents",
    "RestoreResult",
    "backup_name",
    "backup_sqlite",
    "backups_of",
    "inspect",
    "prune",
    "restore_sqlite",
]
