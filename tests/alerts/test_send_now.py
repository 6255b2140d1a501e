"""`send_now`: one alert, synchronously, with the router's rules, recorded; for the watchdog."""

from __future__ import annotations

from pydantic import SecretStr
from sqlmodel import select

from alerts import send_now
from alerts.pacing import DeliveryPolicy
from alerts.slack import Outcome
from config.loader import load_settings
from config.settings import Mode
from core.alerts import Alert, AlertKind
from database.engine import Database
from database.models import AlertRow
from tests.alerts.slack_server import RecordingSlack, Reply

T0 = 1_717_243_384_000
STALE = Alert.of(AlertKind.HEARTBEAT_STALE, "no heartbeat for 95 s (pid 4242)", time=T0)


def test_a_429_is_waited_out_a_500_retried_and_the_alert_recorded(
    slack: RecordingSlack, db: Database
) -> None:
    slack.script.extend([Reply(429, "rate_limited", headers={"Retry-After": "3"}), Reply(500, "oops")])
    settings = load_settings(_env_file=None, slack_webhook_url=SecretStr(slack.webhook_url()))
    waits: list[float] = []
    result = send_now(
        settings,
        STALE,
        mode=Mode.LIVE,
        database_url=db.url,
        policy=DeliveryPolicy(backoff_base_s=0.5),
        sleep=waits.append,  # the watchdog's own thread would sleep; here the waits are recorded
    )
    assert result.ok and waits == [3.0, 1.0]  # Retry-After, then the backoff (at least the 1 s spacing)
    posts = slack.snapshot()
    assert len(posts) == 3
    expected = "[LIVE] CRITICAL Heartbeat stale: no heartbeat for 95 s (pid 4242) (12:03:04 UTC)"
    assert posts[-1].text == expected
    with db.session() as session:
        [row] = session.exec(select(AlertRow)).all()
    assert (row.kind, row.severity, row.status, row.attempts, row.time) == (
        "heartbeat_stale", "critical", "delivered", 3, T0,
    )


def test_a_refused_token_fails_at_once_and_is_recorded_undelivered(
    slack: RecordingSlack, db: Database
) -> None:
    slack.default = Reply(200, '{"ok": false, "error": "invalid_auth"}')
    settings = load_settings(
        _env_file=None,
        slack_bot_token=SecretStr("xoxb-send-now-bad-token"),
        slack_channel="#ops",
        slack_api_url=slack.api_url,
    )
    result = send_now(settings, STALE, mode=Mode.TESTNET, database_url=db.url, sleep=lambda _s: None)
    assert result.outcome is Outcome.FAILED and result.reason.startswith("invalid_auth: ")
    assert slack.count == 1  # a refusal is not retried
    with db.session() as session:
        [row] = session.exec(select(AlertRow)).all()
    assert (row.status, row.error) == ("undelivered", result.reason)


def test_without_slack_it_is_logged_and_recorded_and_says_so(db: Database) -> None:
    result = send_now(load_settings(_env_file=None), STALE, mode=Mode.SIM, database_url=db.url)
    assert result.outcome is Outcome.FAILED
    assert result.reason.startswith("none: alerts are recorded and logged only")
    with db.session() as session:
        [row] = session.exec(select(AlertRow)).all()
    assert (row.status, row.error, row.attempts) == ("logged", "", 0)


def test_a_network_failure_never_raises(slack: RecordingSlack) -> None:
    slack.refuse()
    settings = load_settings(_env_file=None, slack_webhook_url=SecretStr(slack.webhook_url()))
    result = send_now(settings, STALE, mode=Mode.LIVE, attempts=2, sleep=lambda _s: None)
    assert result.outcome is Outcome.RETRYABLE
    assert result.reason == f"network: 127.0.0.1:{slack.port} refused the connection"
