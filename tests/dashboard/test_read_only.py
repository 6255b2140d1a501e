"""The dashboard can never write: a whole session leaves the database as it was, on SQLite and on
PostgreSQL, and a write through its own connection fails."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError
from streamlit.testing.v1 import AppTest

from dashboard.readonly import NoDatabase, read_only_engine
from dashboard.source import engine_for
from database.engine import normalize_url, sqlite_path
from tests.dashboard import heartbeats
from tests.dashboard.conftest import APP, PAGES
from tests.dashboard.seed import seed_database


def _contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            tables = sorted(inspect(connection).get_table_names())
            return {
                t: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {t}"))), key=repr)
                for t in tables
            }
    finally:
        engine.dispose()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def seeded_any(any_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("TRADER_DATABASE_URL", any_db_url)
    monkeypatch.setenv("TRADER_STATUS_DIR", str(tmp_path / "status"))
    seed_database(any_db_url, symbols=2, fills=60, days=1, now_ms=heartbeats.now_ms())
    heartbeats.write(tmp_path / "status", heartbeats.v1(interval_s=3600))
    return any_db_url


def test_a_dashboard_session_leaves_the_database_unchanged(seeded_any: str) -> None:
    before = _contents(seeded_any)
    path = sqlite_path(seeded_any)
    digest = _digest(path) if path is not None else None
    test = AppTest.from_file(str(APP), default_timeout=60).run()
    for page in PAGES:
        test.switch_page(page).run()
        assert not test.exception, (page, [e.message for e in test.exception])
    assert _contents(seeded_any) == before
    if path is not None:
        assert _digest(path) == digest  # not a byte of the file changed


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO control (key, value, updated_time) VALUES ('halt', '{}', 1)",
        "DELETE FROM fills",
        "UPDATE positions SET quantity = '0'",
        "CREATE TABLE intruder (x INTEGER)",
    ],
)
def test_a_write_through_the_dashboards_connection_fails(seeded_any: str, statement: str) -> None:
    engine = engine_for(seeded_any)  # the very engine the pages read through
    with engine.connect() as connection, pytest.raises(DBAPIError, match=r"read-?only|readonly"):
        connection.execute(text(statement))
        connection.commit()
    counts = _contents(seeded_any)
    assert "intruder" not in counts and counts["control"][0][0] != "halt" and len(counts["fills"]) == 60


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(NoDatabase):
        read_only_engine(f"sqlite:///{tmp_path / 'nothing.db'}")
    assert not (tmp_path / "nothing.db").exists()
