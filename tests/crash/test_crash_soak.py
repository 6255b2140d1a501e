"""The crash soak (issue 14): 20 SIGKILLs at random moments while the daemon trades; after each
restart the daemon must come back by itself, and every few kills (and at the end), after a clean
stop, the database must agree with the venue exactly with no client id sent twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.crash.harness import SPEED, Tally, check_db_equals_venue, daemon, wait_for_orders
from tests.integration.process_rig import cleanup
from tests.integration.venue import simulated_venue

pytestmark = pytest.mark.slow
KILLS = 20
CHECK_EVERY = 5


@pytest.mark.timeout(600)
async def test_twenty_random_kills_lose_nothing_and_trading_resumes(tmp_path: Path) -> None:
    seed = int(os.environ.get("SOAK_SEED") or time.time())  # SOAK_SEED=N replays a run's kill moments
    rng = random.Random(seed)
    print(f"seed {seed}")  # in the captured output of a failure too
    tally = Tally()
    async with simulated_venue(speed=SPEED, fill_parts=2) as venue:
        for kill in range(1, KILLS + 1):
            process = daemon(tmp_path, venue)
            try:
                await process.start()
                await process.wait_running()
                if kill > 1:
                    tally.restarts += 1
                await asyncio.sleep(rng.uniform(0.5, 5.0))  # a random moment while it trades
                process.process.kill()  # type: ignore[union-attr]
                assert await process.wait_exit() == -signal.SIGKILL
                tally.kills += 1
            finally:
                await cleanup(process)
            if kill % CHECK_EVERY == 0:
                checker = daemon(tmp_path, venue)
                try:
                    await checker.start()
                    await checker.wait_running()
                    tally.restarts += 1
                    before = int(checker.rows("SELECT count(*) FROM orders")[0][0])
                    await wait_for_orders(checker, more_than=before)  # trading resumed by itself
                    checker.signal(signal.SIGTERM)
                    assert await checker.wait_exit(within=30) == 0
                    check_db_equals_venue(checker, venue, tally)
                finally:
                    await cleanup(checker)
        orders = int(process.rows("SELECT count(*) FROM orders")[0][0])
    summary = (
        f"seed {seed}: {tally.kills} kills, {tally.restarts} restarts, {orders} orders, "
        f"duplicates {tally.duplicates}, lost {tally.lost}, mismatches {tally.mismatches}"
    )
    print(summary)
    assert tally.kills == KILLS and (tally.duplicates, tally.lost, tally.mismatches) == (0, 0, 0), summary
