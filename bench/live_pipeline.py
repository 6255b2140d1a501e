"""Live pipeline benchmark: recorded-format stream frames through the daemon's real hot path.

What runs is the daemon's own code, wired the way `trader/app.py` wires it:

    frame text ─▶ SupervisedConnection._read (json.loads, envelope checks, counters)
               ─▶ MarketStreams._handle (decode_market_payload) ─▶ MarketDataService.sink
               ─▶ Bus market.<SYMBOL> (conflating) ─▶ StrategyRunner task per symbol
               ─▶ VwapStrategy (warmed up on real candles) ─▶ signal.<SYMBOL>
               [--risk: ─▶ RiskGate ─▶ risk.decision / order.request]

The socket is replaced by an in-memory source of `aiohttp.WSMessage`s: frames arrive in bursts of
one second of the market (every symbol's markPrice@1s plus its kline_1m updates, and the closing
klines at a minute boundary), which is how Binance delivers them (mark prices for all symbols are
pushed at the same second boundary). The next burst arrives once the strategies have handled the
previous one, so the figure is the pipeline's capacity, not the feed's. Frames are built before the
clock starts, from real 1m candles (data/klines), as the compact combined-stream JSON Binance sends.

Measured per run: events/s (frames fed / wall time from the first frame of the first burst to the
last event handled), per-event latency from the frame's arrival (stamped when the reader takes it)
to the strategy hook having returned (perf_counter_ns), signals, conflated events. R runs (fresh
bus, runners and strategies each) give medians with min/max and one JSON line at the end.
Database work is left out on purpose (it is off the hot path on the DB thread): closed candles are
queued by `sink` and discarded between bursts; strategy state goes to an in-memory store.

The frames are built by `pipeline_feed.py`; the socket stand-in, the timed strategy and the probe
are in `pipeline_rig.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/live_pipeline.py` from a checkout
    sys.path.insert(0, str(ROOT))

from core.bus import Bus  # noqa: E402
from database.engine import Database  # noqa: E402
from executor.binance.connection import SupervisedConnection  # noqa: E402
from executor.binance.market_streams import MarketStreams  # noqa: E402
from executor.binance.stream_decoding import decode_market_payload  # noqa: E402
from strategies.runner import StrategyRunner  # noqa: E402
from trader.market_data import MarketDataService  # noqa: E402
from utils.clock import ManualClock  # noqa: E402

from pipeline_feed import DAY0, MINUTE_MS, Feed, build_feed  # noqa: E402
from pipeline_rig import BurstSocket, MemoryStateStore, Probe, TimedVwap  # noqa: E402

# --- one run -------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """The figures of one run."""

    events: int
    handled: int
    conflated: int
    signals: int
    seconds: float
    latencies_ns: list[int]
    risk_decisions: int = 0
    order_requests: int = 0

    @property
    def events_per_s(self) -> float:
        """Frames fed per second of wall time."""
        return self.events / self.seconds

    def pct_us(self, q: float) -> float:
        """Latency percentile in microseconds (nearest rank)."""
        lat = self.latencies_ns
        if not lat:
            return float("nan")
        k = min(len(lat) - 1, max(0, math.ceil(q / 100 * len(lat)) - 1))
        return lat[k] / 1000


async def _risk_gate(bus: Bus, clock: ManualClock, symbols: Sequence[str], tmp: Path) -> tuple[Any, Database]:
    from config.models import RiskLimits
    from core.instruments import parse_exchange_info
    from database.migrate import upgrade
    from executor.risk.gate import RiskGate

    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    info = parse_exchange_info(json.loads((ROOT / "data/exchange_info.json").read_text()))
    ada = info.instruments["ADAUSDT"]
    instruments = {s: replace(ada, symbol=s) for s in symbols}
    limits = RiskLimits(
        max_total_exposure_usdt=Decimal(100_000), daily_loss_limit_usdt=Decimal(10_000),
        max_consecutive_losses=100, loss_cooldown_minutes=0, funding_window_minutes=0,
        max_orders_per_minute=1000, max_exposure_usdt=Decimal(10_000), allocation=Decimal(1),
    )
    gate = RiskGate(bus, clock, db, instruments, limits_for=lambda _s: limits,
                    starting_equity=Decimal(1_000_000))
    return gate, db


async def one_run(feed: Feed, *, stamps: bool, risk: bool, profile: cProfile.Profile | None) -> RunResult:
    """Wire a fresh pipeline, warm it up, feed every burst, collect the figures."""
    bus = Bus()
    clock = ManualClock(DAY0 + len(next(iter(feed.history.values()))) * MINUTE_MS)
    market = MarketDataService(gateway=cast(Any, None), db=cast(Database, None), bus=bus, clock=clock)
    streams = MarketStreams("ws://bench.invalid", clock, market.sink)
    conn = SupervisedConnection("market-0", streams.url, streams._handle, liveness="data")
    probe = Probe(len(feed.frames), stamps)
    store = MemoryStateStore()
    gate = db = None
    tasks: list[asyncio.Task[Any]] = []
    tmp = tempfile.TemporaryDirectory(prefix="bench-")
    decisions = bus.subscribe("risk.decision", name="bench.decisions")
    requests = bus.subscribe("order.request", name="bench.requests")
    if risk:
        gate, db = await _risk_gate(bus, clock, feed.symbols, Path(tmp.name))
        tasks.append(asyncio.create_task(gate.run()))
        await gate.ready.wait()
    runners: list[StrategyRunner] = []
    for sym in feed.symbols:
        strategy = TimedVwap(sym, None, order_notional=Decimal(100))
        strategy.bind(probe, feed.index[sym])
        runner = StrategyRunner(strategy, bus, clock, store)
        await runner.prepare(feed.history[sym])
        runners.append(runner)
        tasks.append(asyncio.create_task(runner.run(), name=f"runner.{sym}"))
    await asyncio.sleep(0.05)  # every runner is waiting on its queues
    market_subs = [r._subs[-1] for r in runners]

    def between() -> None:
        market._pending.clear()  # stored by the service's DB task in the daemon; not measured here
        while len(decisions):
            decisions.get_nowait()
        while len(requests):
            requests.get_nowait()

    sock = BurstSocket(feed, probe, market_subs, between)
    gc.collect()
    gc.freeze()  # the prebuilt frames are the bench's, not the daemon's: keep them out of GC passes
    if profile is not None:
        profile.enable()
    await conn._read(cast(aiohttp.ClientWebSocketResponse, sock))
    end_ns = max(probe.handled_at) if stamps else time.perf_counter_ns()
    if profile is not None:
        profile.disable()
    seconds = (end_ns - sock.first_ns) / 1e9
    conflated = sum(s.stats.conflated for s in market_subs)
    pairs = zip(probe.handled_at, probe.arrival, strict=True)
    latencies = sorted(h - a for h, a in pairs if h) if stamps else []
    result = RunResult(
        events=len(feed.frames), handled=probe.handled, conflated=conflated,
        signals=sum(r.signals for r in runners), seconds=seconds, latencies_ns=latencies,
        risk_decisions=(gate.accepted + sum(gate.rejected.values())) if gate is not None else 0,
        order_requests=gate.accepted if gate is not None else 0,
    )
    if conn.malformed:
        raise RuntimeError(f"{conn.malformed} frames were counted as malformed: the feed is wrong")
    for r in runners:
        await r.stop()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    gc.unfreeze()
    if db is not None:
        db.close()
    tmp.cleanup()
    return result


# --- decode cost: ours vs the SDK's -------------------------------------------------------------


def decode_costs(feed: Feed, repeat: int = 5) -> dict[str, float]:
    """ns per kline frame: the daemon's decode (orjson.loads + decode_market_payload) against the
    SDK's stream model (`KlineCandlestickStreamsResponse.model_validate_json` on the payload, and
    the SDK client's whole path: json.loads of the frame, json.dumps of the payload, validate)."""
    from binance_sdk_derivatives_trading_usds_futures.websocket_streams.models import (
        KlineCandlestickStreamsResponse,
    )

    frames = [f for f in feed.frames if '"e":"kline"' in f][:20_000]
    payloads = [json.dumps(json.loads(f)["data"], separators=(",", ":")) for f in frames]
    loads, dumps, validate = json.loads, json.dumps, KlineCandlestickStreamsResponse.model_validate_json

    def ours() -> None:
        for f in frames:
            decode_market_payload(orjson.loads(f)["data"])

    def sdk_model() -> None:
        for p in payloads:
            validate(p)

    def sdk_client() -> None:
        for f in frames:
            validate(dumps(loads(f)["data"]))

    out: dict[str, float] = {}
    for name, fn in (("ours", ours), ("sdk_model", sdk_model), ("sdk_client", sdk_client)):
        best = []
        for _ in range(repeat):
            t0 = time.perf_counter_ns()
            fn()
            best.append((time.perf_counter_ns() - t0) / len(frames))
        out[name] = statistics.median(best)
    return out


