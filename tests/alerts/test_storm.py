"""Nothing floods: a storm of identical errors is a couple of messages, and every one is counted."""

from __future__ import annotations

import asyncio
import itertools

from sqlmodel import select

from alerts.pacing import DeliveryPolicy
from alerts.slack import WebhookDestination
from core.alerts import AlertKind, publish_alert
from core.bus import Bus
from database.engine import Database
from database.models import AlertRow
from tests.alerts.conftest import running_router, until
from tests.alerts.slack_server import RecordingSlack
from utils.clock import ManualClock

T0 = 1_717_243_384_000


async def test_a_thousand_identical_errors_in_a_minute_are_at_most_three_posts_and_all_counted(
    slack: RecordingSlack, db: Database
) -> None:
    wall = ManualClock(T0)  # the router's network clock: the storm runs in simulated seconds
    bus = Bus()
    async with running_router(
        bus, WebhookDestination(slack.webhook_url()), db=db, wall=wall, policy=DeliveryPolicy()
    ) as router:
        for i in range(1000):  # one every 60 ms: 1,000 within 60 s
            publish_alert(
                bus,
                AlertKind.ORDER_REJECTED,
                f"BUY 10 not sent: Binance -2019 (#{i})",
                time=wall.now_ms(),
                symbol="WLDUSDT",
            )
            await until(lambda n=i + 1: router.received == n, what=f"alert {i + 1} taken")
            wall.advance(60)
            if i == 0:
                await slack.wait_for(1, within=10)  # the first one goes out at once
        assert slack.count == 1
        wall.set(T0 + 301_000)  # the 5-minute window since the first message ends: the repeats go out
        posts = await slack.wait_for(2, within=10)
        wall.set(T0 + 900_000)  # two more quiet windows: nothing more to say
        await until(lambda: len(router._dedupe) == 0, what="the quiet key to be forgotten")
        await router.flush_store()

    assert len(slack.snapshot()) == 2 <= 3
    first, folded = (p.text for p in posts)
    assert first.startswith("[SIM] WARNING Order rejected · WLDUSDT: BUY 10 not sent: Binance -2019 (#0)")
    assert "(#999) … and 998 more in the last 5 min" in folded
    with db.session() as session:
        [row] = session.exec(select(AlertRow)).all()
    assert (row.occurrences, row.status, row.key) == (1000, "delivered", "order_rejected:WLDUSDT")
    assert row.time == T0 and row.last_time == T0 + 999 * 60
    assert router.status()["folded"] == 999 and router.status()["attempts"] == 2


async def test_a_storm_while_slack_is_down_is_one_message_when_it_is_back(
    slack: RecordingSlack, db: Database
) -> None:
    """Repeats fold into the message still waiting in the queue: no backlog of copies afterwards."""
    slack.refuse()
    bus = Bus()
    policy = DeliveryPolicy(
        rate_per_s=50, timeout_s=1, max_attempts=1000, backoff_base_s=0.05, backoff_max_s=0.1
    )
    async with running_router(bus, WebhookDestination(slack.webhook_url()), db=db, policy=policy) as router:
        for i in range(500):
            publish_alert(bus, AlertKind.STREAM_DOWN, f"user stream down ({i})", time=T0 + i)
        await until(lambda: router.received == 500 and router.attempts >= 3, what="retries while refused")
        slack.resume()
        posts = await slack.wait_for(1, within=10)
        await until(lambda: router.delivered == 1, what="the delivery")
        await router.flush_store()
        assert slack.count == 1
    assert "user stream down (499) … and 499 more in the last 5 min" in posts[0].text
    with db.session() as session:
        [row] = session.exec(select(AlertRow)).all()
    assert (row.occurrences, row.status, row.error) == (500, "delivered", "")
    assert row.attempts >= 3


async def test_nothing_is_posted_faster_than_one_message_a_second(slack: RecordingSlack) -> None:
    bus = Bus()
    async with running_router(bus, WebhookDestination(slack.webhook_url()), policy=DeliveryPolicy()):
        for symbol in ("WLDUSDT", "ADAUSDT", "BTCUSDT"):
            publish_alert(bus, AlertKind.RISK_LIMIT, "max_exposure reached", time=T0, symbol=symbol)
        posts = await slack.wait_for(3, within=15)
        await asyncio.sleep(0)
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    # Each attempt starts a full second after the previous one; arrival adds only loopback jitter.
    assert all(gap >= 0.95 for gap in gaps), gaps
