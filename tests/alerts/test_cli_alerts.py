"""`python -m trader alerts test` as a user runs it (a real subprocess) against a recording Slack,
and `config check` telling when alerts only get recorded and logged."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT
from tests.alerts.slack_server import RecordingSlack, Reply, web_api_error

SHIPPED = PROJECT_ROOT / "config" / "config.yaml"
TOKEN = "xoxb-4242-cli-test-token-value"
HOOK = "TCLI0000/BCLI0000/CliWebhookSecretPath99"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def trader(tmp_path: Path) -> Run:
    """Run `python -m trader ARGS` in tmp_path with a clean TRADER_* environment."""
    base = {
        k: v for k, v in os.environ.items() if not k.upper().startswith(("TRADER_", "OP_SERVICE_ACCOUNT"))
    }
    base.update(TRADER_LOG_DIR=str(tmp_path / "logs"), TRADER_DATABASE_URL=f"sqlite:///{tmp_path}/t.db")

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "trader",
                *args,
                *(["--config", str(SHIPPED)] if args[0] == "alerts" else []),
            ],
            cwd=tmp_path,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def _bot(slack: RecordingSlack) -> dict[str, str]:
    return {
        "TRADER_SLACK_BOT_TOKEN": TOKEN,
        "TRADER_SLACK_CHANNEL": "#trading",
        "TRADER_SLACK_API_URL": slack.api_url,
    }


def _no_secret(result: subprocess.CompletedProcess[str], slack: RecordingSlack) -> None:
    for secret in (TOKEN, HOOK):
        assert secret not in result.stdout + result.stderr
        assert all(secret not in r.raw for r in slack.snapshot())


def test_alerts_test_prints_ok_and_the_test_message_arrives_by_webhook(
    trader: Run, slack: RecordingSlack
) -> None:
    result = trader("alerts", "test", TRADER_SLACK_WEBHOOK_URL=slack.webhook_url(HOOK))
    assert (result.returncode, result.stdout, result.stderr) == (0, "OK\n", "")
    [post] = slack.snapshot()
    assert post.path == f"/services/{HOOK}"
    assert post.text.startswith("[SIM] INFO Test message: test message from trader on ")
    _no_secret(result, slack)


def test_alerts_test_prints_ok_with_a_bot_token_and_channel(trader: Run, slack: RecordingSlack) -> None:
    result = trader("alerts", "test", **_bot(slack))
    assert (result.returncode, result.stdout) == (0, "OK\n")
    [post] = slack.snapshot()
    assert post.path == "/api/chat.postMessage" and post.payload["channel"] == "#trading"
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"  # the token goes in a header, not a body
    _no_secret(result, slack)


@pytest.mark.parametrize(
    ("reply", "line"),
    [
        (
            web_api_error("invalid_auth"),
            "invalid_auth: Slack refused TRADER_SLACK_BOT_TOKEN (check the token)",
        ),
        (
            web_api_error("channel_not_found", status=404),
            "404 channel_not_found: TRADER_SLACK_CHANNEL=#trading does not exist or the bot cannot see it "
            "(check the name, invite the bot)",
        ),
        (web_api_error("missing_scope"), "missing_scope: give the bot the chat:write scope, reinstall it"),
    ],
    ids=["invalid_auth", "channel_not_found", "missing_scope"],
)
def test_alerts_test_says_why_the_bot_was_refused(
    trader: Run, slack: RecordingSlack, reply: Reply, line: str
) -> None:
    slack.default = reply
    result = trader("alerts", "test", **_bot(slack))
    assert (result.returncode, result.stdout, result.stderr) == (1, line + "\n", "")
    _no_secret(result, slack)


def test_alerts_test_says_the_webhook_is_bad(trader: Run, slack: RecordingSlack) -> None:
    slack.default = Reply(404, "no_service")
    result = trader("alerts", "test", TRADER_SLACK_WEBHOOK_URL=slack.webhook_url(HOOK))
    assert result.returncode == 1
    assert result.stdout == "bad webhook: Slack answered 404 no_service (check TRADER_SLACK_WEBHOOK_URL)\n"
    _no_secret(result, slack)


def test_alerts_test_says_when_the_network_is_the_problem(trader: Run, slack: RecordingSlack) -> None:
    slack.refuse()
    result = trader("alerts", "test", TRADER_SLACK_WEBHOOK_URL=slack.webhook_url(HOOK))
    assert (result.returncode, result.stdout) == (
        1,
        f"network: 127.0.0.1:{slack.port} refused the connection\n",
    )
    _no_secret(result, slack)


def test_alerts_test_without_a_destination_says_what_to_set(trader: Run) -> None:
    result = trader("alerts", "test")
    assert result.returncode == 1
    assert result.stdout == (
        "none: alerts are recorded and logged only (set TRADER_SLACK_WEBHOOK_URL, or TRADER_SLACK_BOT_TOKEN "
        "and TRADER_SLACK_CHANNEL)\n"
    )


def test_config_check_says_where_alerts_go(trader: Run, slack: RecordingSlack) -> None:
    alone = trader("config", "check", "--config", str(SHIPPED))
    assert alone.returncode == 0
    assert (
        "destination: 'none: alerts are recorded and logged only (set TRADER_SLACK_WEBHOOK_URL,"
        in alone.stdout
    )
    assert "    fill: off, info\n" in alone.stdout and "    kill_switch: on, critical\n" in alone.stdout
    hooked = trader(
        "config", "check", "--config", str(SHIPPED), TRADER_SLACK_WEBHOOK_URL=slack.webhook_url(HOOK)
    )
    assert (
        f"destination: Slack incoming webhook at 127.0.0.1:{slack.port} (TRADER_SLACK_WEBHOOK_URL)"
        in hooked.stdout
    )
    assert HOOK not in hooked.stdout
    half = trader("config", "check", "--config", str(SHIPPED), TRADER_SLACK_BOT_TOKEN=TOKEN)
    assert half.returncode == 2 and half.stdout == ""
    assert half.stderr == (
        "environment: TRADER_SLACK_CHANNEL: is not set but TRADER_SLACK_BOT_TOKEN is: "
        "name the channel, e.g. #trading\n"
    )
