"""Messages say the mode first, fit Slack's limits, escape Slack's markup, and never carry a secret."""

from __future__ import annotations

import pytest

from alerts.render import TITLES, duration_text, render
from config.settings import Mode
from core.alerts import KIND_DEFAULTS, Alert, AlertKind, Severity
from utils.logging import add_secret

T0 = 1_717_243_384_000  # 2024-06-01 12:03:04 UTC


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("kind", list(AlertKind))
def test_every_kind_renders_in_every_mode_with_the_mode_first(kind: AlertKind, mode: Mode) -> None:
    alert = Alert.of(kind, "what happened", time=T0, symbol="WLDUSDT")
    message = render(alert, mode)
    label = mode.value.upper()
    severity = KIND_DEFAULTS[kind].severity.value.upper()
    assert message.text == f"[{label}] {severity} {TITLES[kind]} · WLDUSDT: what happened (12:03:04 UTC)"
    section, context = message.blocks
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"].startswith(f"*[{label}]* ")
    assert f"*{TITLES[kind]}* · `WLDUSDT`\nwhat happened" in section["text"]["text"]
    assert context["elements"][0]["text"] == f"{label} · {severity} · {kind.value} · 12:03:04 UTC"


def test_a_folded_message_says_how_many_more_in_which_window() -> None:
    alert = Alert.of(AlertKind.ORDER_REJECTED, "Binance -2019: Margin is insufficient.", time=T0)
    message = render(alert, Mode.LIVE, repeats=37, window_s=300)
    assert message.text == (
        "[LIVE] WARNING Order rejected: Binance -2019: Margin is insufficient. … and 37 more in the last "
        "5 min (12:03:04 UTC)"
    )
    assert message.blocks[0]["text"]["text"].endswith(
        "Margin is insufficient. … and 37 more in the last 5 min"
    )


def test_slack_markup_is_escaped_and_a_long_text_is_cut_to_slacks_limit() -> None:
    alert = Alert.of(AlertKind.RECONCILIATION, "<!channel> & <https://evil|click>", time=T0)
    section = render(alert, Mode.SIM).blocks[0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in section and "<!channel>" not in section
    huge = render(Alert.of(AlertKind.DAILY_SUMMARY, "x" * 10_000, time=T0), Mode.SIM)
    assert len(huge.blocks[0]["text"]["text"]) <= 3000 and len(huge.text) <= 3000


def test_secrets_are_masked_whether_given_or_known_to_the_log_redactor() -> None:
    add_secret("redactor-knows-this-1234")
    text = "key=abc echoed given-secret-5678 and redactor-knows-this-1234"
    message = render(
        Alert.of(AlertKind.ORDER_REJECTED, text, time=T0), Mode.PAPER, secrets=["given-secret-5678"]
    )
    body = message.text + repr(message.blocks)
    assert "given-secret-5678" not in body and "redactor-knows-this-1234" not in body
    assert message.text.startswith("[PAPER] WARNING Order rejected: key=abc echoed *** and ***")


def test_a_daemon_level_alert_has_no_symbol_and_a_custom_severity_shows() -> None:
    alert = Alert.of(AlertKind.DAEMON_STOPPED, "stopped on a failure", time=T0, severity=Severity.CRITICAL)
    message = render(alert, Mode.TESTNET)
    assert message.text == "[TESTNET] CRITICAL Daemon stopped: stopped on a failure (12:03:04 UTC)"
    assert ":rotating_light:" in message.blocks[0]["text"]["text"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "0 s"),
        (45, "45 s"),
        (60, "1 min"),
        (300, "5 min"),
        (90, "1 min 30 s"),
        (3600, "1 h"),
        (5400, "1 h 30 min"),
    ],
)
def test_durations_read_like_a_human_wrote_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
