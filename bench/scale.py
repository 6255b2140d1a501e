"""Scale benchmark (issue 19): the daemon with 50, 200 and 500 symbols at Binance's real message rates.

The simulator (`python -m simulator.cli --symbols M`) and the daemon (`python -m trader run`, sim mode
pointed at it through TRADER_REST_URL / TRADER_STREAM_URL) run as two separate processes at speed 1:
every symbol gets a kline_1m update every 250 ms and a mark price every second, as on Binance. Each
symbol runs the shipped vwap strategy (20 USDT entries) on SQLite in a temporary folder.

After the daemon is up (heartbeat `running`, every strategy warmed up) and `--settle` seconds more,
the bench measures for `--seconds`:
- CPU: the daemon's utime + stime from /proc/<pid>/stat over the window, in % of one core (CPU time
  a process is given does not grow when other processes load the machine, unlike wall-clock figures);
- RSS: /proc/<pid>/status VmRSS sampled every second (max);
- loop lag (raw, and `own`: without the lateness a reference thread saw at the same moments, i.e.
  without the machine's load) and message-to-decision latency: the heartbeat's `performance`
  histograms (utils/latency.py),
  the window's counts being the difference between the first and last heartbeat of the window;
- messages/s received on the market sockets (heartbeat `streams`);
- the machine's load: /proc/loadavg and the share of all cores busy (/proc/stat) during the window.

    python bench/scale.py                       # 50, 200, 500 symbols, 120 s each
    python bench/scale.py --symbols 500 --seconds 30
    SCALE_PROFILE=/tmp/p.txt python bench/scale.py --symbols 500 --seconds 40   # + py-spy profile
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET  # noqa: E402
from simulator.many_symbols import many_symbols_doc  # noqa: E402
from utils.latency import LatencyHistogram  # noqa: E402

SHIPPED = ROOT / "config" / "config.yaml"
TICK = os.sysconf("SC_CLK_TCK")
TARGETS = {"cpu_pct": 25.0, "rss_mb": 300.0, "lag_p99_ms": 20.0, "decision_p99_ms": 5.0}


def usdt_symbols(count: int) -> tuple[list[str], int]:
    """The first `count` USDT symbols of the simulator's list, and how many it must list for them."""
    listed = count
    while True:
        names = [s["symbol"] for s in many_symbols_doc(ROOT / "data", listed)["symbols"]]
        usdt = [n for n in names if n.endswith("USDT")]
        if len(usdt) >= count:
            return usdt[:count], listed
        listed += count - len(usdt)


def write_config(folder: Path, symbols: list[str]) -> Path:
    text = SHIPPED.read_text()
    entries = "".join(f"  - symbol: {s}\n    strategy: vwap\n    order_notional_usdt: 20\n" for s in symbols)
    path = folder / "config.yaml"
    path.write_text(text[: text.index("symbols:")] + "symbols:\n" + entries)
    return path


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> tuple[int, int]:
    cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = cpu[3] + cpu[4]
    return sum(cpu) - idle, sum(cpu)


def heartbeat(folder: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((folder / "status" / "heartbeat.json").read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def start_simulator(listed: int, folder: Path) -> tuple[subprocess.Popen[str], str, str]:
    with open(folder / "simulator.err", "w") as err:  # the child keeps its own copy
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "--port", "0", "--symbols", str(listed)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
        )
    assert proc.stdout is not None
    rest = stream = ""
    while not stream:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"simulator exited: {(folder / 'simulator.err').read_text()[-2000:]}")
        if line.startswith("simulator: REST"):
            rest = line.split()[-1]
        elif line.startswith("simulator: streams"):
            stream = line.split()[2]
    return proc, rest, stream


