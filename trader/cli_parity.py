"""`python -m trader parity`: prove that the daemon and the backtest decide and trade alike.

Runs the daemon in sim mode over a window of the shipped real data, backtests the same candles
with the same configuration and compares every signal, risk decision, order and fill, and the
final positions (`trader/parity.py`). Exit 0 when they agree to the last digit, 1 on any
difference (each one printed side by side), 2 on bad input.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from config.loader import load_settings
from trader.cli_types import utc_time_ms, whole_number
from utils.logging import configure_logging, is_configured

EXIT_OK = 0
EXIT_DIFFERENT = 1
DEFAULT_MINUTES = 1440


_start = utc_time_ms(
    "a UTC date like 2023-09-15 or 2023-09-15T03:30", "%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"
)
_minutes = whole_number("a whole number of minutes", 1, bound="must be at least 1")


def add_parser(sub: Any) -> None:
    """`python -m trader parity [--config FILE] [--minutes N] [--start DATE]`."""
    parser = sub.add_parser(
        "parity",
        help="run the daemon (sim mode) and the backtest on the same candles and compare them",
        description=(
            "Run the daemon in sim mode (in-process simulator, official SDK over loopback) over a "
            "window of the shipped data, backtest the same candles with the same configuration, and "
            "compare signals, risk decisions, orders, fills and final positions. Exit 1 on any difference."
        ),
    )
    parser.add_argument("--config", type=Path, default=None, help="trading configuration (default: shipped)")
    parser.add_argument(
        "--minutes",
        type=_minutes,
        default=DEFAULT_MINUTES,
        help=f"length of the window (default {DEFAULT_MINUTES})",
    )
    parser.add_argument(
        "--start",
        type=_start,
        default=None,
        help="first minute (UTC), e.g. 2023-09-15 or 2023-09-15T03:30 (default: the data's first day "
        "with a warm-up before it)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the live run's database, logs and config here (default: a temporary folder, "
        "kept only when the runs differ)",
    )
    parser.set_defaults(handler=parity_command)


def parity_command(args: argparse.Namespace) -> int:
    """Run both, print the verdict; 0 when they agree, 1 when not."""
    from rich.console import Console

    from trader.parity import run_parity
    from trader.parity_live import ParityStuck
    from trader.parity_report import print_result

    settings = load_settings()
    path = args.config if args.config is not None else settings.config
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="trader-parity-"))
    folder.mkdir(parents=True, exist_ok=True)
    if not is_configured():  # the daemon's log lines go to the run's folder, not the terminal
        configure_logging("WARNING", folder / "logs", console=False)
    console = Console()
    try:
        with console.status("parity: the daemon in sim mode, then the backtest ..."):
            result = run_parity(path, folder, start_ms=args.start, minutes=args.minutes)
    except ParityStuck as exc:
        console.print(f"parity: {exc}; the daemon's logs are in {folder / 'logs'}", highlight=False)
        return EXIT_DIFFERENT
    print_result(result, console)
    if result.differences:
        console.print(f"the live run's database and logs: {folder}")
        return EXIT_DIFFERENT
    if args.workdir is None:
        shutil.rmtree(folder, ignore_errors=True)
    return EXIT_OK
