"""`python -m trader data import PATH...`: Binance archive klines and funding rates into the database.

See backtest/archive.py for the layouts read and backtest/importing.py for what is stored when.
Exit 0 when every file was imported, 2 at the first bad file or row (its one-line error on
stderr; what came before it stays stored).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from config.loader import load_settings
from config.settings import redact_database_url

EXIT_OK = 0
EXIT_BAD_INPUT = 2
_BAR_FROM_BYTES = 4_000_000  # inputs smaller than this import too fast for a bar to help


def add_parser(sub: Any) -> None:
    """`python -m trader data import PATH... [--symbol S] [--interval 1m]`."""
    group = sub.add_parser("data", help="market history commands", description="Market history commands.")
    commands = group.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    parser = commands.add_parser(
        "import",
        help="import Binance archive klines / funding rates (CSV, .csv.gz, .zip) into the database",
        description=(
            "Import kline files (Binance's public data archive layout, with or without a header, "
            ".csv, .csv.gz or .zip with its .CHECKSUM) and funding-rate files "
            "(calc_time,funding_interval_hours,last_funding_rate). Idempotent: each candle is "
            "stored once. The symbol and interval come from the file name unless given."
        ),
    )
    parser.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="files or folders")
    parser.add_argument(
        "--symbol", default=None, help="the symbol, when the file name does not start with it"
    )
    parser.add_argument(
        "--interval", default=None, help="the candles' interval (1m, 3m, 1h...); checked against the rows"
    )
    parser.set_defaults(handler=import_command)


def import_command(args: argparse.Namespace) -> int:
    """Import the files and say what the database now holds."""
    from rich.console import Console

    from backtest.archive import ArchiveError, interval_ms
    from backtest.importing import Imported
    from database.engine import make_engine
    from database.migrate import upgrade

    console = Console()
    if args.interval is not None:
        try:
            interval_ms(args.interval)
        except ValueError as exc:
            print(f"--interval: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    url = load_settings().database_url
    upgrade(url)
    engine = make_engine(url)
    done = Imported()
    started = time.perf_counter()
    try:
        import_with_progress(engine, args.paths, args.symbol, args.interval, done, console)
    except ArchiveError as exc:
        _summary(console, done, time.perf_counter() - started, redact_database_url(url), failed=True)
        print(" ".join(str(exc).split()), file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        engine.dispose()
    _summary(console, done, time.perf_counter() - started, redact_database_url(url))
    return EXIT_OK


def import_with_progress(
    engine: Any, paths: list[Path], symbol: str | None, interval: str | None, done: Any, console: Any
) -> None:
    """`import_paths` with a rich progress bar over the input's bytes when the input is large."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from backtest.importing import import_paths, input_files, text_size

    total = sum(text_size(p) for p in input_files(paths))
    if total < _BAR_FROM_BYTES:
        import_paths(engine, paths, symbol=symbol, interval=interval, done=done)
        return
    with Progress(
        TextColumn("import"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=total)
        import_paths(
            engine,
            paths,
            symbol=symbol,
            interval=interval,
            advance=lambda n: bar.advance(task, n),
            done=done,
        )


def _summary(console: Any, done: Any, seconds: float, where: str, *, failed: bool = False) -> None:
    for (symbol, what), count in sorted(done.rows.items()):
        kind = "funding rates" if what == "funding" else f"{what} candles"
        console.print(f"{symbol}: {count:,} {kind}", highlight=False)
    if failed:
        console.print(
            f"kept the {done.total:,} rows imported before the error in {where}; "
            "fix the file and run the same command again to import the rest",
            highlight=False,
        )
        return
    console.print(
        f"imported {done.total:,} rows from {done.files} file(s) in {seconds:.2f} s into {where}",
        highlight=False,
    )
