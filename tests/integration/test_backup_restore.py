"""Issue 20: a backup taken while the daemon (a real process) trades restores to a database that
passes the integrity check, holds every order and fill that existed when the backup started, and a
daemon started on it reconciles cleanly with the simulator, which traded on meanwhile.

The daemon trades `sma_cross` on fast averages (tests/crash/harness.py) so orders and fills keep
coming while the backup runs; the simulator lives in the test and outlives both daemons.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.client_ids import PREFIX
from database.migrate import head_revision
from tests.crash.harness import SPEED, SYMBOLS, daemon, wait_for_orders
from tests.integration.process_rig import ROOT, DaemonProcess, cleanup
from tests.integration.venue import Venue, simulated_venue
from trader.backup import backups_of, inspect

pytestmark = pytest.mark.slow


async def _cli(process: DaemonProcess, *args: str) -> tuple[int, str]:
    """`python -m trader <args>` with the daemon's settings (database, status folder)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trader", *args, cwd=ROOT, env=process.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode is not None
    return child.returncode, out.decode(errors="replace")


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


_FILLS = "SELECT symbol, trade_id FROM fills"


def _fill_keys(rows: list[tuple[Any, ...]]) -> list[tuple[str, int]]:
    return [(str(symbol), int(trade_id)) for symbol, trade_id in rows]


async def _wait_fills(process: DaemonProcess, *, more_than: int, within: float = 90.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        count = int(process.rows("SELECT count(*) FROM fills")[0][0])
        if count > more_than:
            return count
        await asyncio.sleep(0.1)
    raise AssertionError(f"no fill within {within}s:\n{process.text()[-2000:]}")


async def _wait_clean_reconciliation(process: DaemonProcess, within: float = 90.0) -> dict[str, object]:
    """The heartbeat of a running daemon whose last reconciliation found nothing to fix and whose
    entries are not held back by reconciliation on any symbol."""
    deadline = time.monotonic() + within
    held = {"not_reconciled", "reconciliation_mismatch"}
    while time.monotonic() < deadline:
        beat = process.heartbeat() or {}
        reconciliation = beat.get("reconciliation") or {}
        symbols = beat.get("symbols") or {}
        blocked = {b.get("reason") for s in symbols.values() for b in s.get("entries_blocked_by", [])}
        if beat.get("state") == "running" and reconciliation.get("result") == "ok" and not blocked & held:
            return beat
        await asyncio.sleep(0.2)
    raise AssertionError(f"no clean reconciliation within {within}s: {process.heartbeat()}")


def _agrees_with_venue(process: DaemonProcess, venue: Venue) -> None:
    """No client id twice on the venue; every open venue order of ours and every fill of every
    order the database holds is in it once; positions equal."""
    engine = venue.server.exchange.engine
    ours = [o for s in SYMBOLS for o in engine.orders(s) if o.client_order_id.startswith(PREFIX)]
    sent = Counter(o.client_order_id for o in ours)
    assert [cid for cid, n in sent.items() if n > 1] == []
    rows = {str(cid): str(state) for cid, state in process.rows("SELECT client_order_id, state FROM orders")}
    open_on_venue = {o.client_order_id for o in ours if o.status in ("NEW", "PARTIALLY_FILLED")}
    assert open_on_venue <= rows.keys(), f"open venue orders not adopted: {open_on_venue - rows.keys()}"
    order_ids = {int(v) for (v,) in process.rows("SELECT venue_order_id FROM orders") if v is not None}
    trades = [t for s in SYMBOLS for t in engine.trades(s)]
    venue_fills = {(t.symbol, t.trade_id) for t in trades if t.order_id in order_ids}
    db_fills = Counter(_fill_keys(process.rows(_FILLS)))
    assert {k for k, n in db_fills.items() if n > 1} == set(), "a fill booked twice"
    assert venue_fills <= db_fills.keys(), f"fills missing: {venue_fills - db_fills.keys()}"
    positions = {str(s): Decimal(str(q)) for s, q in process.rows("SELECT symbol, quantity FROM positions")}
    for symbol in SYMBOLS:
        assert positions.get(symbol, Decimal(0)) == engine.account.position(symbol).amount, symbol


async def test_backup_while_trading_restores_and_the_daemon_reconciles_cleanly(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    async with simulated_venue(speed=SPEED, fill_parts=2) as venue:
        first = daemon(tmp_path, venue)
        second = daemon(tmp_path, venue)
        try:
            await first.start()
            await first.wait_running()
            await wait_for_orders(first, more_than=2)
            await _wait_fills(first, more_than=0)

            # What exists when the backup starts; the daemon keeps trading while it runs.
            orders_before = {str(c) for (c,) in first.rows("SELECT client_order_id FROM orders")}
            fills_before = set(_fill_keys(first.rows(_FILLS)))
            code, out = await _cli(first, "db", "backup", "--to", str(backups), "--keep", "3")
            assert code == 0, out
            assert first.process is not None and first.process.returncode is None, "the daemon stopped"
            [backup] = backups_of(backups, "trader", ".db")
            assert str(backup) in out and "integrity ok" in out

            contents = inspect(backup)
            assert contents.integrity == "ok"
            in_backup = {str(c) for (c,) in _rows(backup, "SELECT client_order_id FROM orders")}
            fills_in_backup = set(_fill_keys(_rows(backup, _FILLS)))
            assert orders_before <= in_backup, f"orders missing: {orders_before - in_backup}"
            assert fills_before <= fills_in_backup, f"fills missing: {fills_before - fills_in_backup}"

            # A restore while the daemon runs is refused, and changes nothing.
            code, out = await _cli(first, "db", "restore", str(backup))
            assert code == 1 and "running" in out, out
            assert first.process.returncode is None

            # The venue moves on after the backup: more orders, then the daemon stops.
            await wait_for_orders(first, more_than=len(in_backup))
            first.signal(signal.SIGTERM)
            assert await first.wait_exit(within=30) == 0, first.text()[-2000:]
            orders_lost = int(first.rows("SELECT count(*) FROM orders")[0][0]) - len(in_backup)
            assert orders_lost > 0  # the restore really goes back in time

            code, out = await _cli(first, "db", "restore", str(backup))
            assert code == 0, out
            restored = inspect(first.db_file)
            assert restored.integrity == "ok" and restored.revision == head_revision()
            assert {str(c) for (c,) in first.rows("SELECT client_order_id FROM orders")} == in_backup
            saved = [p for p in tmp_path.iterdir() if p.name.startswith("trader.db.before-restore")]
            assert len(saved) == 1 and inspect(saved[0]).counts["orders"] == len(in_backup) + orders_lost

            # A daemon on the restored database: reconciled with the venue, then trading again.
            await second.start()
            await second.wait_running()
            await _wait_clean_reconciliation(second)
            now = int(second.rows("SELECT count(*) FROM orders")[0][0])
            await wait_for_orders(second, more_than=now)
            second.signal(signal.SIGTERM)
            assert await second.wait_exit(within=30) == 0, second.text()[-2000:]
            _agrees_with_venue(second, venue)
        finally:
            await cleanup(first, second)