# --- main ----------------------------------------------------------------------------------------


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def _stat(values: Sequence[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the benchmark, print the table and the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--symbols", type=int, default=50, help="symbols streamed (1..500)")
    ap.add_argument("--events", type=int, default=100_000, help="about this many frames per run")
    ap.add_argument("--updates-per-second", type=int, default=2, help="kline updates per symbol per second")
    ap.add_argument("--warmup", type=int, default=300, help="closed candles each strategy starts with")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--burst", type=int, default=0, metavar="N",
                    help="frames per burst (default 0: one second of the market, all symbols)")
    ap.add_argument("--risk", action="store_true", help="also run the RiskGate on the signals")
    ap.add_argument("--no-stamps", action="store_true", help="no latency stamps (to see their cost)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="profile one extra run with cProfile and print the top N functions")
    ap.add_argument("--log-dir", type=Path, default=None,
                    help="log as the daemon does, into this directory (default: a temp dir)")
    args = ap.parse_args(argv)
    if not 1 <= args.symbols <= 500:
        print(f"bench: --symbols must be 1..500, got {args.symbols}", file=sys.stderr)
        return 2

    from utils.logging import configure_logging

    log_tmp = tempfile.TemporaryDirectory(prefix="bench-logs-")
    configure_logging("INFO", args.log_dir or Path(log_tmp.name), console=False)

    per_minute = 60 * (1 + args.updates_per_second) + 1
    minutes = max(2, math.ceil(args.events / (args.symbols * per_minute)))
    t0 = time.perf_counter()
    feed = build_feed(args.symbols, minutes, args.warmup, args.updates_per_second)
    if args.burst > 0:
        total = len(feed.frames)
        feed.bursts = [(i, min(i + args.burst, total)) for i in range(0, total, args.burst)]
    print(f"machine: {_machine()}")
    print(f"feed: {len(feed.frames):,} frames ({feed.kinds}), {args.symbols} symbols, {minutes} min, "
          f"bursts of {len(feed.frames) // len(feed.bursts)} frames; "
          f"built in {time.perf_counter() - t0:.1f} s")

    results: list[RunResult] = []
    for run in range(args.runs):
        r = asyncio.run(one_run(feed, stamps=not args.no_stamps, risk=args.risk, profile=None))
        results.append(r)
        print(f"run {run + 1}: {r.events_per_s:,.0f} events/s, p50 {r.pct_us(50):.0f} µs, "
              f"p99 {r.pct_us(99):.0f} µs, max {r.pct_us(100):.0f} µs, handled {r.handled:,}, "
              f"conflated {r.conflated:,}, signals {r.signals}"
              + (f", decisions {r.risk_decisions}, orders {r.order_requests}" if args.risk else ""))

    costs = decode_costs(feed)
    eps = _stat([r.events_per_s for r in results])
    figures: dict[str, Any] = {
        "symbols": args.symbols, "events_per_run": len(feed.frames), "runs": args.runs,
        "events_per_s": eps,
    }
    print(f"\nmedian of {args.runs} runs (min..max):")
    print(f"  events/s           {eps[0]:>10,.0f}  ({eps[1]:,.0f}..{eps[2]:,.0f})   target >= 100,000")
    if not args.no_stamps:
        for name, q in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9), ("max", 100.0)):
            s = _stat([r.pct_us(q) for r in results])
            figures[f"{name}_us"] = s
            note = "   target < 1,000" if name == "p99" else ""
            print(f"  latency {name:<6}     {s[0]:>10,.0f} µs ({s[1]:,.0f}..{s[2]:,.0f}){note}")
    for name in ("handled", "conflated", "signals", "risk_decisions", "order_requests"):
        s = _stat([float(getattr(r, name)) for r in results])
        figures[name] = s
        if name.startswith(("risk", "order")) and not args.risk:
            continue
        print(f"  {name:<18} {s[0]:>10,.0f}  ({s[1]:,.0f}..{s[2]:,.0f})")
    per_event_ns = 1e9 / eps[0]
    after_decode = 1e9 / (per_event_ns - costs["ours"]) if per_event_ns > costs["ours"] else float("inf")
    figures.update({
        "decode_ns": costs, "sdk_model_ratio": costs["sdk_model"] / costs["ours"],
        "sdk_client_ratio": costs["sdk_client"] / costs["ours"], "events_per_s_after_decode": after_decode,
        "machine": _machine(),
    })
    print(f"  decode per kline frame: ours {costs['ours'] / 1000:.1f} µs "
          "(orjson.loads + decode_market_payload); "
          f"SDK model_validate_json {costs['sdk_model'] / 1000:.1f} µs ({figures['sdk_model_ratio']:.2f}x), "
          f"SDK client path {costs['sdk_client'] / 1000:.1f} µs ({figures['sdk_client_ratio']:.2f}x)")
    print(f"  events/s after decode (pipeline minus our decode cost): {after_decode:,.0f}")

    if args.profile:
        prof = cProfile.Profile()
        asyncio.run(one_run(feed, stamps=not args.no_stamps, risk=args.risk, profile=prof))
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(args.profile)
        print(buf.getvalue())
    print("JSON " + json.dumps(figures, separators=(",", ":")))
    log_tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
