"""Read-only database engines: the dashboard can look at the daemon's database and never change it.

SQLite is opened through a `mode=ro` URI (the file is never created, its journal mode never touched)
with `PRAGMA query_only` on top; PostgreSQL sessions start with `default_transaction_read_only=on`,
so every transaction is READ ONLY, and a statement timeout keeps a slow query from piling up. A write
through either raises the driver's error (`attempt to write a readonly database`, `cannot execute
INSERT in a read-only transaction`); tests/dashboard/test_read_only.py proves both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from database.engine import normalize_url, sqlite_path

STATEMENT_TIMEOUT_MS = 10_000
_SQLITE_BUSY_TIMEOUT_MS = 2_000


class NoDatabase(Exception):
    """The configured SQLite file does not exist yet (the daemon has never run)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no database at {path}")
        self.path = path


def backend_of(url: str) -> str:
    """`sqlite` or `postgresql` (or another SQLAlchemy backend name)."""
    return normalize_url(url).get_backend_name()


def read_only_engine(url: str) -> Engine:
    """An engine on `url` whose every connection refuses to write.

    Raises NoDatabase for a SQLite file that does not exist (opening it read-only could not create
    it anyway, and "unable to open database file" would not tell the user what to do).
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is None:
            raise ValueError(f"the dashboard needs a SQLite file, not {parsed.database!r}")
        if not path.is_file():
            raise NoDatabase(path)
        uri = f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
        engine = create_engine(uri, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_read_only)
        return engine
    options = f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_MS}"
    return create_engine(parsed, pool_pre_ping=True, pool_size=2, connect_args={"options": options})


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA query_only=1")
    finally:
        cursor.close()


__all__ = ["STATEMENT_TIMEOUT_MS", "NoDatabase", "backend_of", "read_only_engine"]
