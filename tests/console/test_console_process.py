"""`python -m trader run` as a person sees it (issue 13 item 9), the daemon a real process: human
lines on a terminal (a pty), JSON lines when its output is redirected; the log file keeps
everything, without the migration tool's chatter."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.crash.harness import SPEED, daemon
from tests.integration.process_rig import ROOT, DaemonProcess, cleanup
from tests.integration.venue import simulated_venue

pytestmark = pytest.mark.slow


async def _printed(process: DaemonProcess, text: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while text not in process.text():
        assert time.monotonic() < deadline, f"{text} not printed within {within}s:\n{process.text()[-3000:]}"
        assert process.process is not None and process.process.returncode is None, process.text()[-3000:]
        await asyncio.sleep(0.1)


async def test_redirected_output_is_json_lines_of_what_a_person_needs(tmp_path: Path) -> None:
    async with simulated_venue(speed=SPEED) as venue:
        process = daemon(tmp_path, venue)
        try:
            await process.start()
            await process.wait_running()
            await _printed(process, '"trade.order"')  # the first order's line is out: enough to stop
            process.signal(signal.SIGTERM)
            assert await process.wait_exit() == 0
        finally:
            await cleanup(process)
    lines = [line for line in process.text().splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line is JSON: a journal keeps them whole
    names = {e["event"] for e in events}
    assert {"console.banner", "stream.connected", "strategy.started", "daemon.started", "trade.signal",
            "trade.order", "daemon.stopped"} <= names, names  # fmt: skip
    banner = next(e for e in events if e["event"] == "console.banner")
    assert banner["mode"] == "sim" and banner["symbols"] == ["WLDUSDT", "ADAUSDT"]
    assert "trade.risk_decision" not in names or all(
        not e["accepted"] for e in events if e["event"] == "trade.risk_decision"
    )  # an accepted decision is said by its order
    assert "market_data.backfilled" not in names  # developer detail stays in the file
    log_text = (tmp_path / "logs" / "trader.log").read_text()
    assert '"market_data.' in log_text and '"trade.order"' in log_text  # the file keeps everything
    assert '"logger": "alembic' not in log_text  # no migration chatter


_TRADING_LINES = ("connected ", "warmed up WLDUSDT", "started   sim", "signal    ")


def _seen_trading(text: str) -> bool:
    """The lines the test asserts before the stop are all on the terminal: a person would press Ctrl-C."""
    started = all(words in text for words in _TRADING_LINES)
    return started and ("order     " in text or "fill      " in text)


def _run_on_a_terminal(env: dict[str, str], config: Path, seconds: float) -> str:
    # Ctrl-C (SIGINT) as soon as the trading lines are out, instead of waiting out a fixed run;
    # `--duration` only bounds a daemon that never trades.
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "trader", "run", "--config", str(config), "--duration", str(seconds)],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    chunks: list[bytes] = []
    interrupted = False
    deadline = time.monotonic() + seconds + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the daemon exited
            break
        if not chunk:
            break
        chunks.append(chunk)
        if not interrupted and _seen_trading(b"".join(chunks).decode(errors="replace")):
            child.send_signal(signal.SIGINT)
            interrupted = True
    os.close(leader)
    assert child.wait(timeout=30) == 0
    return b"".join(chunks).decode(errors="replace")


async def test_on_a_terminal_it_reads_as_words(tmp_path: Path) -> None:
    async with simulated_venue(speed=SPEED) as venue:
        process = daemon(tmp_path, venue)  # its folders, config and environment; run on a pty here
        text = await asyncio.to_thread(_run_on_a_terminal, process.env, process.config, 60)
    assert "SIM mode  (no money at risk)" in text
    assert "symbols   WLDUSDT, ADAUSDT" in text
    assert "python -m trader status" in text and "Ctrl-C" in text
    for words in (*_TRADING_LINES, "stopped   exit code 0"):
        assert words in text, f"{words!r} not in:\n{text[-3000:]}"
    # an order that fills at once is told by its fill line; one that rests, by its order line
    assert "order     " in text or "fill      " in text, text[-3000:]
    assert '{"' not in text  # no JSON on a terminal
    assert "alembic" not in text.lower()
