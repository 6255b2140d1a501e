"""Alerts for humans: what a component publishes on the `alert` channel for the router to send.

A component never talks to Slack. It publishes an `Alert` (`publish_alert(bus, kind, text, ...)`)
and goes on; the router (alerts/router.py) stores it, folds repeats of the same (kind, symbol)
and delivers it at its own pace, off the trading path. A process without a bus (the watchdog)
calls `alerts.send_now` instead.

Each kind has a default severity and a default on/off switch; `alerts.kinds` in the YAML file
overrides either, per kind. Fills are the one kind that is off unless switched on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from core import channels
from core.bus import Bus


class Severity(StrEnum):
    """How much an alert matters: CRITICAL is never dropped and goes out first."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for INFO, 1 for WARNING, 2 for CRITICAL."""
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertKind(StrEnum):
    """What happened. The value is the YAML key under `alerts.kinds` and the `kind` column."""

    DAEMON_STARTED = "daemon_started"
    DAEMON_STOPPED = "daemon_stopped"
    KILL_SWITCH = "kill_switch"
    KILL_SWITCH_RELEASED = "kill_switch_released"
    SYMBOL_PAUSED = "symbol_paused"
    LOSS_STREAK_HALT = "loss_streak_halt"
    DAILY_LOSS_HALT = "daily_loss_halt"
    HALT_RELEASED = "halt_released"
    FLATTEN = "flatten"
    TRADING_HALTED = "trading_halted"
    RISK_LIMIT = "risk_limit"
    ORDER_REJECTED = "order_rejected"
    ORDER_UNKNOWN = "order_unknown"
    ORDER_UNKNOWN_RESOLVED = "order_unknown_resolved"
    ORDER_LOST = "order_lost"
    STREAM_DOWN = "stream_down"
    STREAM_RECOVERED = "stream_recovered"
    FILL = "fill"
    DAILY_SUMMARY = "daily_summary"
    RECONCILIATION = "reconciliation"
    CRASH_RECOVERY = "crash_recovery"
    HEARTBEAT_STALE = "heartbeat_stale"
    DAEMON_DEGRADED = "daemon_degraded"
    DAEMON_RECOVERED = "daemon_recovered"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class KindDefaults:
    """A kind's default severity and whether it is sent unless the YAML says otherwise."""

    severity: Severity
    when: str
    enabled: bool = True


_I, _W, _C = Severity.INFO, Severity.WARNING, Severity.CRITICAL
KIND_DEFAULTS: Mapping[AlertKind, KindDefaults] = MappingProxyType(
    {
        AlertKind.DAEMON_STARTED: KindDefaults(_I, "the daemon started (mode, symbols, version)"),
        AlertKind.DAEMON_STOPPED: KindDefaults(
            _I, "the daemon stopped (exit code, why); critical when it stopped on a failure"
        ),
        AlertKind.KILL_SWITCH: KindDefaults(_C, "`python -m trader halt` (also: in force at start)"),
        AlertKind.KILL_SWITCH_RELEASED: KindDefaults(_W, "`python -m trader resume`"),
        AlertKind.SYMBOL_PAUSED: KindDefaults(_W, "`python -m trader halt --symbol S`"),
        AlertKind.LOSS_STREAK_HALT: KindDefaults(
            _C, "N consecutive losing trades halted a symbol's entries (cool-down)"
        ),
        AlertKind.DAILY_LOSS_HALT: KindDefaults(
            _C,
            "an entry refused by the daily loss limit, or by the portfolio-wide one (once, until released)",
        ),
        AlertKind.HALT_RELEASED: KindDefaults(
            _I, "a symbol's halt lifted: resumed, cool-down over, daily loss back within the limit"
        ),
        AlertKind.FLATTEN: KindDefaults(
            _W, "the outcome of `python -m trader flatten`; critical when it did not end flat"
        ),
        AlertKind.TRADING_HALTED: KindDefaults(
            _C, "the venue refused us for a reason no retry fixes (keys, ban): no order is sent"
        ),
        AlertKind.RISK_LIMIT: KindDefaults(
            _W, "an entry refused by an exposure, allocation, quantity or order-rate limit"
        ),
        AlertKind.ORDER_REJECTED: KindDefaults(
            _W, "an order refused, with Binance's code and message (or why it was not sent)"
        ),
        AlertKind.ORDER_UNKNOWN: KindDefaults(
            _C, "an order's outcome could not be learned (it stays UNKNOWN, never resent blindly)"
        ),
        AlertKind.ORDER_UNKNOWN_RESOLVED: KindDefaults(_I, "an UNKNOWN order's outcome was learned"),
        AlertKind.ORDER_LOST: KindDefaults(_C, "an order proven never to have reached the venue"),
        AlertKind.STREAM_DOWN: KindDefaults(
            _W, "a market or user-data stream down longer than `alerts.stream_down_seconds`"
        ),
        AlertKind.STREAM_RECOVERED: KindDefaults(_I, "a stream that was reported down is back"),
        AlertKind.FILL: KindDefaults(
            _I, "every fill (off unless switched on with `fill: true`)", enabled=False
        ),
        AlertKind.DAILY_SUMMARY: KindDefaults(
            _I, "at `alerts.daily_summary_utc`: trades, net realized PnL, open positions, alerts of the day"
        ),
        AlertKind.RECONCILIATION: KindDefaults(
            _W,
            "a reconciliation repaired something, found positions it could not make agree"
            " (critical), or could not reach the venue",
        ),
        AlertKind.CRASH_RECOVERY: KindDefaults(
            _W, "the start-up after a run that did not stop cleanly: what reconciliation found and fixed"
        ),
        AlertKind.HEARTBEAT_STALE: KindDefaults(
            _C, "from the watchdog: the heartbeat is stale or the daemon is not running"
        ),
        AlertKind.DAEMON_DEGRADED: KindDefaults(
            _W, "from the watchdog: degraded for longer than `--degraded-for` seconds"
        ),
        AlertKind.DAEMON_RECOVERED: KindDefaults(
            _I, "from the watchdog: healthy again after a stale or degraded alert"
        ),
        AlertKind.TEST: KindDefaults(_I, "`python -m trader alerts test`"),
    }
)


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing a human should know. `time` is epoch ms on the publisher's clock; `symbol` is
    None for what concerns the whole daemon. Repeats are folded per `key` = (kind, symbol)."""

    severity: Severity
    kind: AlertKind
    symbol: str | None
    text: str
    time: int

    @property
    def key(self) -> tuple[AlertKind, str | None]:
        """What the router de-duplicates on."""
        return (self.kind, self.symbol)

    @classmethod
    def of(
        cls,
        kind: AlertKind,
        text: str,
        *,
        time: int,
        symbol: str | None = None,
        severity: Severity | None = None,
    ) -> Alert:
        """An alert with the kind's default severity unless `severity` is given."""
        return cls(severity or KIND_DEFAULTS[kind].severity, kind, symbol, text, time)


def publish_alert(
    bus: Bus,
    kind: AlertKind,
    text: str,
    *,
    time: int,
    symbol: str | None = None,
    severity: Severity | None = None,
) -> Alert:
    """Publish an alert on the `alert` channel (never blocks, never raises); returns it."""
    alert = Alert.of(kind, text, time=time, symbol=symbol, severity=severity)
    bus.publish(channels.ALERT, alert)
    return alert


__all__ = ["KIND_DEFAULTS", "Alert", "AlertKind", "KindDefaults", "Severity", "publish_alert"]
