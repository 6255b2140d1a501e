"""`python -m trader watchdog [--max-age SECONDS] [--degraded-for SECONDS] [--once]`.

Runs beside the daemon (its own systemd service) or from a timer with `--once`; see
trader/watchdog.py. With `--once` the exit code is the daemon's health, as `status` gives it:
0 healthy, 1 degraded, 2 stale or not running, 3 no heartbeat.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import structlog

from config.loader import load_settings
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
    parser.add_argument("--once", action="store_true", help="check once (cron, systemd timer) and exit")
    parser.set_defaults(handler=watchdog_command)  # fmt: skip


def _notify(severity: str, kind: str, text: str) -> None:
    """The alert: the log and the console always; Slack when it is configured."""
    log = _log.critical if severity == "CRITICAL" else _log.warning if severity == "WARNING" else _log.info
    log("watchdog.alert", kind=kind, severity=severity, text=text)
    print(f"{severity}: {text}", flush=True)


def watchdog_command(args: argparse.Namespace) -> int:
    """Check the heartbeat once, or forever."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_dir, console=False)
    watchdog = Watchdog(
        settings.status_dir / "heartbeat.json",
        _notify,
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
