"""`python -m trader flatten [--symbol S] [--yes]` and `pause`.

`flatten`: pause entries, cancel our open orders, close every position with reduce-only market
orders (split by MARKET_LOT_SIZE), and wait until the venue confirms flat. With the daemon running
it goes through the control table (the daemon carries it out within a second); with the daemon
stopped, straight to the venue, recorded in the database. It asks before acting unless `--yes`,
and in live mode refuses without `--yes`. Running it twice never closes twice.

`pause`: stop opening positions (the kill switch); exits still go out. `resume` lifts it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from config.loader import effective_mode, load_config, load_settings
from config.settings import Mode, Settings
from trader.health import Health, judge, read_heartbeat

EXIT_OK = 0
EXIT_NOT_FLAT = 1
EXIT_REFUSED = 2
WAIT_S = 120.0


def add_flatten(sub: Any) -> None:
    """`flatten [--symbol S] [--yes]`."""
    parser = sub.add_parser(
        "flatten",
        help="pause entries, cancel open orders and close every position (reduce-only market orders)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--symbol", help="flatten only this symbol")
    parser.add_argument("--yes", action="store_true", help="do not ask (required in live mode)")
    parser.add_argument("--config", default=None, help="YAML configuration file (for the mode)")
    parser.set_defaults(handler=flatten_command)


def add_pause(sub: Any) -> None:
    """`pause [--symbol S] [--reason TEXT]`."""
    parser = sub.add_parser(
        "pause",
        help="stop opening positions (exits still go out); `resume` lifts it",
        description="Pause every new entry (or one symbol's). Same switch as `halt`; survives restarts.",
    )
    parser.add_argument("--symbol", help="pause only this symbol")
    parser.add_argument("--reason", default="paused by operator", help="recorded with the pause")
    parser.set_defaults(handler=pause_command)


def pause_command(args: argparse.Namespace) -> int:
    """Set the kill switch (or a symbol's halt)."""
    from trader.cli_control import halt_command

    return halt_command(args)


def _confirm(console: Console, what: str, mode: Mode, yes: bool) -> bool:
    if yes:
        return True
    if mode is Mode.LIVE:
        console.print(f"refused: {what} in LIVE mode needs --yes (it sends real market orders)")
        return False
    if not sys.stdin.isatty():
        console.print(f"refused: {what} needs --yes when there is no terminal to ask")
        return False
    answer = input(f"{what} in {mode.value.upper()} mode: cancel open orders and close positions? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def flatten_command(args: argparse.Namespace) -> int:
    """Flatten through the running daemon, or straight at the venue when it is down."""
    settings = load_settings()
    config = load_config(Path(args.config) if args.config else settings.config)
    mode = effective_mode(settings, config)
    console = Console(soft_wrap=True)
    what = f"flatten {args.symbol or 'every symbol'}"
    if not _confirm(console, what, mode, args.yes):
        return EXIT_REFUSED
    verdict = judge(read_heartbeat(settings.status_dir / "heartbeat.json"))
    if verdict.health < Health.NOT_RUNNING:
        return _through_daemon(console, settings, args.symbol)
    return asyncio.run(_straight_to_venue(console, settings, config, mode, args.symbol))


def _through_daemon(console: Console, settings: Settings, symbol: str | None) -> int:
    from database.engine import Database
    from trader.flatten_requests import read_request, submit_request

    db = Database(settings.database_url)
    try:
        with db.session() as session:
            request = submit_request(session, symbol)
        console.print(f"flatten request {request.id} handed to the running daemon; waiting for the venue...")
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with db.session() as session:
                current = read_request(session)
            if current is not None and current.id == request.id and not current.pending:
                console.print(current.result)
                return EXIT_OK if current.status == "done" else EXIT_NOT_FLAT
            time.sleep(0.5)
    finally:
        db.close()
    console.print(
        f"the daemon did not finish flatten {request.id} within {WAIT_S:g} s; see `python -m trader status`"
    )
    return EXIT_NOT_FLAT


async def _straight_to_venue(
    console: Console, settings: Settings, config: Any, mode: Mode, symbol: str | None
) -> int:
    from config.secrets import default_resolver, resolve_secrets
    from core.bus import Bus
    from database.engine import Database
    from database.migrate import upgrade
    from executor.binance.endpoints import endpoints_for
    from executor.binance.gateway import Gateway
    from executor.orders.manager import OrderManager
    from executor.risk.kill_switch import write_halt
    from trader.flatten_requests import finish_request, submit_request

    if mode is Mode.SIM and settings.rest_url is None:
        console.print(
            "no venue to flatten: in sim mode the simulator runs inside the daemon and stops with it "
            "(set TRADER_REST_URL / TRADER_STREAM_URL to flatten a standalone simulator)"
        )
        return EXIT_REFUSED
    settings = resolve_secrets(settings, default_resolver(settings))
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    gateway = Gateway(endpoints_for(settings, mode=mode), _wall())
    try:
        await gateway.start()
        info = await gateway.exchange_info()
        manager = OrderManager(
            gateway, db, Bus(), _wall(), dict(info.instruments),
            order_ttl_seconds=3600, reprice_on_ttl=False, poll_seconds=5.0,
        )  # fmt: skip
        await manager.load()
        await manager.reconcile_now("flatten")  # our live orders as the venue has them
        request = await db.run(lambda s: submit_request(s, symbol))
        await db.run(lambda s: write_halt(s, f"flatten ({request.id})", symbol=symbol))
        console.print(
            f"the daemon is not running: flattening {symbol or 'every symbol'} at the venue directly"
        )
        result = await manager.flattener().flatten(symbol)
        await manager.reconcile_now("flatten")  # no user stream here: book the closes' fills over REST
        await db.run(
            lambda s: finish_request(s, request, "done" if result.flat else "failed", result.summary())
        )
        console.print(result.summary())
        return EXIT_OK if result.flat else EXIT_NOT_FLAT
    finally:
        await gateway.close()
        db.close()


def _wall() -> Any:
    from utils.clock import WallClock

    return WallClock()
