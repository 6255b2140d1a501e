"""The crash matrix (issue 14): the daemon, a real process trading against a simulator that outlives
it, is killed with SIGKILL at each dangerous step of the order path, restarted, and must then agree
with the venue exactly, having sent no client id twice, and trade again without a human.

The kill point is set by TRADER_TEST_CRASH_AT (utils/crash_points.py), read once by the daemon.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.crash.harness import SPEED, Tally, check_db_equals_venue, daemon, wait_for_orders
from tests.integration.process_rig import cleanup
from tests.integration.venue import simulated_venue
from utils.crash_points import POINTS

pytestmark = pytest.mark.slow
# during_reconciliation: the 2nd run (a periodic one, with orders about), not the empty start-up run
AFTER = {"during_reconciliation": "3", "after_partial_fill": "1"}


@pytest.mark.parametrize("point", POINTS)
async def test_killed_at_each_step_nothing_is_lost_or_sent_twice(tmp_path: Path, point: str) -> None:
    tally = Tally()
    async with simulated_venue(speed=SPEED, fill_parts=2) as venue:
        first = daemon(
            tmp_path, venue, TRADER_TEST_CRASH_AT=point, TRADER_TEST_CRASH_AFTER=AFTER.get(point, "1")
        )
        second = daemon(tmp_path, venue)
        try:
            await first.start()
            if point == "during_shutdown":
                await first.wait_running()
                await wait_for_orders(first, more_than=0)
                first.signal(signal.SIGTERM)
            code = await first.wait_exit(within=90)
            assert code == -signal.SIGKILL, f"not killed at {point}: exit {code}\n{first.text()[-2000:]}"
            tally.kills += 1
            before = int(first.rows("SELECT count(*) FROM orders")[0][0])

            await second.start()
            await second.wait_running()
            tally.restarts += 1
            await wait_for_orders(second, more_than=before)  # trading resumed without a human
            second.signal(signal.SIGTERM)
            assert await second.wait_exit(within=30) == 0, second.text()[-2000:]
            check_db_equals_venue(second, venue, tally)
            # The operator is told the restart followed a crash, with what reconciliation found.
            recovery = second.rows("SELECT message FROM alerts WHERE kind = 'crash_recovery'")
            assert len(recovery) == 1 and "did not stop cleanly" in recovery[0][0], recovery
        finally:
            await cleanup(first, second)
    assert (tally.duplicates, tally.lost, tally.mismatches) == (0, 0, 0)
