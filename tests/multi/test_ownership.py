"""Symbol ownership between daemons sharing one PostgreSQL database (real server), and the
one-daemon rule of a SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from core.errors import DaemonFailed
from database.advisory_locks import libpq_url
from executor.risk.entry_pauses import EntryPauses
from executor.risk.rules import Reason
from trader.db_owner import claim_sqlite
from trader.ownership import TAKEN_OVER, SymbolOwnership

A_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
B_SYMBOLS = ["ETHUSDT", "SOLUSDT"]


async def _wait_for(condition: object, what: str, *, timeout_s: float = 10.0) -> None:
    """Wait until `condition()` holds (checked after each loop turn), failing after `timeout_s`."""
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), timeout_s)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")


@pytest.fixture
async def pair(postgres_url: str) -> AsyncIterator[tuple[SymbolOwnership, SymbolOwnership]]:
    a = await SymbolOwnership.claim_symbols(postgres_url, A_SYMBOLS, "daemon-a")
    b = await SymbolOwnership.claim_symbols(postgres_url, B_SYMBOLS, "daemon-b")
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


@pytest.mark.postgres
async def test_a_symbol_held_by_one_daemon_is_refused_to_the_other_and_named(
    pair: tuple[SymbolOwnership, SymbolOwnership],
) -> None:
    a, b = pair
    assert a.owned == {"BTCUSDT", "ETHUSDT"}
    assert b.owned == {"SOLUSDT"}
    assert b.others == {"ETHUSDT": "daemon-a"}
    pauses = EntryPauses(wait_for_reconciliation=False)
    b.bind(pauses, _never_reconcile, lambda: B_SYMBOLS)
    assert pauses.pause_of("ETHUSDT") == (Reason.NOT_OWNED, "owned by daemon-a")
    assert pauses.exits_blocked("ETHUSDT") == "owned by daemon-a"  # its position is not ours to close
    assert pauses.pause_of("SOLUSDT") is None
    assert b.status()["owned_by_others"] == {"ETHUSDT": "daemon-a"}
    assert not b.in_scope("ETHUSDT") and b.in_scope("SOLUSDT")  # its orders are daemon-a's to track


async def _never_reconcile(symbols: set[str]) -> None:
    pytest.fail(f"nothing was taken over, yet a reconciliation was asked ({symbols})")


@pytest.mark.postgres
async def test_a_dead_daemons_symbol_is_taken_within_the_interval_and_reconciled_before_it_trades(
    pair: tuple[SymbolOwnership, SymbolOwnership], postgres_url: str
) -> None:
    _, b = pair
    pauses = EntryPauses(wait_for_reconciliation=False)
    seen_during_reconciliation: list[object] = []

    async def reconcile(symbols: set[str]) -> None:
        seen_during_reconciliation.append((symbols, pauses.pause_of("ETHUSDT")))

    b.bind(pauses, reconcile, lambda: B_SYMBOLS)
    b._interval = lambda: 0.2
    lease = asyncio.create_task(b.run())
    try:
        assert pauses.pause_of("ETHUSDT") is not None
        await _kill_connection_of("daemon-a", postgres_url)  # as the server sees a kill -9
        await _wait_for(lambda: "ETHUSDT" in b.owned and pauses.pause_of("ETHUSDT") is None, "ETHUSDT taken")
    finally:
        lease.cancel()
        await asyncio.gather(lease, return_exceptions=True)
    assert seen_during_reconciliation == [({"ETHUSDT"}, (Reason.NOT_OWNED, TAKEN_OVER))]
    assert b.takeovers == 1
    assert b.others == {}  # BTCUSDT is not B's symbol: it is not taken, and nobody holds it now


@pytest.mark.postgres
async def test_a_lost_lock_connection_blocks_every_symbol_until_retaken_and_reconciled(
    pair: tuple[SymbolOwnership, SymbolOwnership], postgres_url: str
) -> None:
    a, _ = pair
    pauses = EntryPauses(wait_for_reconciliation=False)
    triggers: list[set[str]] = []

    async def reconcile(symbols: set[str]) -> None:
        triggers.append(symbols)

    a.bind(pauses, reconcile, lambda: A_SYMBOLS)
    assert pauses.pause_of("BTCUSDT") is None
    await _kill_connection_of("daemon-a", postgres_url)
    await a.check(A_SYMBOLS)  # the next lease check finds the connection gone
    reason, detail = pauses.pause_of("BTCUSDT") or (None, "")
    assert reason is Reason.NOT_OWNED and "lock connection was lost" in detail
    assert a.owned == set() and a.problem is not None
    assert pauses.exits_blocked("BTCUSDT") is None  # unproven, not someone else's: closes may leave
    await a.check(A_SYMBOLS)  # the server answers again: retaken, reconciled first
    assert a.owned == {"BTCUSDT", "ETHUSDT"}
    assert triggers == [{"BTCUSDT", "ETHUSDT"}]
    assert pauses.pause_of("BTCUSDT") is None and pauses.pause_of("ETHUSDT") is None


@pytest.mark.postgres
async def test_a_symbol_dropped_from_the_configuration_is_freed_for_another_daemon(
    pair: tuple[SymbolOwnership, SymbolOwnership],
) -> None:
    a, b = pair
    await a.check(["BTCUSDT"])
    assert a.owned == {"BTCUSDT"}
    await b.check(B_SYMBOLS)
    assert b.owned == {"ETHUSDT", "SOLUSDT"}


async def _kill_connection_of(instance: str, url: str) -> None:
    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (f"trader:{instance}",),
        )
        assert [row[0] for row in await cursor.fetchall()] == [True]


def test_a_second_daemon_on_one_sqlite_file_is_refused_naming_postgresql(tmp_path: Path) -> None:
    database = tmp_path / "trader.db"
    first = claim_sqlite(database)
    with pytest.raises(DaemonFailed) as refused:
        claim_sqlite(database)
    line = str(refused.value)
    assert "\n" not in line and "another daemon" in line and "PostgreSQL" in line
    first.close()
    claim_sqlite(database).close()  # released with the first daemon: a restart is fine
