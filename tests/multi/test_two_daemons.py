"""Two daemons as real processes on one PostgreSQL database against one simulator: overlapping
symbols are traded by one of them, the other says who owns them; kill -9 the owner and the other
takes its symbols over and reconciles them. And a second daemon on one SQLite file is refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from database.advisory_locks import libpq_url
from tests.crash.harness import CONFIG
from tests.integration.process_rig import DaemonProcess, cleanup
from tests.integration.venue import simulated_venue

pytestmark = pytest.mark.slow


def _folder(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def _config(instance: str) -> str:
    lease = "engine:\n  lease_check_interval_s: 1\n"
    text = f"instance_id: {instance}\n" + CONFIG.replace("engine:\n", lease, 1)
    assert "lease_check_interval_s: 1" in text, "the shipped config changed"
    return text


Document = dict[str, Any]


async def _until(process: DaemonProcess, holds: Callable[[Document], bool], what: str) -> Document:
    """The first heartbeat of `process` for which `holds` is true (within a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        document = process.heartbeat()
        if document is not None and holds(document):
            return document
        assert process.process is not None and process.process.returncode is None, process.text()[-3000:]
        await asyncio.sleep(0.1)
    raise AssertionError(f"never seen: {what}; last heartbeat: {process.heartbeat()}")


def _blocks(document: dict[str, Any], symbol: str) -> list[str]:
    entry = (document.get("symbols") or {}).get(symbol) or {}
    return [f"{b.get('reason')}: {b.get('detail')}" for b in entry.get("entries_blocked_by", [])]


@pytest.mark.postgres
async def test_the_standby_skips_owned_symbols_and_takes_them_over_when_the_owner_is_killed(
    tmp_path: Path, postgres_url: str
) -> None:
    async with simulated_venue() as venue:
        alpha, beta = (
            DaemonProcess(
                _folder(tmp_path, name), venue, config_text=_config(name), TRADER_DATABASE_URL=postgres_url
            )
            for name in ("alpha", "beta")
        )
        try:
            await alpha.start()
            first = await alpha.wait_running()
            assert first["ownership"]["owned"] == ["ADAUSDT", "WLDUSDT"]
            await beta.start()
            standby = await beta.wait_running()
            assert standby["ownership"]["owned"] == []
            assert standby["ownership"]["owned_by_others"] == {"ADAUSDT": "alpha", "WLDUSDT": "alpha"}
            assert "not_owned: owned by alpha" in _blocks(standby, "WLDUSDT")
            assert "ownership.skipped" in beta.text() and "owned by alpha" in beta.text()
            # Both run their strategies; only the owner's signals become orders.
            await _until(alpha, lambda d: d["risk"]["accepted"] >= 1, "alpha trading")
            refused = await _until(
                beta, lambda d: d["risk"]["rejected"].get("not_owned", 0) >= 1, "beta refused"
            )
            assert refused["risk"]["accepted"] == 0

            await alpha.kill()  # kill -9: its session ends, the server frees its locks
            taken = await _until(
                beta,
                lambda d: d["ownership"]["owned"] == ["ADAUSDT", "WLDUSDT"]
                and not d["ownership"]["reconciling"],
                "beta owning both symbols, reconciled",
            )
            assert taken["ownership"]["takeovers"] == 2
            assert not any(b.startswith("not_owned") for b in _blocks(taken, "WLDUSDT"))
            assert await _reconciliations(postgres_url, "ownership") >= 1
            await _until(beta, lambda d: d["risk"]["accepted"] >= 1, "beta trading the symbols taken over")

            await alpha.start()  # back: now the standby
            again = await alpha.wait_running()
            assert again["ownership"]["owned_by_others"] == {"ADAUSDT": "beta", "WLDUSDT": "beta"}
            standing_by = await _until(
                alpha, lambda d: d["risk"]["rejected"].get("not_owned", 0) >= 1, "alpha refused"
            )
            assert standing_by["risk"]["accepted"] == 0  # nothing traded twice
        finally:
            await cleanup(alpha, beta)


async def _reconciliations(url: str, trigger: str) -> int:
    async with await psycopg.AsyncConnection.connect(libpq_url(url)) as connection:
        query = "SELECT count(*) FROM reconciliation_runs WHERE trigger = %s"
        cursor = await connection.execute(query, (trigger,))
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def test_a_second_daemon_on_the_same_sqlite_file_exits_with_one_line(tmp_path: Path) -> None:
    async with simulated_venue() as venue:
        first = DaemonProcess(_folder(tmp_path, "one"), venue, config_text=_config("one"))
        second = DaemonProcess(
            _folder(tmp_path, "two"), venue, config_text=_config("two"), TRADER_DATABASE_URL=f"sqlite:///{first.db_file}"
        )
        try:
            await first.start()
            await first.wait_running()
            await second.start()
            assert await second.wait_exit() == 1
            assert "another daemon already runs on the SQLite database" in second.text()
            assert "PostgreSQL" in second.text() and "Traceback" not in second.text()
            assert first.process is not None and first.process.returncode is None  # untouched
        finally:
            await cleanup(first, second)
