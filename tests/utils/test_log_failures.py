"""Issue 12 item 7: a log sink that cannot write (a full disk) costs a count and a line now and
then, never a traceback per record, and the daemon goes on trading.

The full disk is real: /dev/full answers every write with ENOSPC."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest
import structlog

from tests.crash.harness import SPEED, daemon, wait_for_orders
from tests.integration.process_rig import cleanup
from tests.integration.venue import simulated_venue
from utils.log_failures import SinkFailures, failed_writes
from utils.logging import configure_logging, reset_logging

FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="/dev/full is Linux's full disk")


def test_reports_the_first_failure_then_at_most_once_per_interval() -> None:
    failures = SinkFailures("logs/trader.log", report_every_s=60)
    disk_full = OSError(28, "No space left on device")
    first = failures.failed(disk_full, now=0.0)
    assert first is not None and "1 record(s) could not be written to logs/trader.log" in first
    assert "No space left on device" in first
    assert [failures.failed(disk_full, now=t) for t in (1.0, 30.0, 59.9)] == [None, None, None]
    later = failures.failed(disk_full, now=61.0)
    assert later is not None and "4 record(s)" in later and "5 in all" in later
    assert failures.total == 5


@needs_dev_full
def test_a_full_disk_gives_one_line_not_a_traceback_per_record(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "trader.log").symlink_to(FULL)
    log_file = configure_logging("INFO", tmp_path, console=False)
    try:
        log = structlog.get_logger("test")
        for n in range(2_000):
            log.info("trade.order", n=n)
        logging.getLogger("sdk").warning("a third-party record")
        assert failed_writes() == {str(log_file): 2_001}
    finally:
        reset_logging()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Logging error" not in err
    lines = [line for line in err.splitlines() if "could not be written" in line]
    assert len(lines) == 1, err[-2000:]
    assert str(log_file) in lines[0] and "No space left on device" in lines[0]


@needs_dev_full
@pytest.mark.slow
async def test_the_daemon_trades_on_with_its_log_file_on_a_full_disk(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "trader.log").symlink_to(FULL)
    async with simulated_venue(speed=SPEED) as venue:
        process = daemon(tmp_path, venue)
        try:
            await process.start()
            await process.wait_running()
            await wait_for_orders(process, more_than=1)  # it trades (and logs every order)
            process.signal(signal.SIGTERM)
            assert await process.wait_exit() == 0
        finally:
            await cleanup(process)
    out = process.text()
    assert "Traceback" not in out and "Logging error" not in out, out[-3000:]
    reports = [line for line in out.splitlines() if "could not be written to" in line]
    assert 1 <= len(reports) <= 2, out[-3000:]  # the first failure, then once a minute at most
    assert os.path.islink(logs / "trader.log")  # nothing replaced the sink behind our back
