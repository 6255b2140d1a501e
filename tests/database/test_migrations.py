"""Migrations: empty to head, idempotent, concurrent, and the migrated schema equals the models."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from database.engine import make_engine
from database.migrate import SchemaError, current_revision, head_revision, is_up_to_date, upgrade
from database.models import TABLES, metadata


def test_an_empty_database_migrates_to_head_and_a_second_upgrade_changes_nothing(any_db_url: str) -> None:
    assert current_revision(any_db_url) is None
    assert not is_up_to_date(any_db_url)

    upgrade(any_db_url)
    assert current_revision(any_db_url) == head_revision()
    assert is_up_to_date(any_db_url)

    upgrade(any_db_url)
    assert current_revision(any_db_url) == head_revision()
    engine = make_engine(any_db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == {t.__tablename__ for t in TABLES} | {"alembic_version"}


def test_the_migrated_schema_matches_the_models(any_db_url: str) -> None:
    """The "schema matches models" check: autogenerate finds nothing left to do."""
    upgrade(any_db_url)
    engine = make_engine(any_db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == [], f"database/migrations and database/models.py disagree: {differences}"


def test_every_model_table_is_in_the_metadata_the_migrations_compare_against() -> None:
    assert {t.__tablename__ for t in TABLES} == set(metadata.tables)
    assert {
        "orders", "fills", "positions", "signals", "risk_decisions", "candles_1m", "funding_payments",
        "volatility_events", "strategy_state", "control", "order_events", "alerts", "equity_snapshots",
        "backtest_runs", "reconciliation_runs", "reconciliation_differences", "candles", "funding_rates",
        "backtest_trades",
    } == set(metadata.tables)  # fmt: skip


def test_the_candle_intervals_revision_keeps_the_stored_candles(any_db_url: str) -> None:
    """0003 -> head: a 1m candle and a backtest run stored before the upgrade are still there."""
    from alembic import command

    from database.migrate import alembic_config

    command.upgrade(alembic_config(any_db_url), "0003_alerts")
    engine = make_engine(any_db_url)
    row = (
        "('ADAUSDT', 1670889600000, 1670889659999, '0.3067', '0.3068', '0.3066', '0.3068', '274004', '0', 0)"
    )
    try:
        with engine.begin() as connection:
            connection.execute(text(f"INSERT INTO candles_1m VALUES {row}"))
            connection.execute(
                text("INSERT INTO backtest_runs (created_time, name, config, result, status) "
                     "VALUES (1, 'old run', '{}', '{}', 'done')")
            )  # fmt: skip
        upgrade(any_db_url)
        assert current_revision(any_db_url) == head_revision()
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT symbol, open_time, close FROM candles_1m")).all()
            runs = connection.execute(text("SELECT name, config_hash, start_time FROM backtest_runs")).all()
            assert set(inspect(connection).get_table_names()) >= {"candles", "funding_rates"}
    finally:
        engine.dispose()
    assert [(s, t, str(c).rstrip("0")) for s, t, c in stored] == [("ADAUSDT", 1670889600000, "0.3068")]
    assert [tuple(r) for r in runs] == [("old run", "", 0)]  # 0005: a run stored before keeps its row


def test_two_processes_upgrading_at_the_same_moment_both_succeed(any_db_url: str) -> None:
    """The daemon and `trader db upgrade` racing on a fresh database: one migrates, the other waits."""
    script = "import sys; from database.migrate import upgrade; upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, any_db_url],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = []
    for process in processes:
        _out, err = process.communicate(timeout=90)
        outcomes.append((process.returncode, err))
    assert outcomes == [(0, ""), (0, "")]
    assert is_up_to_date(any_db_url)


def test_upgrades_in_threads_of_one_process_are_serialised(any_db_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def migrate() -> None:
        try:
            start.wait()
            upgrade(any_db_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert is_up_to_date(any_db_url)


def test_upgrade_creates_the_folder_of_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "trader.db"
    upgrade(f"sqlite:///{path}")
    assert path.is_file()
    assert is_up_to_date(f"sqlite:///{path}")


def test_asking_for_the_revision_of_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "trader.db"
    assert current_revision(f"sqlite:///{path}") is None
    assert not is_up_to_date(f"sqlite:///{path}")
    assert not path.exists() and not path.parent.exists()


def test_upgrade_leaves_the_applications_logging_alone(sqlite_url: str) -> None:
    """alembic's usual env.py runs fileConfig, which replaces handlers and disables existing loggers."""
    root = logging.getLogger()
    existing = logging.getLogger("trader.test_existing_logger")
    handlers_before, level_before = list(root.handlers), root.level
    upgrade(sqlite_url)
    assert root.handlers == handlers_before
    assert root.level == level_before
    assert not existing.disabled


def test_a_database_from_a_newer_version_gets_one_clear_error(any_db_url: str) -> None:
    upgrade(any_db_url)
    engine = make_engine(any_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    finally:
        engine.dispose()
    assert not is_up_to_date(any_db_url)
    with pytest.raises(SchemaError, match="0099_from_the_future") as caught:
        upgrade(any_db_url)
    assert "\n" not in str(caught.value)
    assert current_revision(any_db_url) == "0099_from_the_future"  # left as it was
