"""Alert messages as Slack shows them: the mode first, short, Block Kit with a plain-text fallback.

    [LIVE] CRITICAL Kill switch ON: halted by operator (12:03:04 UTC)

The plain text is what notifications, old clients and screen readers show; the blocks are what a
desktop client shows. Both start with the mode so a simulated alert is never read as money. Text
is escaped for Slack's mrkdwn, cut to Slack's limits, and every known secret is masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from config.settings import Mode
from core.alerts import Alert, AlertKind, Severity
from utils.logging import redact_text

_MAX_TEXT = 2900  # a section block takes 3000 characters; leave room for the heading

TITLES: Mapping[AlertKind, str] = MappingProxyType(
    {
        AlertKind.DAEMON_STARTED: "Daemon started",
        AlertKind.DAEMON_STOPPED: "Daemon stopped",
        AlertKind.KILL_SWITCH: "Kill switch ON",
        AlertKind.KILL_SWITCH_RELEASED: "Kill switch released",
        AlertKind.SYMBOL_PAUSED: "Entries paused",
        AlertKind.LOSS_STREAK_HALT: "Halted after consecutive losses",
        AlertKind.DAILY_LOSS_HALT: "Daily loss limit reached",
        AlertKind.HALT_RELEASED: "Entries resumed",
        AlertKind.FLATTEN: "Flatten",
        AlertKind.TRADING_HALTED: "Trading halted",
        AlertKind.RISK_LIMIT: "Risk limit reached",
        AlertKind.ORDER_REJECTED: "Order rejected",
        AlertKind.ORDER_UNKNOWN: "Order outcome unknown",
        AlertKind.ORDER_UNKNOWN_RESOLVED: "Order outcome resolved",
        AlertKind.ORDER_LOST: "Order LOST",
        AlertKind.STREAM_DOWN: "Stream down",
        AlertKind.STREAM_RECOVERED: "Stream recovered",
        AlertKind.FILL: "Fill",
        AlertKind.DAILY_SUMMARY: "Daily summary",
        AlertKind.RECONCILIATION: "Reconciliation differences",
        AlertKind.CRASH_RECOVERY: "Restarted after a crash",
        AlertKind.HEARTBEAT_STALE: "Heartbeat stale",
        AlertKind.DAEMON_DEGRADED: "Daemon degraded",
        AlertKind.DAEMON_RECOVERED: "Daemon healthy again",
        AlertKind.TEST: "Test message",
    }
)

_EMOJI: Mapping[Severity, str] = MappingProxyType(
    {
        Severity.INFO: ":large_blue_circle:",
        Severity.WARNING: ":warning:",
        Severity.CRITICAL: ":rotating_light:",
    }
)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One Slack message: `text` is the fallback, `blocks` the Block Kit layout."""

    text: str
    blocks: list[dict[str, Any]]


def mode_label(mode: Mode) -> str:
    """SIM, PAPER, TESTNET or LIVE."""
    return mode.value.upper()


def duration_text(seconds: float) -> str:
    """A short human duration: 45 s, 5 min, 2 h, 1 h 30 min."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" if rest == 0 else f"{minutes} min {rest} s"
    hours, rest = divmod(whole // 60, 60)
    return f"{hours} h" if rest == 0 else f"{hours} h {rest} min"


def clock_text(time_ms: int) -> str:
    """HH:MM:SS UTC of an epoch-milliseconds time."""
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%H:%M:%S UTC")


def fold_text(repeats: int, window_s: float) -> str:
    """What a message says about the repeats folded into it ("" when there are none)."""
    if repeats <= 0:
        return ""
    return f" … and {repeats} more in the last {duration_text(window_s)}"


def render(
    alert: Alert, mode: Mode, *, repeats: int = 0, window_s: float = 300.0, secrets: Iterable[str] = ()
) -> Rendered:
    """The message for `alert` (carrying `repeats` more occurrences), in `mode`."""
    label = mode_label(mode)
    title = TITLES[alert.kind]
    body = scrub(alert.text, secrets)
    if len(body) > _MAX_TEXT:
        body = body[: _MAX_TEXT - 1] + "…"
    fold = fold_text(repeats, window_s)
    when = clock_text(alert.time)
    subject = f" · {alert.symbol}" if alert.symbol else ""
    severity = alert.severity.value.upper()
    text = f"[{label}] {severity} {title}{subject}: {body}{fold} ({when})"
    heading = f"*[{label}]* {_EMOJI[alert.severity]} *{_escape(title)}*"
    if alert.symbol:
        heading += f" · `{_escape(alert.symbol)}`"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{heading}\n{_escape(body)}{fold}"}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{label} · {severity} · {alert.kind.value} · {when}"}],
        },
    ]
    return Rendered(text=text, blocks=blocks)


def _escape(text: str) -> str:
    # The three characters Slack's mrkdwn gives a meaning to (links, mentions).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets` and every secret the log redactor knows masked."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return redact_text(text)


__all__ = ["TITLES", "Rendered", "clock_text", "duration_text", "fold_text", "mode_label", "render", "scrub"]