def start_daemon(folder: Path, config: Path, rest: str, stream: str) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TRADER_", "OP_SERVICE_ACCOUNT"))},
        "PYTHONPATH": str(ROOT), "TRADER_MODE": "sim", "TRADER_REST_URL": rest, "TRADER_STREAM_URL": stream,
        "TRADER_API_KEY": DEFAULT_API_KEY, "TRADER_API_SECRET": DEFAULT_API_SECRET,
        "TRADER_DATABASE_URL": f"sqlite:///{folder / 'trader.db'}",
        "TRADER_STATUS_DIR": str(folder / "status"), "TRADER_LOG_DIR": str(folder / "logs"),
    }
    with open(folder / "daemon.out", "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "trader", "run", "--config", str(config)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )


def wait_ready(daemon: subprocess.Popen[bytes], folder: Path, symbols: list[str], within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if daemon.poll() is not None:
            tail = (folder / "daemon.out").read_text()[-3000:]
            raise SystemExit(f"daemon exited {daemon.returncode}: {tail}")
        doc = heartbeat(folder)
        if doc and doc.get("state") == "running" and len(doc.get("strategies") or {}) == len(symbols):
            return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"daemon not running with {len(symbols)} strategies within {within:.0f} s")


def window_counts(first: dict[str, Any], last: dict[str, Any], name: str) -> list[int]:
    if name not in first["performance"]:  # an older daemon without this histogram
        return []
    a, b = first["performance"][name]["buckets"], last["performance"][name]["buckets"]
    return [y - x for x, y in zip(a, b, strict=True)]


def market_messages(doc: dict[str, Any]) -> int:
    return sum(int(s.get("messages", 0)) for s in doc.get("streams") or [])


def run_one(count: int, seconds: float, settle: float) -> dict[str, Any]:
    symbols, listed = usdt_symbols(count)
    folder = Path(tempfile.mkdtemp(prefix=f"scale{count}-"))
    sim, rest, stream = start_simulator(listed, folder)
    daemon = start_daemon(folder, write_config(folder, symbols), rest, stream)
    try:
        ready_s = wait_ready(daemon, folder, symbols, within=600)
        time.sleep(settle)
        first = heartbeat(folder)
        assert first is not None
        cpu0, sim_cpu0, busy0 = proc_cpu_s(daemon.pid), proc_cpu_s(sim.pid), machine_busy()
        t0 = time.monotonic()
        load0 = Path("/proc/loadavg").read_text().split()[0]
        rss: list[float] = []
        profile = os.environ.get("SCALE_PROFILE")  # a path: py-spy samples the window (collapsed stacks)
        spy = subprocess.Popen(
            ["py-spy", "record", "--pid", str(daemon.pid), "--duration", str(int(seconds)), "--rate", "100",
             "--format", "raw", "--output", profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ) if profile else None
        while time.monotonic() - t0 < seconds:
            rss.append(proc_rss_mb(daemon.pid))
            time.sleep(1.0)
        time.sleep(1.2)  # one more heartbeat inside the window's end
        if spy is not None:
            spy.wait(60)
        last = heartbeat(folder)
        assert last is not None
        elapsed = time.monotonic() - t0
        cpu = (proc_cpu_s(daemon.pid) - cpu0) / elapsed * 100
        sim_cpu = (proc_cpu_s(sim.pid) - sim_cpu0) / elapsed * 100
        busy1 = machine_busy()
        machine = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * 100
        load1 = Path("/proc/loadavg").read_text().split()[0]
        window_s = (last["written_at_ms"] - first["written_at_ms"]) / 1000
        lag = window_counts(first, last, "loop_lag")
        own = window_counts(first, last, "loop_lag_own")
        decision = window_counts(first, last, "decision")
        return {
            "symbols": count, "ready_s": round(ready_s, 1), "seconds": round(elapsed),
            "cpu_pct": round(cpu, 1), "rss_mb": round(max(rss), 1),
            "lag_p50_ms": LatencyHistogram.percentile(0.5, lag),
            "lag_p99_ms": LatencyHistogram.percentile(0.99, lag),
            "own_lag_p99_ms": LatencyHistogram.percentile(0.99, own),
            "decision_p50_ms": LatencyHistogram.percentile(0.5, decision),
            "decision_p99_ms": LatencyHistogram.percentile(0.99, decision),
            "decisions": sum(decision),
            "msgs_per_s": round((market_messages(last) - market_messages(first)) / window_s),
            "sim_cpu_pct": round(sim_cpu, 1), "machine_busy_pct": round(machine), "load": f"{load0}->{load1}",
        }
    finally:
        for proc in (daemon, sim):
            proc.terminate()
        for proc in (daemon, sim):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not os.environ.get("SCALE_KEEP"):
            shutil.rmtree(folder, ignore_errors=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = ["symbols", "msgs_per_s", "cpu_pct", "rss_mb", "lag_p50_ms", "lag_p99_ms", "own_lag_p99_ms",
               "decision_p50_ms",
               "decision_p99_ms", "decisions", "ready_s", "sim_cpu_pct", "machine_busy_pct", "load"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(_fmt(row[c]) for c in columns) + " |")
    t = TARGETS
    print(f"targets at 500 symbols: CPU < {t['cpu_pct']:g} % of one core, RSS < {t['rss_mb']:g} MB, "
          f"loop lag p99 < {t['lag_p99_ms']:g} ms, message-to-decision p99 < {t['decision_p99_ms']:g} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", default="50,200,500",
                        help="comma-separated symbol counts (default 50,200,500)")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="measured seconds per count (default 120)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after start-up before measuring")
    args = parser.parse_args()
    rows = []
    for count in (int(c) for c in args.symbols.split(",")):
        row = run_one(count, args.seconds, args.settle)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
