"""Fixtures shared by the whole suite: real databases, never mocks.

- `sqlite_url`  a SQLite file URL in the test's tmp dir (the file does not exist yet);
- `db`          a migrated `Database` on such a file, closed after the test;
- `postgres_url` a fresh, uniquely named database on the local PostgreSQL server, dropped after the
                test. The server is `TRADER_TEST_POSTGRES_URL` (default: postgres@127.0.0.1:5432,
                trust auth). A server that does not answer FAILS the test: PostgreSQL support is a
                feature, and a skip would hide that it is untested;
- `any_db_url`  parametrized over both backends (the PostgreSQL case is marked `postgres`);
- `any_db`      a migrated `Database` on `any_db_url`, closed after the test.

Other fixtures are added by asking the lead; keep this file small.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from database.engine import Database, normalize_url, redacted
from database.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "TRADER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's tmp dir (not created yet)."""
    return f"sqlite:///{tmp_path / 'trader.db'}"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    """A migrated Database on a fresh SQLite file."""
    upgrade(sqlite_url)
    database = Database(sqlite_url)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty database on the local PostgreSQL server, dropped afterwards."""
    server: URL = normalize_url(POSTGRES_URL)
    # A short connect timeout: a server that is down fails the test in seconds, not minutes.
    admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"trader_test_{uuid.uuid4().hex[:16]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {redacted(server)} is not usable ({type(exc).__name__}: {exc}); start it "
            "(see .ci/run) or set TRADER_TEST_POSTGRES_URL",
            pytrace=False,
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as connection:
                # FORCE: a test that failed may have left a connection open.
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database URL: the test runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def any_db(any_db_url: str) -> Iterator[Database]:
    """A migrated Database on each backend in turn, closed after the test."""
    upgrade(any_db_url)
    database = Database(any_db_url)
    try:
        yield database
    finally:
        database.close()
