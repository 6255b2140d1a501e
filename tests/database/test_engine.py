"""The database thread, SQLite's settings and concurrent writers, URLs and their passwords."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from database.engine import BUSY_TIMEOUT_MS, Database, make_engine, normalize_url, sqlite_path
from database.migrate import upgrade
from database.models import ControlRow, PositionRow


def _control(key: str) -> ControlRow:
    return ControlRow(key=key, value="v", updated_time=1)


def _keys(session: Session) -> list[str]:
    return [r.key for r in session.exec(select(ControlRow).order_by(col(ControlRow.key))).all()]


async def test_run_works_on_one_thread_that_is_not_the_loops(any_db: Database) -> None:
    def where(_session: Session) -> tuple[int, str]:
        return threading.get_ident(), threading.current_thread().name

    seen = await asyncio.gather(*(any_db.run(where) for _ in range(10)))
    assert len(set(seen)) == 1
    ident, name = seen[0]
    assert ident != threading.get_ident()
    assert name.startswith("trader-db")


async def test_the_loop_keeps_running_while_a_database_call_blocks(any_db: Database) -> None:
    """The call cannot finish until the loop has ticked three times: no clocks, no flakiness."""
    ticked = threading.Event()
    ticks = 0

    def slow(session: Session) -> int:
        assert ticked.wait(timeout=30), "the event loop did not run while the database call blocked"
        return int(session.execute(text("SELECT 41 + 1")).scalar_one())

    async def ticker() -> None:
        nonlocal ticks
        while ticks < 3:
            await asyncio.sleep(0.001)
            ticks += 1
        ticked.set()

    ticking = asyncio.create_task(ticker())
    assert await any_db.run(slow) == 42
    await ticking
    assert ticks == 3


async def test_run_commits_on_success_and_rolls_back_and_reraises_on_error(any_db: Database) -> None:
    await any_db.run(lambda s: s.add(_control("kept")))

    class Boom(Exception):
        pass

    def half_done(session: Session) -> None:
        session.add(_control("lost"))
        session.flush()  # the row reached the database inside the transaction
        raise Boom("after the insert")

    with pytest.raises(Boom):
        await any_db.run(half_done)
    assert await any_db.run(_keys) == ["kept"]

    # A constraint violation surfaces too, and the thread keeps serving calls.
    with pytest.raises(IntegrityError):
        await any_db.run(lambda s: s.add(_control("kept")))
    await any_db.run(lambda s: s.add(_control("later")))
    assert await any_db.run(_keys) == ["kept", "later"]


async def test_calls_run_in_the_order_they_were_submitted(any_db: Database) -> None:
    order: list[int] = []

    def step(i: int) -> None:
        order.append(i)

    await asyncio.gather(*(any_db.run(lambda _s, i=i: step(i)) for i in range(50)))  # type: ignore[misc]
    assert order == list(range(50))


async def test_rows_returned_by_run_stay_readable_on_the_loop(any_db: Database) -> None:
    await any_db.run(lambda s: s.add(_control("halt")))
    row = await any_db.run(lambda s: s.get(ControlRow, "halt"))
    assert row is not None and row.value == "v"  # no DetachedInstanceError after the session closed


async def test_close_finishes_submitted_work_is_idempotent_and_refuses_new_calls(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    database = Database(sqlite_url)
    release = threading.Event()

    def slow_write(session: Session) -> None:
        release.wait(timeout=30)
        session.add(_control("written-before-close"))

    pending = asyncio.ensure_future(database.run(slow_write))
    await asyncio.sleep(0)  # submitted
    closing = asyncio.ensure_future(asyncio.to_thread(database.close))
    release.set()
    await pending
    await closing
    database.close()
    assert database.closed
    with pytest.raises(RuntimeError, match="closed"):
        await database.run(_keys)
    reopened = Database(sqlite_url)
    try:
        assert await reopened.run(_keys) == ["written-before-close"]
    finally:
        reopened.close()


async def test_sqlite_connections_use_wal_busy_timeout_foreign_keys_and_normal_sync(db: Database) -> None:
    def pragmas(session: Session) -> tuple[object, ...]:
        return tuple(
            session.execute(text(f"PRAGMA {name}")).scalar_one()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        )

    expected = ("wal", BUSY_TIMEOUT_MS, 1, 1)  # synchronous 1 = NORMAL
    assert await db.run(pragmas) == expected  # the database thread's connection
    with db.session() as session:  # a connection made on this thread
        assert pragmas(session) == expected
    # WAL is a property of the file: a plain connection that set nothing sees it.
    path = sqlite_path(db.url)  # no password: the shown URL is the real one
    assert path is not None
    plain = sqlite3.connect(path)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        plain.close()


async def test_two_databases_on_one_sqlite_file_write_at_the_same_time(db: Database) -> None:
    """Like the daemon and `trader halt`: read-then-write transactions from two engines, no lock errors."""
    other = Database(db.url)

    def bump(symbol: str, i: int) -> Callable[[Session], None]:
        def write(session: Session) -> None:
            row = session.get(PositionRow, symbol) or PositionRow(symbol=symbol)
            row.updated_time += 1
            session.add(row)
            session.add(_control(f"{symbol}-{i}"))

        return write

    try:
        await asyncio.gather(
            *(db.run(bump("BTCUSDT", i)) for i in range(150)),
            *(other.run(bump("ETHUSDT", i)) for i in range(150)),
        )
        positions = await db.run(lambda s: {p.symbol: p.updated_time for p in s.exec(select(PositionRow))})
        assert positions == {"BTCUSDT": 150, "ETHUSDT": 150}
        assert len(await other.run(_keys)) == 300
    finally:
        other.close()


async def test_an_open_reader_never_blocks_the_writer(db: Database) -> None:
    """The dashboard holding a read transaction: WAL lets the daemon commit, the reader keeps its snapshot."""
    await db.run(lambda s: s.add(_control("before")))
    path = sqlite_path(db.url)
    assert path is not None
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM control").fetchone() == (1,)
        await db.run(lambda s: s.add(_control("after")))
        assert reader.execute("SELECT count(*) FROM control").fetchone() == (1,)  # its snapshot
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM control").fetchone() == (2,)
    finally:
        reader.close()


def test_make_engine_creates_the_folder_of_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "trader.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert path.is_file()


def test_postgresql_urls_use_psycopg_3_and_never_show_the_password() -> None:
    assert normalize_url("postgresql://u:pw@127.0.0.1/x").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u:pw@127.0.0.1/x").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    database = Database("postgresql://trader:s3cr3t-pw@127.0.0.1:5432/trader")  # never connects
    try:
        assert database.engine.dialect.driver == "psycopg"
        assert database.url == "postgresql+psycopg://trader:***@127.0.0.1:5432/trader"
        assert "s3cr3t-pw" not in repr(database)
    finally:
        database.close()


@pytest.mark.postgres
async def test_a_database_on_postgresql_answers_through_the_thread(postgres_url: str) -> None:
    upgrade(postgres_url)
    database = Database(postgres_url)
    try:
        assert await database.run(lambda s: s.execute(text("SELECT current_database()")).scalar_one()) == (
            normalize_url(postgres_url).database
        )
    finally:
        database.close()
