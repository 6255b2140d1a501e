"""`python -m trader alerts test`: send a test message to the configured Slack destination.

Prints `OK`, or the one-line reason it failed (a bad webhook, 404 channel_not_found, invalid_auth,
the network) and exits 1. No destination configured is a failure too: the line says what to set.
Also gives `config check` its `alerts:` section (where alerts go, the switches in force).
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any

from config.loader import effective_mode, load_config, load_settings
from config.models import TraderConfig
from config.secrets import default_resolver, references, resolve_secrets
from config.settings import Settings
from core.alerts import KIND_DEFAULTS, Alert, AlertKind
from utils.clock import WallClock
from utils.logging import add_secret, configure_logging

EXIT_OK = 0
EXIT_FAILURE = 1


def add_parser(sub: Any) -> None:
    """`python -m trader alerts test [--config PATH]`."""
    group = sub.add_parser("alerts", help="Slack alerts", description="Slack alert commands.")
    commands = group.add_subparsers(dest="alerts_command", metavar="COMMAND")
    test = commands.add_parser(
        "test",
        help="send a test message to Slack: prints OK or why it failed",
        description=(
            "Send a test message to TRADER_SLACK_WEBHOOK_URL (or with TRADER_SLACK_BOT_TOKEN to "
            "TRADER_SLACK_CHANNEL). Prints OK, or the reason on one line and exits 1."
        ),
    )
    test.add_argument("--config", type=Path, default=None, help="YAML configuration (for the mode)")
    test.set_defaults(handler=alerts_test_command)
    group.set_defaults(handler=lambda _args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def alerts_test_command(args: argparse.Namespace) -> int:
    """Send one test message; OK or the reason."""
    settings = load_settings()
    config = load_config(args.config or settings.config)
    if references(settings):
        settings = resolve_secrets(settings, default_resolver(settings))
    for value in settings.secret_values():
        add_secret(value)
    configure_logging(settings.log_level, settings.log_dir, secrets=settings.secret_values(), console=False)
    mode = effective_mode(settings, config)
    text = f"test message from trader on {socket.gethostname()}: if you read this, alerts reach you"
    alert = Alert.of(AlertKind.TEST, text, time=WallClock().now_ms())
    from alerts.send_now import send_now  # the alert store (SQLModel) only when a test is sent

    result = send_now(settings, alert, mode=mode, attempts=1)
    if result.ok:
        print("OK")
        return EXIT_OK
    print(result.reason)
    return EXIT_FAILURE


def alerts_report(settings: Settings, config: TraderConfig) -> dict[str, Any]:
    """The `alerts:` section of `config check`: the destination and the settings in force."""
    from alerts.slack import describe_destination  # imports the alerts package (its store)

    alerts = config.alerts
    return {
        "destination": describe_destination(settings),
        "dedupe_window_seconds": alerts.dedupe_window_seconds,
        "daily_summary_utc": alerts.daily_summary_utc or "off",
        "stream_down_seconds": alerts.stream_down_seconds,
        "queue_size": alerts.queue_size,
        "kinds": {
            kind.value: f"{'on' if alerts.enabled(kind) else 'off'}, "
            f"{alerts.severity(kind, KIND_DEFAULTS[kind].severity).value}"
            for kind in AlertKind
        },
    }


__all__ = ["add_parser", "alerts_report", "alerts_test_command"]
