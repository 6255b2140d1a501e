"""`python -m trader backtest`: the configured strategies on history, with the live code.

With no argument it backtests the shipped config/config.yaml on the candles in the database,
importing the shipped real data (the kline files under the config's `simulator.data` folder) on
first use (trader/backtest_candles.py), and prints the report. `--data` reads kline files or
folders directly instead (Binance's kline CSV layout); `--exchange-info` names the instrument rules.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from config.loader import load_config, load_settings
from core.errors import ConfigError
from trader.cli_types import utc_time_ms

EXIT_OK = 0
EXIT_BAD_INPUT = 2


_date = utc_time_ms("a date like 2023-10-01", "%Y-%m-%d")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_parser(sub: Any) -> None:
    """`python -m trader backtest [...]`."""
    parser = sub.add_parser(
        "backtest",
        help="backtest the configured strategies on history (the live code, simulated fills)",
        description=(
            "Replay history through the live strategy, risk and order code with the simulator's "
            "matching engine. Without arguments: the shipped config on the shipped data."
        ),
    )
    parser.add_argument("--config", type=Path, default=None, help="trading configuration (default: shipped)")
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        default=None,
        metavar="PATH",
        help="read these kline CSV files or folders instead of the database",
    )
    parser.add_argument(
        "--exchange-info",
        type=Path,
        default=None,
        metavar="FILE",
        help="instrument rules (default: the config's simulator.data/exchange_info.json)",
    )
    parser.add_argument("--symbols", default=None, help="only these symbols, e.g. WLDUSDT,ADAUSDT")
    parser.add_argument("--start", type=_date, default=None, help="first day (UTC), e.g. 2023-10-01")
    parser.add_argument("--end", type=_date, default=None, help="day after the last (UTC)")
    parser.add_argument(
        "--interval",
        default="1m",
        help="candle interval: 1m (coarser stored candles are cut into 1m) or one imported (3m, 1h...)",
    )
    parser.add_argument("--fee-bps", type=_decimal, default=None, help="taker fee in basis points")
    parser.add_argument("--slippage-bps", type=_decimal, default=None, help="market order slippage (bps)")
    parser.add_argument(
        "--funding-rate",
        type=_decimal,
        default=None,
        help="flat funding rate per funding time (default: funding not modelled)",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the report as JSON")
    parser.add_argument(
        "--trades-csv", type=Path, default=None, metavar="OUT", help="write the trades as CSV"
    )
    parser.add_argument(
        "--html",
        type=Path,
        default=None,
        metavar="OUT",
        help="write a self-contained HTML report (equity, drawdown, candles with VWAP, bands and trades)",
    )
    parser.add_argument(
        "--no-save", action="store_true", help="do not save the run and its trades in the database"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(handler=backtest_command)


def backtest_command(args: argparse.Namespace) -> int:
    """Load, run, print and export one backtest."""
    started = time.perf_counter()
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from backtest.archive import ArchiveError
    from backtest.loading import DataError, load_files
    from backtest.render import print_report, trades_csv
    from backtest.session import run_session
    from simulator.exchange_info import instruments_of, load_exchange_info

    settings = load_settings()
    path = args.config if args.config is not None else settings.config
    config = load_config(path)
    overrides: dict[str, Any] = {}
    if args.fee_bps is not None:
        overrides["taker_fee_bps"] = args.fee_bps
    if args.slippage_bps is not None:
        overrides["slippage_bps"] = args.slippage_bps
    if overrides:
        config = config.model_copy(update={"backtest": config.backtest.model_copy(update=overrides)})
    funding_rate = args.funding_rate if args.funding_rate is not None else config.backtest.funding_rate
    data_dir = config.simulator.data
    info_path = args.exchange_info or data_dir / "exchange_info.json"
    try:
        instruments = instruments_of(load_exchange_info(info_path))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(str(info_path), "exchange info", f"cannot be read: {exc}") from None
    wanted = [s.symbol for s in config.symbols]
    if args.symbols:
        wanted = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        unknown = sorted(set(wanted) - {s.symbol for s in config.symbols})
        if unknown:
            raise ConfigError(str(path), "symbols", f"not in the configuration: {', '.join(unknown)}")
        config = config.model_copy(update={"symbols": [s for s in config.symbols if s.symbol in wanted]})
    interval_ms = _interval_ms(args.interval)
    console = Console(stderr=False, quiet=args.quiet)
    ticks = {s: i.tick_size for s, i in instruments.items()}
    unknown_symbols = sorted(set(wanted) - set(ticks))
    if unknown_symbols:
        raise ConfigError(str(info_path), "symbols", f"no instrument rules for {', '.join(unknown_symbols)}")
    funding = None
    if args.data is not None:
        try:
            series = load_files(args.data, ticks, interval_ms=interval_ms)
        except DataError as exc:
            console.print(f"[red]{exc}[/red]", highlight=False)
            return EXIT_BAD_INPUT
    else:
        if interval_ms is None:
            raise ConfigError("--interval", "interval", "'file' needs --data; give 1m, 3m, 1h...")
        from trader.backtest_candles import from_database  # the database stack only when it is read

        try:
            candles = from_database(
                settings.database_url, data_dir / "klines", wanted, ticks, args.interval, args.start, args.end
            )
        except ArchiveError as exc:
            print(" ".join(str(exc).split()), file=sys.stderr)
            return EXIT_BAD_INPUT
        series, funding = candles.series, candles.funding
        for line in candles.said:
            console.print(line, highlight=False)
    series = {s: v.window(args.start, args.end) for s, v in series.items() if s in wanted}
    series = {s: v for s, v in series.items() if len(v) > 1}
    if not series:
        console.print(
            f"no {args.interval} candles for {', '.join(wanted)} in the data and period asked for; "
            "import them with `python -m trader data import PATH`"
        )
        return EXIT_BAD_INPUT
    total = sum(len(s) for s in series.values())
    start = min(s.first_open_time for s in series.values())
    end = max(s.end_time for s in series.values())
    loaded = time.perf_counter()
    with Progress(
        TextColumn("backtest"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} candles"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=args.quiet,
    ) as bar:
        task = bar.add_task("backtest", total=total)
        timing: dict[str, float] = {}
        outcome = run_session(
            config,
            series,
            instruments,
            funding_rate=funding_rate,
            funding=funding,
            funding_label=None if funding is None else _imported(funding.count(start, end)),
            progress=lambda done: bar.update(task, completed=done),
            timing=timing,
        )
    timing["load_seconds"] = loaded - started
    timing["total_seconds"] = time.perf_counter() - started
    outcome.report["timing"] = {k: round(v, 3) for k, v in sorted(timing.items())}
    print_report(outcome.report, console)
    if args.json is not None:
        args.json.write_text(json.dumps(outcome.report, indent=1) + "\n")
        console.print(f"report written to {args.json}")
    if args.html is not None:
        from backtest.html import render_html

        params = {entry.symbol: entry.validated_params for entry in config.symbols}
        page = render_html(outcome.report, outcome.trades, series, outcome.record.signals, params)
        args.html.write_text(page)
        console.print(f"HTML report written to {args.html} ({len(page) / 1e6:.1f} MB, opens offline)")
    if args.trades_csv is not None:
        args.trades_csv.write_text(trades_csv(outcome.trades))
        console.print(f"{len(outcome.trades)} trades written to {args.trades_csv}")
    if not args.no_save:
        run_id = _save(settings.database_url, f"{path.name} {', '.join(sorted(series))}", config, outcome)
        console.print(f"saved as backtest run #{run_id} (the dashboard's Backtests page; --no-save: not)")
    console.print(
        f"{total:,} candles in {timing['total_seconds']:.2f} s "
        f"({total / max(outcome.loop_seconds, 1e-9):,.0f} candles/s in the loop)"
    )
    return EXIT_OK


def _save(url: str, name: str, config: Any, outcome: Any) -> int:
    """The run and its trades into the database (backtest/saving.py); returns the run's id."""
    from backtest.saving import save_run
    from database.engine import make_engine
    from database.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    try:
        return save_run(engine, name, config.model_dump(mode="json"), outcome.report, outcome.trades)
    finally:
        engine.dispose()


def _imported(count: int) -> str:
    return f"imported rates ({count} funding time{'' if count == 1 else 's'})"


def _interval_ms(text: str) -> int | None:
    units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
    if text in ("file", "native"):
        return None
    try:
        return int(text[:-1]) * units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise ConfigError("--interval", "interval", f"expected 1m, 3m, 1h, ..., got {text!r}") from None
