"""How long `python -m trader halt` takes to stop a running daemon's entries.

    .venv/bin/python bench/kill_switch.py [--runs 20]

A second process writes the halt into a real SQLite database (as the `halt` command does); the
running risk gate's watcher polls the control table every 0.25 s. Measured from the moment the
writer's transaction committed to the moment the gate holds the halt, for a global halt and a
symbol's. Goal: under 1 s (the tests only check that the next poll applies it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from database.engine import Database  # noqa: E402
from database.migrate import upgrade  # noqa: E402
from executor.risk.kill_switch import KillSwitchWatcher  # noqa: E402
from tests.risk._fixtures import SYMBOL  # noqa: E402
from tests.risk._gate import start_gate  # noqa: E402

_WRITER = (
    "import sys, time; from database.engine import Database; "
    "from executor.risk.kill_switch import halt, resume; d = Database(sys.argv[1]); "
    "resume(d) if sys.argv[2] == 'resume' else halt(d, 'bench', symbol=sys.argv[2] or None); "
    "print(time.monotonic()); d.close()"
)


async def _one(url: str, symbol: str) -> float:
    """Seconds from the writer's commit to the gate holding the halt."""
    db = Database(url)
    h = await start_gate(db)
    task = asyncio.create_task(KillSwitchWatcher(db, h.gate).run())
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WRITER, url, symbol, stdout=subprocess.PIPE, cwd=ROOT
        )
        out, _ = await proc.communicate()
        committed = float(out.decode().strip())  # CLOCK_MONOTONIC is shared between processes
        held = (lambda: h.gate.state.global_halt is not None) if not symbol else (
            lambda: h.gate.state.symbol_halt(symbol) is not None
        )  # fmt: skip
        while not held():
            await asyncio.sleep(0.001)
        return time.monotonic() - committed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await h.stop()
        reset = await asyncio.create_subprocess_exec(sys.executable, "-c", _WRITER, url, "resume", cwd=ROOT,
                                                     stdout=subprocess.DEVNULL)  # fmt: skip
        await reset.wait()
        db.close()


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        for name, symbol in (("global halt", ""), (f"{SYMBOL} halt", SYMBOL)):
            times = [await _one(url, symbol) for _ in range(runs)]
            print(f"{name}: median {statistics.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms over {runs} runs (goal < 1000 ms)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args().runs))
