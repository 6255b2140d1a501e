"""The order path's alerts reach Slack: a rejection with Binance's code and message, an unknown
outcome that could not be resolved (and its resolution), and fills when they are switched on.

The real order manager against the simulator over loopback (tests/orders_integration/rig.py),
with the router on the same bus and the recording Slack server.
"""

from __future__ import annotations

from alerts.slack import WebhookDestination
from config.models import AlertsConfig
from core.events import Side
from database.engine import Database
from tests.alerts.conftest import running_router, until
from tests.alerts.slack_server import RecordingSlack
from tests.orders_integration.rig import order_rig


async def test_a_venue_rejection_is_alerted_with_binances_code_and_message(
    db: Database, slack: RecordingSlack
) -> None:
    async with order_rig(db) as rig, running_router(rig.bus, WebhookDestination(slack.webhook_url())):
        rig.server.inject("reject_orders", 1, code=-2019)
        rig.publish(rig.request("alert-reject", Side.BUY, "10"))
        await rig.wait_state("alert-reject", "REJECTED")
        [post] = await slack.wait_for(1, within=10)
    assert post.text.startswith(
        "[SIM] WARNING Order rejected · WLDUSDT: BUY 10 MARKET (alert-reject): "
        "Binance -2019: Margin is insufficient."
    )


async def test_an_unknown_outcome_left_unresolved_is_critical_and_its_resolution_follows(
    db: Database, slack: RecordingSlack
) -> None:
    async with (
        order_rig(db, timeout_s=0.5) as rig,
        running_router(rig.bus, WebhookDestination(slack.webhook_url())),
    ):
        # Executed, but the answer never comes (timeout), and every query by client id fails.
        rig.server.inject("rest_delay", "order", seconds=1.5, method="POST")
        rig.server.inject("rest_error", "order", when="before", status=503, method="GET", count=5)
        rig.server.inject("user_drop", 2, event="ORDER_TRADE_UPDATE")
        rig.publish(rig.request("alert-unknown", Side.BUY, "10"))
        posts = await slack.wait_for(2, within=20)
        await rig.wait_state("alert-unknown", "FILLED", within=10)
    unknown, resolved = (p.text for p in posts)
    assert unknown.startswith(
        "[SIM] CRITICAL Order outcome unknown · WLDUSDT: BUY 10 MARKET (alert-unknown): sent"
    )
    assert "never sent again until the poll learns the outcome" in unknown
    assert resolved.startswith("[SIM] INFO Order outcome resolved · WLDUSDT: alert-unknown: the venue has it")


async def test_fills_are_alerted_only_when_switched_on(db: Database, slack: RecordingSlack) -> None:
    on = AlertsConfig.model_validate({"kinds": {"fill": True}})
    async with order_rig(db) as rig:
        async with running_router(rig.bus, WebhookDestination(slack.webhook_url())) as router:
            rig.publish(rig.request("alert-fill-off", Side.BUY, "10"))
            await rig.wait_state("alert-fill-off", "FILLED")
            await until(lambda: router.disabled >= 1, what="the fill alert counted and ignored")
        assert slack.count == 0
        async with running_router(rig.bus, WebhookDestination(slack.webhook_url()), config=on):
            rig.publish(rig.request("alert-fill-on", Side.SELL, "10", reduce_only=True))
            await rig.wait_state("alert-fill-on", "FILLED")
            [post] = await slack.wait_for(1, within=10)
    assert post.text.startswith("[SIM] INFO Fill · WLDUSDT: SELL 10 @ ")
    assert "(taker)" in post.text and "order alert-fill-on FILLED" in post.text
