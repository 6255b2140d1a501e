"""Every alert kind reaches Slack (webhook and bot) with the mode first, and no secret in any body."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from sqlmodel import select

from alerts.slack import BotDestination, WebhookDestination, destination_from
from config.loader import load_settings
from config.models import AlertsConfig
from config.settings import Mode, Settings
from core import channels
from core.alerts import Alert, AlertKind, publish_alert
from core.bus import Bus
from database.engine import Database
from database.models import AlertRow
from tests.alerts.conftest import running_router, until
from tests.alerts.slack_server import RecordingSlack

T0 = 1_717_243_384_000  # 2024-06-01 12:03:04 UTC
SECRETS = {
    "api_key": "KEYalertsTest1234567890abcdef",
    "api_secret": "SECRETalertsTest0987654321zyx",
    "slack_bot_token": "xoxb-1111-2222-alerts-secret-token",
}
WEBHOOK_SECRET = "T0ALERTS/B0ALERTS/WebhookPathSecret12345"


def _settings(slack: RecordingSlack, *, bot: bool) -> Settings:
    values: dict[str, object] = {k: SecretStr(v) for k, v in SECRETS.items()}
    if bot:
        values.update(slack_channel="#trading", slack_api_url=slack.api_url)
    else:
        values["slack_webhook_url"] = SecretStr(slack.webhook_url(WEBHOOK_SECRET))
    return load_settings(_env_file=None, **values)


def _every_kind() -> list[Alert]:
    return [
        Alert.of(kind, f"what happened for {kind.value}", time=T0 + i, symbol="WLDUSDT" if i % 2 else None)
        for i, kind in enumerate(AlertKind)
    ]


@pytest.mark.parametrize("bot", [False, True], ids=["webhook", "bot"])
async def test_every_kind_is_delivered_with_the_mode_first_and_no_secret(
    slack: RecordingSlack, bot: bool
) -> None:
    settings = _settings(slack, bot=bot)
    destination = destination_from(settings)
    assert isinstance(destination, BotDestination if bot else WebhookDestination)
    every_kind = AlertsConfig.model_validate({"kinds": {"fill": True}})
    bus = Bus()
    alerts = _every_kind()
    # An alert whose text carries a secret (an error that quoted a key) is masked, not sent.
    leaky = Alert.of(AlertKind.ORDER_REJECTED, f"echoed {SECRETS['api_secret']}", time=T0, symbol="ADAUSDT")
    async with running_router(
        bus, destination, config=every_kind, mode=Mode.LIVE, secrets=settings.secret_values()
    ) as router:
        for alert in [*alerts, leaky]:
            bus.publish(channels.ALERT, alert)
        received = await slack.wait_for(len(alerts) + 1, within=20)
        await until(lambda: router.delivered == len(alerts) + 1, what="every delivery counted")

    assert {r.path for r in received} == (
        {"/api/chat.postMessage"} if bot else {f"/services/{WEBHOOK_SECRET}"}
    )
    by_title = {r.text: r for r in received}
    for alert in alerts:
        matching = [r for r in received if f"what happened for {alert.kind.value} (" in r.text]
        assert len(matching) == 1, alert.kind
        body = matching[0].payload
        assert body["text"].startswith("[LIVE] "), body["text"]
        section = body["blocks"][0]["text"]["text"]
        assert section.startswith("*[LIVE]*"), section
        assert "12:03:04 UTC" in body["text"]
        if alert.symbol:
            assert "WLDUSDT" in body["text"] and "WLDUSDT" in section
        if bot:
            assert body["channel"] == "#trading"
    assert any("echoed ***" in text for text in by_title)
    for request in received:
        for secret in [*SECRETS.values(), WEBHOOK_SECRET]:
            assert secret not in request.raw, f"a secret reached Slack in {request.path}"


async def test_a_kind_switched_off_is_neither_sent_nor_stored_and_the_yaml_severity_wins(
    slack: RecordingSlack, db: Database
) -> None:
    config = AlertsConfig.model_validate(
        {"kinds": {"risk_limit": {"enabled": False}, "order_rejected": {"severity": "critical"}}}
    )
    bus = Bus()
    async with running_router(bus, WebhookDestination(slack.webhook_url()), db=db, config=config) as router:
        publish_alert(bus, AlertKind.RISK_LIMIT, "max_exposure reached", time=T0, symbol="WLDUSDT")
        publish_alert(bus, AlertKind.FILL, "BUY 10 @ 2", time=T0, symbol="WLDUSDT")  # off by default
        publish_alert(bus, AlertKind.ORDER_REJECTED, "-2019 Margin is insufficient.", time=T0)
        await slack.wait_for(1, within=10)
        await until(lambda: router.received == 3 and router.delivered == 1, what="the three alerts handled")
        await router.flush_store()
    assert router.disabled == 2
    [post] = slack.snapshot()
    assert post.text.startswith("[SIM] CRITICAL Order rejected: -2019 Margin is insufficient.")
    with db.session() as session:
        rows = session.exec(select(AlertRow)).all()
    assert [(r.kind, r.severity, r.status, r.occurrences) for r in rows] == [
        ("order_rejected", "critical", "delivered", 1)
    ]


async def test_without_a_destination_alerts_are_recorded_and_logged_only(db: Database) -> None:
    settings = load_settings(_env_file=None)
    assert destination_from(settings) is None
    bus = Bus()
    async with running_router(bus, None, db=db) as router:
        publish_alert(bus, AlertKind.KILL_SWITCH, "halted by operator", time=T0)
        publish_alert(bus, AlertKind.KILL_SWITCH, "halted by operator", time=T0 + 1)
        await until(lambda: router.received == 2, what="both alerts taken")
        await router.flush_store()
    with db.session() as session:
        [row] = session.exec(select(AlertRow)).all()
    assert (row.kind, row.severity, row.status, row.occurrences, row.key) == (
        "kill_switch",
        "critical",
        "logged",
        2,
        "kill_switch",
    )
    assert row.time == T0 and row.last_time == T0 + 1


async def test_every_outcome_is_stored_with_its_reason(slack: RecordingSlack, db: Database) -> None:
    from tests.alerts.slack_server import Reply

    slack.script.extend([Reply(404, "no_service"), Reply(200, "ok")])
    bus = Bus()
    async with running_router(bus, WebhookDestination(slack.webhook_url()), db=db) as router:
        publish_alert(bus, AlertKind.ORDER_LOST, "never reached the venue", time=T0, symbol="WLDUSDT")
        publish_alert(bus, AlertKind.STREAM_DOWN, "market-0 stream down for 31 s", time=T0)
        await slack.wait_for(2, within=10)
        await until(lambda: router.delivered + router.undelivered == 2, what="both outcomes")
        await router.flush_store()
    with db.session() as session:
        rows = {r.kind: r for r in session.exec(select(AlertRow)).all()}
    lost, down = rows["order_lost"], rows["stream_down"]
    # CRITICAL goes first: the 404 hit the LOST alert, which is not retried (a bad webhook stays bad).
    assert (lost.status, lost.attempts, lost.key, lost.symbol) == (
        "undelivered",
        1,
        "order_lost:WLDUSDT",
        "WLDUSDT",
    )
    assert lost.error.startswith("bad webhook: Slack answered 404 no_service")
    assert WEBHOOK_SECRET not in lost.error and "/services/" not in lost.error
    assert (down.status, down.attempts, down.error) == ("delivered", 1, "")
    assert router.status()["undelivered"] == 1 and json.dumps(router.status())


def test_a_bot_token_without_a_channel_is_a_configuration_error() -> None:
    from core.errors import ConfigError

    settings = load_settings(_env_file=None, slack_bot_token=SecretStr("xoxb-no-channel-1234"))
    with pytest.raises(ConfigError) as raised:
        destination_from(settings)
    assert raised.value.line() == (
        "environment: TRADER_SLACK_CHANNEL: is not set but TRADER_SLACK_BOT_TOKEN is: name the channel, "
        "e.g. #trading"
    )
    assert "xoxb-no-channel-1234" not in raised.value.line()


async def test_a_live_edit_switches_a_kind_on_from_the_next_alert(slack: RecordingSlack) -> None:
    bus = Bus()
    async with running_router(bus, WebhookDestination(slack.webhook_url())) as router:
        publish_alert(bus, AlertKind.FILL, "BUY 10 @ 2 (before)", time=T0, symbol="WLDUSDT")
        await until(lambda: router.disabled == 1, what="the fill ignored")
        edited = AlertsConfig.model_validate({"kinds": {"fill": True}, "dedupe_window_seconds": 60})
        router.update_config(edited)
        publish_alert(bus, AlertKind.FILL, "BUY 10 @ 2 (after)", time=T0, symbol="WLDUSDT")
        [post] = await slack.wait_for(1, within=10)
    assert post.text.startswith("[SIM] INFO Fill · WLDUSDT: BUY 10 @ 2 (after)")
