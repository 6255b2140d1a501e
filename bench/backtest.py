"""The backtest benchmark: the reference candles and rules of ../shared/docs/backtest-bench.md.

    python bench/backtest.py [--pairs N] [--no-trade] [--runs K] [--trades-out CSV] [--json OUT]

Generates the candles (../shared/tools/bench_candles.py) into a temporary folder, writes the rules
as a trader configuration (bench/backtest.yaml plus one `vwap` entry per pair), and runs
`python -m trader backtest` on them in a fresh process per run: the whole process (interpreter
start, imports, loading the CSV files) and the backtest loop alone are timed, max RSS read from
the kernel. Medians of K runs. Checks the trade list against bench/bench_reference.py, an
independent plain implementation of the doc's rules, and exits 1 if they differ.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import yaml
from bench_rules import PARAMS, REASONS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
NAMES = [
    "BTCUSDT",
    "ETHUSDT",
    "BNBUSDT",
    "SOLUSDT",
    "XRPUSDT",
    "DOGEUSDT",
    "LTCUSDT",
    "LINKUSDT",
    "DOTUSDT",
    "AVAXUSDT",
]


def _setup(folder: Path, pairs: int, no_trade: bool) -> tuple[Path, Path]:
    generator = os.environ.get("BENCH_CANDLES", str(SHARED / "tools" / "bench_candles.py"))
    subprocess.run(
        [sys.executable, generator, str(folder / "candles"), "--pairs", str(pairs)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    doc = json.loads((ROOT / "data" / "exchange_info.json").read_text())
    template = next(s for s in doc["symbols"] if s["symbol"] == "BTCUSDT")  # tick 0.1, step 0.001
    doc["symbols"] = [dict(copy.deepcopy(template), symbol=s, pair=s) for s in NAMES[:pairs]]
    info = folder / "exchange_info.json"
    info.write_text(json.dumps(doc))
    config = yaml.safe_load((ROOT / "bench" / "backtest.yaml").read_text())
    params = dict(PARAMS, adx_max=0.001) if no_trade else PARAMS  # same indicators, entries never pass
    config["symbols"] = [
        {"symbol": s, "strategy": "vwap", "order_notional_usdt": 1000, "params": params}
        for s in NAMES[:pairs]
    ]
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, info


def _run_once(folder: Path, config: Path, info: Path) -> dict[str, float]:
    out = folder / "report.json"
    started = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trader",
            "backtest",
            "--config",
            str(config),
            "--data",
            str(folder / "candles"),
            "--exchange-info",
            str(info),
            "--json",
            str(out),
            "--trades-csv",
            str(folder / "trades.csv"),
            "--quiet",
            "--no-save",  # the backtest, not the database write the command does by default
        ],
        cwd=ROOT,
    )
    # wait4: this child's own CPU time and peak RSS (RUSAGE_CHILDREN would also count the candle
    # generator, whose numpy arrays can outweigh a small backtest). Linux hands the peak RSS of the
    # memory the child started from (this process's, when it is spawned by vfork) on to the child
    # at exec, so this process stays small until the runs are done: no numpy or TA-Lib imported yet.
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    whole = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"trader backtest exited with {child.returncode}")
    timing = json.loads(out.read_text())["timing"]
    return {
        "whole_s": whole,
        "whole_cpu_s": usage.ru_utime + usage.ru_stime,
        "loop_s": timing["loop_seconds"],
        "loop_cpu_s": timing["loop_cpu_seconds"],
        "rss_mib": usage.ru_maxrss / 1024,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1)
    ap.add_argument("--no-trade", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--trades-out", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="+ one cProfile'd loop: top N")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, info = _setup(folder, a.pairs, a.no_trade)
        runs = [_run_once(folder, config, info) for _ in range(a.runs)]
        report = json.loads((folder / "report.json").read_text())
        mine = [
            (
                t["symbol"],
                t["side"],
                t["entry_time_ms"],
                Decimal(t["entry_price"]),
                t["exit_time_ms"] - t["exit_time_ms"] % 60_000,
                Decimal(t["exit_price"]),
                REASONS.get(t["reason"], t["reason"]),
            )
            for t in report["trades"]
        ]
        mine.sort(key=lambda t: (t[0], t[2]))
        reference = _reference(folder / "candles", a.pairs)
        if a.profile:
            _profile(folder, config, info, a.profile)
    bars = report["period"]["candles"]
    whole = statistics.median(r["whole_s"] for r in runs)
    loop = statistics.median(r["loop_s"] for r in runs)
    whole_cpu = statistics.median(r["whole_cpu_s"] for r in runs)
    loop_cpu = statistics.median(r["loop_cpu_s"] for r in runs)
    rss = max(r["rss_mib"] for r in runs)
    reasons = Counter(t[6] for t in mine)
    same = mine == reference
    if not same:  # the first differences, side by side, so a failed check says what differs
        for got, want in [(m, r) for m, r in zip(mine, reference, strict=False) if m != r][:5]:
            print(f"differs: ours {got} reference {want}", file=sys.stderr)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "pairs": a.pairs,
        "no_trade": a.no_trade,
        "bars": bars,
        "runs": a.runs,
        "whole_process_bars_per_s": round(bars / whole),
        "loop_bars_per_s": round(bars / loop),
        "whole_process_s": round(whole, 3),
        "loop_s": round(loop, 3),
        "whole_process_cpu_bars_per_s": round(bars / whole_cpu),
        "loop_cpu_bars_per_s": round(bars / loop_cpu),
        "whole_process_cpu_s": round(whole_cpu, 3),
        "loop_cpu_s": round(loop_cpu, 3),
        "all_runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
        "max_rss_mib": round(rss, 1),
        "trades": len(mine),
        "exits_by_reason": dict(sorted(reasons.items())),
        "reference_trades": len(reference),
        "trade_list_equals_reference": same,
    }
    print(json.dumps(result, indent=1))
    if a.trades_out is not None:
        lines = ["symbol,side,entry_time_ms,entry_price,exit_time_ms,exit_price,reason"]
        lines += [",".join(str(x) for x in t) for t in mine]
        a.trades_out.write_text("\n".join(lines) + "\n")
    if a.json is not None:
        a.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if same else 1


def _profile(folder: Path, config: Path, info: Path, top: int) -> None:
    """One run of the backtest loop in this process under cProfile (loading not profiled)."""
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    from backtest.loading import load_files
    from backtest.session import run_session
    from config.loader import load_config
    from simulator.exchange_info import instruments_of, load_exchange_info

    instruments = instruments_of(load_exchange_info(info))
    series = load_files([folder / "candles"], {s: i.tick_size for s, i in instruments.items()})
    profiler = cProfile.Profile()
    profiler.enable()
    run_session(load_config(config), series, instruments, funding_rate=Decimal(0))
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(top)


def _reference(candles: Path, pairs: int) -> list[tuple[str, str, int, Decimal, int, Decimal, str]]:
    sys.path.insert(0, str(ROOT))
    from backtest.loading import load_files

    from bench_reference import reference_trades  # here, after the timed runs: see `_run_once`

    series = load_files([candles], {s: Decimal("0.1") for s in NAMES[:pairs]})
    out = []
    for symbol, s in sorted(series.items()):
        out += reference_trades(symbol, s.open_times, s.opens, s.highs, s.lows, s.closes, s.volumes)
    out.sort(key=lambda t: (t[0], t[2]))
    return out


if __name__ == "__main__":
    sys.exit(main())
