"""Operator subcommands: `halt`, `resume`, `doctor` and `simulator`.

`halt` and `resume` write the kill switch into the database's control table; a running daemon polls
it and reacts within a second, and the switch survives restarts. They never talk to the exchange.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from config.loader import load_config, load_settings
from config.settings import ENV_PREFIX, redact_database_url
from utils.logging import configure_logging

EXIT_OK = 0


def add_halt(sub: Any) -> None:
    """`python -m trader halt [--symbol S] [--reason TEXT]`."""
    parser = sub.add_parser(
        "halt",
        help="kill switch: stop opening positions (exits stay allowed)",
        description=(
            "Stop every new entry (or one symbol's). Exits that reduce a position still go out. "
            "Takes effect in the running daemon within a second and survives restarts."
        ),
    )
    parser.add_argument("--symbol", help="halt only this symbol")
    parser.add_argument("--reason", default="halted by operator", help="recorded with the halt")
    parser.set_defaults(handler=halt_command)


def add_resume(sub: Any) -> None:
    """`python -m trader resume [--symbol S]`."""
    parser = sub.add_parser(
        "resume",
        help="lift the kill switch (and loss halts), or one symbol's halt",
        description="Clear the global kill switch and every symbol halt, or only --symbol's.",
    )
    parser.add_argument("--symbol", help="resume only this symbol")
    parser.set_defaults(handler=resume_command)


def _database() -> Any:
    from database.engine import Database
    from database.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    return Database(settings.database_url), settings


def halt_command(args: argparse.Namespace) -> int:
    """Set the kill switch."""
    from executor.risk.kill_switch import halt

    db, settings = _database()
    try:
        symbol = args.symbol.upper() if args.symbol else None
        halt(db, args.reason, symbol=symbol)
    finally:
        db.close()
    target = f"entries on {symbol}" if symbol else "all new entries"
    print(f"halted {target} ({redact_database_url(settings.database_url)}); `resume` lifts it")
    return EXIT_OK


def resume_command(args: argparse.Namespace) -> int:
    """Clear the kill switch."""
    from executor.risk.kill_switch import resume

    db, settings = _database()
    try:
        removed = resume(db, args.symbol.upper() if args.symbol else None)
    finally:
        db.close()
    what = ", ".join(removed) if removed else "nothing was halted"
    print(f"resumed: {what} ({redact_database_url(settings.database_url)})")
    return EXIT_OK


def add_doctor(sub: Any) -> None:
    """`python -m trader doctor [--config PATH]`."""
    parser = sub.add_parser(
        "doctor",
        help="check the configured venue, keys, streams and database end to end",
        description=(
            "One line per check with OK or the fix: venue reachable, server time, symbols, keys, "
            "position mode, balance, market and user-data streams, database. Exit 0 when all pass. "
            f"In sim mode set {ENV_PREFIX}REST_URL and {ENV_PREFIX}STREAM_URL to check a running "
            "simulator."
        ),
    )
    parser.add_argument("--config", type=Path, default=None, help="YAML configuration file")
    parser.set_defaults(handler=doctor_command)


def doctor_command(args: argparse.Namespace) -> int:
    """Run every check against the configured venue."""
    from config.secrets import default_resolver, resolve_secrets
    from trader.doctor import run_doctor

    settings = load_settings()
    path = args.config or settings.config
    config = load_config(path)
    settings = resolve_secrets(settings, default_resolver(settings))
    # The checks' own lines are the output; everything logged goes to the log file only.
    configure_logging(settings.log_level, settings.log_dir, secrets=settings.secret_values(), console=False)
    result: int = asyncio.run(run_doctor(settings, config))
    return result


def add_simulator(sub: Any) -> None:
    """`python -m trader simulator ...`: its options are parsed by simulator/cli.py (see `main`)."""
    sub.add_parser(
        "simulator",
        help="serve a simulated Binance USD-M futures venue on loopback (see its --help)",
        add_help=False,
    )


def simulator_main(argv: list[str]) -> int:
    """Run the simulator's own command line (it has its own options and --help)."""
    from simulator.cli import main

    result: int = main(argv)
    return result
