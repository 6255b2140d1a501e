"""`python -m trader db backup` and `db restore` on real databases, run as the user runs them.

The daemon-as-a-process case (a backup while it trades, a daemon reconciling on the restored
database) is tests/integration/test_backup_restore.py; here a plain writer process stands in for it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command

from database.migrate import alembic_config, current_revision, head_revision, upgrade
from trader.backup import backup_name, backups_of, inspect

ROOT = Path(__file__).resolve().parents[2]

# Inserts orders one commit at a time until killed, printing how many it committed.
_WRITER = """
import sys, time
from decimal import Decimal
from sqlmodel import Session
from database.engine import make_engine
from database.models import OrderRow
engine = make_engine(sys.argv[1])
n = 0
while True:
    with Session(engine) as session:
        session.add(OrderRow(client_order_id=f"w-{n}", symbol="WLDUSDT", side="BUY", order_type="LIMIT",
                             quantity=Decimal("1.5"), price=Decimal("2.01"), state="NEW",
                             filled_qty=Decimal(0), avg_price=Decimal(0), cum_quote=Decimal(0),
                             created_time=n, updated_time=n))
        session.commit()
    n += 1
    print(n, flush=True)
"""


def _env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADER_", "OP_SERVICE_ACCOUNT"))}
    env.update(
        TRADER_DATABASE_URL=url,
        TRADER_STATUS_DIR=str(tmp_path / "status"),
        TRADER_LOG_DIR=str(tmp_path / "logs"),
        **extra,
    )
    return env


def _trader(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trader", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _orders(path: Path) -> set[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in connection.execute("SELECT client_order_id FROM orders")}
    finally:
        connection.close()


def _add_order(path: Path, client_id: str) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            "INSERT INTO orders (client_order_id, symbol, strategy, side, order_type, quantity, reduce_only,"
            " state, filled_qty, avg_price, cum_quote, intent, reason, send_attempts, created_time,"
            " updated_time) VALUES (?, 'ADAUSDT', '', 'SELL', 'MARKET', '3', 0, 'FILLED', '3', '0.3',"
            " '0.9', '', '', 1, 1, 1)",
            (client_id,),
        )
        connection.commit()
    finally:
        connection.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A migrated SQLite database with one order in it."""
    path = tmp_path / "trader.db"
    upgrade(f"sqlite:///{path}")
    _add_order(path, "before-1")
    return path


def test_a_backup_while_another_process_writes_is_whole_and_consistent(
    tmp_path: Path, database: Path
) -> None:
    url = f"sqlite:///{database}"
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None
        while int(writer.stdout.readline() or 0) < 50:  # the writer is well under way
            assert writer.poll() is None, "the writer died"
        committed = _orders(database)
        result = _trader(_env(tmp_path, url), "db", "backup", "--to", str(tmp_path / "b"))
        after = _orders(database)
        writer.kill()
    assert result.returncode == 0, result.stderr
    [backup] = backups_of(tmp_path / "b", "trader", ".db")
    assert backup.name in result.stdout and "integrity ok" in result.stdout
    contents = inspect(backup)
    assert contents.integrity == "ok" and contents.revision == head_revision()
    held = _orders(backup)
    assert committed <= held <= after, "an order committed before the backup started is missing"
    # One instant of a writer that commits w-0, w-1, ... in turn: no gap, nothing torn.
    written = sorted(int(cid[2:]) for cid in held if cid.startswith("w-"))
    assert written == list(range(len(written)))
    assert not list((tmp_path / "b").glob("*.partial")) and not list((tmp_path / "b").glob("*-wal"))


