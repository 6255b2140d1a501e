"""Shared pieces of the alert tests: the recording Slack server, a running router, fast pacing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from alerts.pacing import DeliveryPolicy
from alerts.router import AlertRouter
from alerts.slack import Destination
from config.models import AlertsConfig
from config.settings import Mode
from core.bus import Bus
from database.engine import Database
from tests.alerts.slack_server import RecordingSlack
from utils.clock import Clock

# Quick pacing for tests about what is sent, not how fast: the 1 message/s default is tested
# on its own (test_outage.py).
FAST = DeliveryPolicy(rate_per_s=200.0, timeout_s=2.0, backoff_base_s=0.05, backoff_max_s=0.2)


@pytest.fixture
def slack() -> Iterator[RecordingSlack]:
    """A recording Slack on 127.0.0.1 (webhook at any path, Web API under /api/)."""
    with RecordingSlack() as server:
        yield server


@asynccontextmanager
async def running_router(
    bus: Bus,
    destination: Destination | None,
    *,
    db: Database | None = None,
    config: AlertsConfig | None = None,
    mode: Mode = Mode.SIM,
    policy: DeliveryPolicy = FAST,
    wall: Clock | None = None,
    **options: Any,
) -> AsyncIterator[AlertRouter]:
    """An AlertRouter subscribed on `bus` and running as a task, cancelled afterwards."""
    router = AlertRouter(
        bus, config or AlertsConfig(), destination, mode=mode, db=db, policy=policy, wall=wall, **options
    )
    task = asyncio.create_task(router.run(), name="test.alerts")
    try:
        yield router
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(predicate: Any, within: float = 5.0, what: str = "the condition") -> None:
    """Wait (wall time) until `predicate()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    turns = 0
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        turns += 1
        await asyncio.sleep(0 if turns <= 5 else 0.01)  # a task that is ready needs one turn
