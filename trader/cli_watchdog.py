"""`python -m trader watchdog [--max-age SECONDS] [--degraded-for SECONDS] [--once]`.

Runs beside the daemon (its own systemd service) or from a timer with `--once`; see
trader/watchdog.py. With `--once` the exit code is the daemon's health, as `status` gives it:
0 healthy, 1 degraded, 2 stale or not running, 3 no heartbeat.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import structlog

from config.loader import effective_mode, load_config, load_settings
from config.models import AlertsConfig
from config.secrets import default_resolver, references, resolve_secrets
from config.settings import Mode, Settings
from core.alerts import Alert, AlertKind, Severity
from trader.health import read_heartbeat
from trader.watchdog import Watchdog
from utils.logging import configure_logging

_log = structlog.get_logger("trader.watchdog")


def add_parser(sub: Any) -> None:
    """`watchdog`."""
    parser = sub.add_parser(
        "watchdog",
        help="dead-man switch: alert when the heartbeat goes stale or stays degraded, and on recovery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=None,
        help="heartbeat older than this many seconds is stale (default: 3 heartbeat intervals)",
    )
    parser.add_argument(
        "--degraded-for",
        type=float,
        default=120.0,
        help="alert a degraded daemon once it has been degraded this long (default 120)",
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between checks (default 5)")
    parser.add_argument("--config", type=Path, default=None, help="YAML configuration (alert switches, mode)")
    parser.add_argument("--once", action="store_true", help="check once (cron, systemd timer) and exit")
    parser.set_defaults(handler=watchdog_command)  # fmt: skip


# The watchdog's incident kinds, as alert kinds (switches and severities under `alerts.kinds`).
_KINDS = {
    "watchdog_stale": AlertKind.HEARTBEAT_STALE,
    "watchdog_degraded": AlertKind.DAEMON_DEGRADED,
    "watchdog_recovered": AlertKind.DAEMON_RECOVERED,
}


class SlackNotifier:
    """The watchdog's alert: the log and the console always; Slack (and the alerts table) when
    configured. The daemon may be dead, so there is no router: `send_now` posts synchronously."""

    def __init__(self, settings: Settings, alerts: AlertsConfig, fallback_mode: Mode) -> None:
        self._settings = settings
        self._alerts = alerts
        self._fallback_mode = fallback_mode

    def __call__(self, severity: str, kind: str, text: str) -> None:
        log = {"CRITICAL": _log.critical, "WARNING": _log.warning}.get(severity, _log.info)
        log("watchdog.alert", kind=kind, severity=severity, text=text)
        print(f"{severity}: {text}", flush=True)
        alert_kind = _KINDS[kind]
        if not self._alerts.enabled(alert_kind):
            return
        chosen = self._alerts.severity(alert_kind, Severity(severity.lower()))
        alert = Alert.of(alert_kind, text, time=int(time.time() * 1000), severity=chosen)
        from alerts.send_now import send_now  # the alert store (SQLModel): only when an alert is due

        result = send_now(self._settings, alert, mode=self._mode(), database_url=self._settings.database_url)
        if not result.ok:
            _log.warning("watchdog.alert_undelivered", kind=kind, reason=result.reason)

    def _mode(self) -> Mode:
        # The mode the daemon last said it runs in is the truth; the configuration's when unknown.
        heartbeat = read_heartbeat(self._settings.status_dir / "heartbeat.json") or {}
        try:
            return Mode(heartbeat.get("mode") or self._fallback_mode)
        except ValueError:
            return self._fallback_mode


def watchdog_command(args: argparse.Namespace) -> int:
    """Check the heartbeat once, or forever."""
    settings = load_settings()
    config = load_config(args.config or settings.config)
    if references(settings):
        settings = resolve_secrets(settings, default_resolver(settings))
    configure_logging(settings.log_level, settings.log_dir, secrets=settings.secret_values(), console=False)
    notify = SlackNotifier(settings, config.alerts, effective_mode(settings, config))
    watchdog = Watchdog(
        settings.status_dir / "heartbeat.json",
        notify,
        max_age_s=args.max_age,
        degraded_for_s=args.degraded_for,
        state_file=settings.status_dir / "watchdog.json",
    )
    if args.once:
        verdict = watchdog.check()
        print(f"{verdict.health.label}: {'; '.join(verdict.reasons) or 'all well'}")
        return int(verdict.health)
    print(
        f"watchdog: checking {settings.status_dir / 'heartbeat.json'} every {args.interval:g} s", flush=True
    )
    try:
        while True:
            watchdog.check()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        print("watchdog: stopped", file=sys.stderr)
        return 0
