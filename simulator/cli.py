"""`python -m trader simulator` (or `python -m simulator.cli`): the simulator as a standalone server.

Prints the URLs it serves and the API key it accepts, then runs until Ctrl-C or SIGTERM and exits 0.
Credentials: --api-key/--api-secret, else SIM_API_KEY/SIM_API_SECRET, else the documented defaults
in `simulator.auth` (the ones the shipped config uses in sim mode). The secret is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.engine_types import EngineConfig
from simulator.exchange import SimulatedExchange
from simulator.exchange_market import paced_update_intervals
from simulator.faults import FAULTS, FaultError, FaultPlan
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

__all__ = ["build_parser", "main"]

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data"


def _fault_help() -> str:
    lines = [f"  {name}: {meaning}" for name, (meaning, _, _) in sorted(FAULTS.items())]
    return "faults (--fault name[=value][,option=value...], repeatable):\n" + "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of the standalone simulator."""
    parser = argparse.ArgumentParser(
        prog="trader simulator",
        description="Binance USD-M futures simulator on loopback (REST + WebSocket streams).",
        epilog=_fault_help() + "\n\nControl at run time: GET/POST/DELETE <rest url>/_sim/faults (JSON).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765, 0 = any free port)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per real second (default 1). Up to 600, Binance's cadence"
                             " in simulated time (kline updates every 250 ms, 240 per candle; mark price"
                             " every 1 s / 3 s); faster, the wall-clock rate is capped at 600x's (2,400"
                             " kline updates and 600 mark prices per symbol and second), so a candle"
                             " gets 240*600/speed updates")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with exchange_info.json and klines/ (default: the repo's data/)")
    parser.add_argument("--symbols", default=None,
                        help="comma-separated symbols to replay (default: every symbol with klines), or a"
                             " number N: list N USD-M perpetuals with Binance's real 2021 rules and price"
                             " paths derived from the shipped real candles (scale tests)")
    parser.add_argument("--synthetic", default="",
                        help="comma-separated SYNTHETIC symbols (seeded random walks) to add")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic markets")
    parser.add_argument("--fill-parts", type=int, default=1, metavar="N",
                        help="split every fill into N trades, so orders fill partially (default 1)")
    parser.add_argument("--api-key", default=None, help="API key to accept (env SIM_API_KEY)")
    parser.add_argument("--api-secret", default=None, help="API secret to accept (env SIM_API_SECRET)")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="inject a fault from the start (see below); repeatable")
    return parser


def _credential(flag: str | None, env: str, default: str) -> tuple[str, str]:
    if flag:
        return flag, "the command line"
    if os.environ.get(env):
        return os.environ[env], env
    return default, "the built-in default (simulator.auth)"


def _split(text: str | None) -> list[str]:
    return [s.strip().upper() for s in (text or "").split(",") if s.strip()]


async def _serve(args: argparse.Namespace, faults: FaultPlan, key: str, secret: str) -> None:
    start_ms = WallClock().now_ms()
    clock = ScaledClock(start_ms, speed=args.speed)
    kline_ms, mark_ms = paced_update_intervals(args.speed)
    count = int(args.symbols) if (args.symbols or "").strip().isdigit() else None
    exchange = SimulatedExchange.from_data(
        args.data, start_ms=start_ms, symbols=None if count else _split(args.symbols) or None,
        count=count,
        synthetic_symbols=_split(args.synthetic), seed=args.seed,
        config=EngineConfig(fill_parts=args.fill_parts),
        kline_update_ms=kline_ms, mark_update_ms=mark_ms,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with SimulatorServer(exchange, clock, host=args.host, port=args.port, api_key=key,
                               api_secret=secret, faults=faults) as server:
        print(f"simulator: REST {server.rest_url}", flush=True)
        print(f"simulator: streams {server.stream_url} (/market/stream, /public/stream, /private/stream,"
              " /ws, /stream)", flush=True)
        listed = exchange.symbols()
        shown = ", ".join(listed) if len(listed) <= 20 else f"{len(listed)} ({', '.join(listed[:5])}, ...)"
        print(f"simulator: symbols {shown}; speed {args.speed:g}x", flush=True)
        await stop.wait()
    print("simulator: stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; 0 on a clean stop, 2 on bad arguments or data."""
    args = build_parser().parse_args(argv)
    try:
        faults = FaultPlan(args.fault)
    except FaultError as exc:
        print(f"simulator: --fault: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.fill_parts <= 100:
        print(f"simulator: --fill-parts {args.fill_parts}: must be 1..100", file=sys.stderr)
        return 2
    if not (args.data / "exchange_info.json").is_file() or not (args.data / "klines").is_dir():
        print(f"simulator: --data {args.data}: needs exchange_info.json and klines/ "
              "(point --data at the repo's data/ folder)", file=sys.stderr)
        return 2
    key, key_source = _credential(args.api_key, "SIM_API_KEY", DEFAULT_API_KEY)
    secret, secret_source = _credential(args.api_secret, "SIM_API_SECRET", DEFAULT_API_SECRET)
    print(f"simulator: API key {key} (from {key_source}); secret from {secret_source}", flush=True)
    for spec in args.fault:
        print(f"simulator: fault {spec}", flush=True)
    try:
        asyncio.run(_serve(args, faults, key, secret))
    except OSError as exc:  # e.g. the port is taken
        print(f"simulator: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # bad data files and the like: one line, no traceback
        print(f"simulator: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