def test_keep_removes_the_oldest_backups_of_this_database_only(tmp_path: Path, database: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    old = [folder / backup_name("trader", ".db", start + timedelta(days=d)) for d in range(4)]
    other = folder / backup_name("alpha", ".db", start)  # another daemon's database
    for path in [*old, other]:
        path.write_bytes(b"placeholder")
    env = _env(tmp_path, f"sqlite:///{database}")
    result = _trader(env, "db", "backup", "--to", str(folder), "--keep", "2")
    assert result.returncode == 0, result.stderr
    kept = backups_of(folder, "trader", ".db")
    assert len(kept) == 2 and kept[0] == old[-1] and inspect(kept[1]).integrity == "ok"
    assert other.exists() and "removed 3 older backup(s)" in result.stdout
    assert _trader(env, "db", "backup", "--to", str(folder), "--keep", "0").returncode == 0
    assert len(backups_of(folder, "trader", ".db")) == 3  # 0 keeps all


def test_restore_brings_an_older_schema_to_head_and_saves_what_it_replaced(
    tmp_path: Path, database: Path
) -> None:
    old_db = tmp_path / "old.db"
    command.upgrade(alembic_config(f"sqlite:///{old_db}"), "0001_initial")
    _add_order(old_db, "from-the-backup")
    env = _env(tmp_path, f"sqlite:///{database}")
    backup = tmp_path / "b" / "old-backup.db"
    backup.parent.mkdir()
    source, target = sqlite3.connect(old_db), sqlite3.connect(backup)
    source.backup(target)
    source.close()
    target.close()
    _add_order(database, "written-after-the-backup")
    replaced = _orders(database)

    result = _trader(env, "db", "restore", str(backup))
    assert result.returncode == 0, result.stderr
    assert _orders(database) == {"from-the-backup"}
    assert current_revision(f"sqlite:///{database}") == head_revision() != "0001_initial"
    [saved] = tmp_path.glob("trader.db.before-restore-*")
    assert _orders(saved) == replaced and str(saved) in result.stdout
    assert inspect(database).integrity == "ok"


def test_restore_refuses_while_a_daemon_heartbeat_is_fresh(tmp_path: Path, database: Path) -> None:
    backup_result = _trader(
        _env(tmp_path, f"sqlite:///{database}"), "db", "backup", "--to", str(tmp_path / "b")
    )
    assert backup_result.returncode == 0
    [backup] = backups_of(tmp_path / "b", "trader", ".db")
    _add_order(database, "the-daemon-wrote-this")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        status = tmp_path / "status"
        status.mkdir()
        beat = {"schema_version": 1, "pid": sleeper.pid, "instance_id": "alpha", "state": "running",
                "written_at_ms": int(time.time() * 1000), "heartbeat_interval_s": 5}  # fmt: skip
        (status / "heartbeat.json").write_text(json.dumps(beat))
        result = _trader(_env(tmp_path, f"sqlite:///{database}"), "db", "restore", str(backup))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.returncode == 1
    assert "not restored" in result.stderr and f"pid {sleeper.pid}" in result.stderr
    assert "the-daemon-wrote-this" in _orders(database)
    assert not list(tmp_path.glob("trader.db.before-restore-*"))


def test_restore_refuses_while_a_process_holds_the_file_open_for_writing(
    tmp_path: Path, database: Path
) -> None:
    env = _env(tmp_path, f"sqlite:///{database}")
    assert _trader(env, "db", "backup", "--to", str(tmp_path / "b")).returncode == 0
    [backup] = backups_of(tmp_path / "b", "trader", ".db")
    with subprocess.Popen(  # no heartbeat: e.g. a daemon with another TRADER_STATUS_DIR
        [sys.executable, "-c", f"import sqlite3, sys; c = sqlite3.connect({str(database)!r}); "
         "c.execute('SELECT 1'); print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as holder:  # fmt: skip
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        refused = _trader(env, "db", "restore", str(backup))
        holder.kill()
    assert refused.returncode == 1 and f"process {holder.pid}" in refused.stderr
    assert _trader(env, "db", "restore", str(backup)).returncode == 0  # once it is gone


def test_restore_refuses_a_damaged_or_foreign_file_and_changes_nothing(
    tmp_path: Path, database: Path
) -> None:
    env = _env(tmp_path, f"sqlite:///{database}")
    before = _orders(database)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    foreign = tmp_path / "foreign.db"
    other = sqlite3.connect(foreign)
    other.execute("CREATE TABLE notes (text TEXT)")
    other.close()
    for path, why in ((garbage, "not a readable SQLite database"), (foreign, "not a trader database")):
        result = _trader(env, "db", "restore", str(path))
        assert result.returncode == 1 and why in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    missing = _trader(env, "db", "restore", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert _orders(database) == before and not list(tmp_path.glob("trader.db.before-restore-*"))


def _pg_orders(url: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text("SELECT client_order_id FROM orders"))}
    finally:
        engine.dispose()


def _pg_add_order(url: str, client_id: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO orders (client_order_id, symbol, strategy, side, order_type, quantity,"
                    " reduce_only, state, filled_qty, avg_price, cum_quote, intent, reason, send_attempts,"
                    " created_time, updated_time) VALUES (:c, 'ADAUSDT', '', 'SELL', 'MARKET', 3, false,"
                    " 'FILLED', 3, 0.3, 0.9, '', '', 1, 1, 1)"
                ),
                {"c": client_id},
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_backup_with_pg_dump_restores_in_one_piece(tmp_path: Path, postgres_url: str) -> None:
    upgrade(postgres_url)
    _pg_add_order(postgres_url, "in-the-backup")
    env = _env(tmp_path, postgres_url)
    result = _trader(env, "db", "backup", "--to", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    name = postgres_url.rsplit("/", 1)[1]
    [dump] = backups_of(tmp_path / "b", name, ".dump")
    _pg_add_order(postgres_url, "after-the-backup")

    restored = _trader(env, "db", "restore", str(dump), "--save-to", str(tmp_path / "saved"))
    assert restored.returncode == 0, restored.stderr
    assert _pg_orders(postgres_url) == {"in-the-backup"}
    assert current_revision(postgres_url) == head_revision()
    assert len(backups_of(tmp_path / "saved", name, ".dump")) == 1  # what it replaced


@pytest.mark.postgres
def test_postgres_without_pg_dump_says_what_to_install_or_use(tmp_path: Path, postgres_url: str) -> None:
    upgrade(postgres_url)
    env = _env(tmp_path, postgres_url, PATH=str(Path(sys.executable).parent))  # no PostgreSQL tools
    result = _trader(env, "db", "backup", "--to", str(tmp_path / "b"))
    assert result.returncode == 1
    assert "pg_dump not found" in result.stderr and "postgresql-client" in result.stderr
    assert "point-in-time recovery" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())
