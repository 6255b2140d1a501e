"""Engine set-up and the database thread.

Every database call the daemon makes goes through `Database.run(fn)`: `fn(session)` runs on one
dedicated thread, so the event loop never waits for disk or network I/O and SQLite sees a single
writer in this process.

SQLite runs in WAL mode with a 5 s busy timeout, so a reader (the dashboard) never blocks the daemon
and a short write from another process (`python -m trader halt`) waits instead of failing.
`synchronous=NORMAL` is the WAL setting SQLite recommends: a commit survives a crash of the process;
only a power loss can take back the last commits. PostgreSQL is reached through psycopg 3.

An in-memory SQLite URL gives each connection its own empty database; use a file (tests use tmp_path).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from database.models import CandleRow

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000

_SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)

# Rows per INSERT statement: SQLite allows 32766 bound parameters, a candle row uses 10.
_UPSERT_CHUNK = 500
_CANDLE_COLUMNS = (
    "symbol",
    "open_time",
    "close_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
)
_CANDLE_KEY = ("symbol", "open_time")


def normalize_url(url: str | URL) -> URL:
    """`url` as a SQLAlchemy URL with the driver the project uses: psycopg 3 for PostgreSQL.

    `postgresql://` and `postgres://` would otherwise select psycopg2, which is not installed.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL; None for other databases and for in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):  # URI form: sqlite:///file:path?mode=...&uri=true
        return None
    return Path(parsed.database)


def redacted(url: str | URL) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Put the file in WAL mode (it stays so). Switching needs an exclusive lock, and SQLite answers
    "database is locked" at once, without its busy wait, when two new connections race for it (two
    processes migrating a new file): so it is tried again for up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def make_engine(url: str | URL) -> Engine:
    """An engine for `url`.

    SQLite: the file's folder is created, and every new connection gets WAL, the busy timeout,
    foreign keys and synchronous=NORMAL. PostgreSQL: psycopg 3 with pre-ping, so a connection the
    server dropped (restart, idle timeout) is replaced instead of failing the next query.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: sessions are opened on the database thread and, in sync code,
        # on the caller's thread; the pool hands a connection to one thread at a time.
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


class Database:
    """An engine plus the single thread every database call of the daemon runs on.

    `run(fn)` is for async code; `session()` for synchronous code (CLI commands, tests). Sessions do
    not expire objects on commit, so rows returned from `run` stay readable on the loop's thread.

    `url` is the URL with its password replaced by *** (identical to the real one when it has no
    password, as with SQLite); open other connections from the configured URL, not from it.
    """

    def __init__(self, url: str | URL) -> None:
        parsed = normalize_url(url)
        # The password stays inside the engine; `url` is safe to log, show or put in an exception.
        self.url: str = redacted(parsed)
        self.engine: Engine = make_engine(parsed)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="trader-db")
        self._closed = False
        self._close_lock = threading.Lock()
        # Health for the heartbeat: the last call's duration and whether the database answered.
        self.last_latency_ms: float | None = None
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"Database({redacted(self.url)!r})"

    @property
    def closed(self) -> bool:
        """True once `close()` was called."""
        return self._closed

    def session(self) -> Session:
        """A new session on the caller's thread; the caller commits (use it as a context manager)."""
        return Session(self.engine, expire_on_commit=False)

    def _call(self, fn: Callable[[Session], T]) -> T:
        started = time.perf_counter()
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                result = fn(session)
                session.commit()
            except OperationalError as exc:
                # The database itself failed (locked, gone, disk full): not the caller's logic.
                session.rollback()
                self.last_error = f"{type(exc).__name__}: {str(exc.orig)[:200]}"
                raise
            except BaseException:
                session.rollback()
                raise
            self.last_latency_ms = (time.perf_counter() - started) * 1000
            self.last_error = None
            return result

    @property
    def ok(self) -> bool:
        """False while the last call failed because of the database itself."""
        return self.last_error is None

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` on the database thread, commit, and return its result.

        On an exception the session is rolled back and the exception re-raised here. Calls run one
        at a time in submission order. Cancelling the awaiting task does not stop a call that has
        started (a thread cannot be interrupted); shield writes that must finish.
        """
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def close(self) -> None:
        """Finish the calls already submitted, stop the thread and close every connection.

        Idempotent. It waits for the running call, so call it at shutdown, not on a busy loop.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._executor.shutdown(wait=True)
        self.engine.dispose()


class CandleValues(Protocol):
    """What `upsert_candles` reads of a candle: a CandleRow, or the daemon's `Candle` event itself
    (building a SQLModel row costs ~60 µs a candle: 500 symbols' warm-ups, a million candles, spent
    a minute of the event loop on it)."""

    @property
    def symbol(self) -> str: ...
    @property
    def open_time(self) -> int: ...
    @property
    def close_time(self) -> int: ...
    @property
    def open(self) -> Decimal: ...
    @property
    def high(self) -> Decimal: ...
    @property
    def low(self) -> Decimal: ...
    @property
    def close(self) -> Decimal: ...
    @property
    def volume(self) -> Decimal: ...
    @property
    def quote_volume(self) -> Decimal: ...
    @property
    def trades(self) -> int: ...


def upsert_candles(session: Session, rows: Iterable[CandleValues]) -> int:
    """Insert candles, replacing the stored candle with the same (symbol, open_time); returns how many.

    INSERT ... ON CONFLICT (symbol, open_time) DO UPDATE (SQLite and PostgreSQL spell it the same),
    executed for chunks of rows, so a candle received twice (a reconnect, a back-fill overlapping the
    stream) is stored once with its latest values (within `rows` too: the last one wins). The caller commits
    (`Database.run` does).
    """
    # One row per key, the last one winning: PostgreSQL refuses to update a row twice in one statement.
    latest = {(row.symbol, row.open_time): row for row in rows}
    values = [{name: getattr(row, name) for name in _CANDLE_COLUMNS} for row in latest.values()]
    if not values:
        return 0
    table = CandleRow.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert: Any = pg_insert
    elif dialect == "sqlite":
        insert = sqlite_insert
    else:
        raise NotImplementedError(f"upsert_candles supports SQLite and PostgreSQL, not {dialect}")
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(_CANDLE_KEY),
        set_={name: statement.excluded[name] for name in _CANDLE_COLUMNS if name not in _CANDLE_KEY},
    )
    # One statement compiled once and executed for many parameter sets (the driver's executemany),
    # not a VALUES list of every row compiled each time: ~8x less CPU for a day of candles.
    for start in range(0, len(values), _UPSERT_CHUNK):
        session.execute(statement, values[start : start + _UPSERT_CHUNK])
    return len(values)


__all__ = [
    "BUSY_TIMEOUT_MS",
    "CandleValues",
    "Database",
    "make_engine",
    "normalize_url",
    "redacted",
    "sqlite_path",
    "upsert_candles",
]
