"""At shutdown the router sends what it holds, folded repeats too, and records what it could not."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from alerts.pacing import DeliveryPolicy
from alerts.router import AlertRouter
from alerts.slack import WebhookDestination
from config.models import AlertsConfig
from config.settings import Mode
from core.alerts import AlertKind, publish_alert
from core.bus import Bus
from database.engine import Database
from database.models import AlertRow
from tests.alerts.conftest import FAST, until
from tests.alerts.slack_server import RecordingSlack, Reply

T0 = 1_717_243_384_000


async def test_drain_sends_the_repeats_still_waiting_for_their_window(
    slack: RecordingSlack, db: Database
) -> None:
    bus = Bus()
    router = AlertRouter(
        bus, AlertsConfig(), WebhookDestination(slack.webhook_url()), mode=Mode.PAPER, db=db, policy=FAST
    )
    task = asyncio.create_task(router.run())
    try:
        publish_alert(bus, AlertKind.STREAM_DOWN, "user stream down for 31 s", time=T0)
        await slack.wait_for(1, within=10)
        for n in range(3):  # within the 5-minute window: they wait for it
            publish_alert(bus, AlertKind.STREAM_DOWN, f"user stream down ({n})", time=T0 + n)
        assert await router.drain(5.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    _first, folded = (p.text for p in slack.snapshot())
    assert folded.startswith(
        "[PAPER] WARNING Stream down: user stream down (2) … and 2 more in the last 5 min"
    )
    with db.session() as session:
        [row] = session.exec(select(AlertRow)).all()
    assert (row.occurrences, row.status) == (4, "delivered")


async def test_what_cannot_go_out_before_the_deadline_is_recorded_undelivered(
    slack: RecordingSlack, db: Database
) -> None:
    slack.default = Reply(hang_s=30)
    bus = Bus()
    policy = DeliveryPolicy(rate_per_s=100, timeout_s=5.0)
    router = AlertRouter(
        bus, AlertsConfig(), WebhookDestination(slack.webhook_url()), mode=Mode.LIVE, db=db, policy=policy
    )
    task = asyncio.create_task(router.run())
    try:
        publish_alert(bus, AlertKind.KILL_SWITCH, "halted by operator", time=T0)
        publish_alert(bus, AlertKind.DAEMON_STOPPED, "stopped (exit code 0)", time=T0)
        await until(lambda: slack.count == 1, what="the first post to hang")
        assert not await router.drain(0.5)  # Slack hangs: the deadline passes
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with db.session() as session:
        rows = {r.kind: r for r in session.exec(select(AlertRow)).all()}
    assert {k: (r.status, r.error) for k, r in rows.items()} == {
        "kill_switch": ("undelivered", "the daemon stopped before it could be sent"),
        "daemon_stopped": ("undelivered", "the daemon stopped before it could be sent"),
    }
