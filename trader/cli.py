"""`python -m trader`: the command line.

Every subcommand registers itself in `COMMANDS` (a function that adds its parser and sets
`handler=`), so adding one is one function plus one line. Exit codes: 0 ok, 2 configuration error
(one line on stderr), 1 runtime failure (one line on stderr, the traceback in the log file),
130 interrupted. Nothing here prints a traceback or a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from config.loader import (
    check_credentials,
    check_live_opt_in,
    effective_mode,
    load_config,
    load_settings,
)
from config.secrets import default_resolver, references, resolve_secrets
from config.settings import (
    ENV_PREFIX,
    Settings,
    redact_database_url,
)
from core.errors import ConfigError, DaemonFailed, SecretResolutionError
from trader import (
    cli_alerts,
    cli_backtest,
    cli_control,
    cli_dashboard,
    cli_data,
    cli_db,
    cli_docs,
    cli_flatten,
    cli_parity,
    cli_status,
    cli_watchdog,
)
from trader.config_report import config_report, report_yaml
from trader.console import ConsoleFormat, install_console, log_banner
from utils.logging import (
    FILE_ONLY,
    add_secret,
    configure_logging,
    current_log_file,
    is_configured,
    redact_text,
)

Handler = Callable[[argparse.Namespace], int]
_SubParsers = Any  # argparse's _SubParsersAction is private; its type adds nothing here

_log = structlog.get_logger("trader.cli")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


# --- shared pieces ------------------------------------------------------------------------------


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        type=Path,
        default=None,
        help=f"trading configuration (default: {ENV_PREFIX}CONFIG or config/config.yaml)",
    )


def _config_path(given: Path | None, settings: Settings) -> Path:
    """The config file to read: --config, else TRADER_CONFIG, else the shipped one."""
    return _shown(given if given is not None else settings.config)


def _shown(path: Path) -> Path:
    """`path` relative to the working directory when it is inside it (shorter messages)."""
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd())
        except ValueError:
            return path
    return path


def _start_logging(settings: Settings, *, console: bool | None = None) -> Path:
    return configure_logging(
        settings.log_level,
        settings.log_dir,
        secrets=settings.secret_values(),
        console=console,
        max_bytes=settings.log_max_bytes,
        backups=settings.log_backups,
    )


def _resolved(settings: Settings) -> Settings:
    """Settings with op:// references resolved (1Password), each new value registered as a secret."""
    resolver = default_resolver(settings) if references(settings) else None
    try:
        settings = resolve_secrets(settings, resolver)
    finally:
        if resolver is not None:
            resolver.close()
    for value in settings.secret_values():
        add_secret(value)
    return settings


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _help_of(parser: argparse.ArgumentParser) -> Handler:
    """Handler of a command group run without its subcommand: show its help, exit 2."""

    def show(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG

    return show


# --- run ----------------------------------------------------------------------------------------


def _add_run(sub: _SubParsers) -> None:
    parser = sub.add_parser(
        "run",
        help="run the trading daemon (the default command)",
        description="Run the trading daemon until Ctrl-C, SIGTERM or --duration.",
    )
    _add_config_option(parser)
    parser.add_argument(
        "--duration",
        metavar="SECONDS",
        type=_positive_seconds,
        default=None,
        help="stop gracefully after this many seconds (smoke tests, demos)",
    )
    parser.add_argument(
        "--allow-live",
        action="store_true",
        help=f"allow mode live (real money); same as {ENV_PREFIX}ALLOW_LIVE=true",
    )
    parser.add_argument(
        "--log-format",
        choices=[f.value for f in ConsoleFormat],
        default=ConsoleFormat.AUTO.value,
        help="the console: human lines on a terminal and JSON lines otherwise (auto), or either always",
    )
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Load and check everything, then run the daemon; returns its exit code."""
    settings = load_settings()
    from trader.preflight import check_writable_folders

    check_writable_folders(settings)  # before logging, which needs one of them
    log_file = _start_logging(settings, console=False)
    install_console(ConsoleFormat(getattr(args, "log_format", ConsoleFormat.AUTO.value)))
    path = _config_path(args.config, settings)
    config = load_config(path)
    mode = effective_mode(settings, config)
    check_live_opt_in(mode, settings, args.allow_live, config_source=str(path))
    check_credentials(mode, settings)
    settings = _resolved(settings)
    _log.info("trader.starting", mode=mode.value, config=str(path), duration=args.duration)
    log_banner(settings, config, mode, path, log_file)

    from trader.app import run_daemon  # the daemon's imports are only needed to run it

    return asyncio.run(run_daemon(settings, config, config_path=path, duration=args.duration))


# --- config check -------------------------------------------------------------------------------


def _add_config(sub: _SubParsers) -> None:
    group = sub.add_parser("config", help="configuration commands", description="Configuration commands.")
    commands = group.add_subparsers(dest="config_command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="validate and print the fully resolved configuration (secrets redacted)",
        description=(
            "Validate the settings (environment and .env) and the YAML configuration, then print "
            "the effective configuration with every secret redacted. Exit 0 when valid, 2 on a "
            "configuration error, 1 when a secret reference cannot be resolved."
        ),
    )
    _add_config_option(check)
    check.set_defaults(handler=config_check_command)
    group.set_defaults(handler=_help_of(group))


def config_check_command(args: argparse.Namespace) -> int:
    """Validate settings, config and secret references; print the resolved configuration."""
    settings = load_settings()
    path = _config_path(args.config, settings)
    config = load_config(path)
    mode = effective_mode(settings, config)
    unresolved = references(settings)
    if unresolved and default_resolver(settings) is not None:
        settings = _resolved(settings)  # a reference that cannot be resolved fails the check
        resolved_from = set(unresolved)
        unresolved = {}
    else:
        resolved_from = set()
    report = config_report(settings, config, path, mode, unresolved=unresolved, resolved=resolved_from)
    print(f"# configuration OK: {path}")
    print(report_yaml(report), end="")
    return EXIT_OK


# --- db upgrade ---------------------------------------------------------------------------------


def _add_db(sub: _SubParsers) -> None:
    group = sub.add_parser("db", help="database commands", description="Database commands.")
    commands = group.add_subparsers(dest="db_command", metavar="COMMAND")
    upgrade = commands.add_parser(
        "upgrade",
        help="migrate the database to the latest schema (also done at start-up)",
        description=f"Apply every pending migration to {ENV_PREFIX}DATABASE_URL.",
    )
    upgrade.set_defaults(handler=db_upgrade_command)
    cli_db.add_commands(commands)  # backup, restore
    group.set_defaults(handler=_help_of(group))


def db_upgrade_command(args: argparse.Namespace) -> int:
    """Migrate TRADER_DATABASE_URL to the latest revision."""
    settings = load_settings()
    _start_logging(settings)  # alembic reports through stdlib logging: to the log file, redacted
    settings = _resolved(settings)

    from database.migrate import upgrade  # SQLAlchemy and alembic are only needed here

    upgrade(settings.database_url)
    print(f"database {redact_database_url(settings.database_url)}: at the latest schema revision")
    return EXIT_OK


# --- entry point --------------------------------------------------------------------------------

# Each adds one subcommand; later commands (simulator, doctor, halt, resume) go here.
COMMANDS: list[Callable[[_SubParsers], None]] = [
    _add_run,
    _add_config,
    _add_db,
    cli_control.add_doctor,
    cli_control.add_halt,
    cli_control.add_resume,
    cli_control.add_simulator,
    cli_status.add_parser,
    cli_flatten.add_flatten,
    cli_flatten.add_pause,
    cli_watchdog.add_parser,
    cli_backtest.add_parser,
    cli_data.add_parser,
    cli_parity.add_parser,
    cli_dashboard.add_parser,
    cli_alerts.add_parser,
    cli_docs.add_parser,
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser: one subparser per entry of COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="python -m trader",
        description="Trading daemon for Binance USD-M futures. Without a command: `run`.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the command, return the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in ("-h", "--help")):
        arguments = ["run", *arguments]  # `python -m trader [--duration 5]` is `run`
    if arguments[0] == "simulator":  # the simulator parses its own options
        return cli_control.simulator_main(arguments[1:])
    args = build_parser().parse_args(arguments)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        return _fail(exc.line(), EXIT_CONFIG, event="cli.config_error")
    except SecretResolutionError as exc:
        return _fail(str(exc), EXIT_FAILURE, event="cli.secret_error")
    except DaemonFailed as exc:
        log_file = current_log_file()
        where = f" (details in {_shown(log_file)})" if log_file is not None else ""
        return _fail(f"error: {exc}{where}", EXIT_FAILURE, event="cli.daemon_failed")
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED, event="cli.interrupted")
    except Exception as exc:
        log_file = _log_traceback(exc)
        where = f" (details in {log_file})" if log_file is not None else ""
        return _fail(f"error: {type(exc).__name__}: {exc}{where}", EXIT_FAILURE)


def _fail(message: str, code: int, *, event: str | None = None) -> int:
    line = redact_text(" ".join(message.split()))  # one line, whatever the message held
    if event is not None and is_configured():
        _log.error(event, error=line, exit_code=code, **{FILE_ONLY: True})  # stderr gets the line below
    print(line, file=sys.stderr)
    return code


def _log_traceback(exc: BaseException) -> Path | None:
    """Write the traceback to the log file only (never the console); returns the file's path.

    None when no log file can be written (the failure may be the log folder itself).
    """
    log_file = current_log_file()
    if log_file is None:
        try:
            log_file = configure_logging("INFO", load_settings().log_dir, console=False)
        except (ConfigError, OSError):
            return None
    _log.error("cli.failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc, **{FILE_ONLY: True})
    return _shown(log_file)
