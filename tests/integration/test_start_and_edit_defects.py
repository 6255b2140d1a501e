"""Issue 12, items 3-5, against a real venue: a live edit naming a symbol the venue does not trade is
rejected whole; one 5xx at start-up is retried, a venue down for good is one line and exit 1; the
database file deleted or replaced under a running daemon stops it with one line, nothing lost."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest

from config.loader import load_config
from tests.integration.process_rig import SHIPPED, DaemonProcess, cleanup
from tests.integration.test_daemon import _config_file, _settings, _started, _wait_for
from tests.integration.venue import simulated_venue

pytestmark = pytest.mark.slow

TWO = """symbols:
  - symbol: WLDUSDT
    strategy: vwap
    order_notional_usdt: 200
  - symbol: ADAUSDT
    strategy: vwap
    order_notional_usdt: 150
"""


async def test_an_edit_naming_a_symbol_the_venue_does_not_trade_is_rejected_whole(tmp_path: Path) -> None:
    path = _config_file(tmp_path, speed=600, symbols_yaml=TWO)
    settings = _settings(tmp_path, path)
    async with _started(settings, load_config(path), path) as daemon:
        before = daemon.config
        # ADAUSDT replaced by a well-formed symbol this venue does not list.
        path.write_text(path.read_text().replace("ADAUSDT", "NOPEUSDT"))
        await _wait_for(lambda: daemon.watcher.rejected >= 1, 15, "the edit to be rejected")
        assert daemon.config is before
        assert daemon.watcher.last_error is not None
        assert "symbols: not traded on this venue: NOPEUSDT" in daemon.watcher.last_error
        assert daemon._runners["ADAUSDT"].strategy.entries_enabled  # the replaced symbol still trades
        assert "NOPEUSDT" not in daemon._runners


async def test_one_503_at_start_up_is_retried(tmp_path: Path) -> None:
    async with simulated_venue(speed=1) as venue:
        venue.server.inject("rest_error", "exchangeInfo", when="before", status=503, count=1, method="GET")
        daemon = DaemonProcess(tmp_path, venue)
        try:
            await daemon.start()
            await daemon.wait_running()
            assert "daemon.startup_retry" in (tmp_path / "logs" / "trader.log").read_text()
        finally:
            await cleanup(daemon)


async def test_a_venue_down_for_good_at_start_up_is_one_line_and_exit_1(tmp_path: Path) -> None:
    async with simulated_venue(speed=1) as venue:
        venue.server.inject("rest_error", "exchangeInfo", when="before", status=503, count=1000, method="GET")
        text = SHIPPED.read_text().replace("startup_retry_seconds: 60", "startup_retry_seconds: 3")
        daemon = DaemonProcess(tmp_path, venue, config_text=text)
        try:
            await daemon.start()
            code = await daemon.wait_exit(within=60)
        finally:
            await cleanup(daemon)
        assert code == 1
        last = daemon.text().strip().splitlines()[-1]
        assert last.startswith("error: connecting to the venue: the venue did not answer for 3 s"), last
        assert "Traceback" not in daemon.text()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_the_database_file_deleted_or_replaced_stops_the_daemon_and_saves_a_copy(
    tmp_path: Path, how: str
) -> None:
    async with simulated_venue(speed=1) as venue:
        daemon = DaemonProcess(tmp_path, venue)
        try:
            await daemon.start()
            await daemon.wait_running()
            stored = daemon.rows("SELECT count(*) FROM reconciliation_runs")[0][0]
            assert stored >= 1
            if how == "deleted":
                daemon.db_file.unlink()
            else:
                other = tmp_path / "other.db"
                sqlite3.connect(other).close()
                shutil.move(other, daemon.db_file)
            code = await daemon.wait_exit(within=60)
        finally:
            await cleanup(daemon)
        assert code == 1
        last = daemon.text().strip().splitlines()[-1]
        assert f"the database file {daemon.db_file} was {how} while the daemon was running" in last, last
        copies = list(tmp_path.glob("trader.db.recovered-*"))
        assert len(copies) == 1 and str(copies[0]) in last
        with sqlite3.connect(copies[0]) as saved:
            assert saved.execute("SELECT count(*) FROM reconciliation_runs").fetchone()[0] >= stored
        await asyncio.sleep(0)
