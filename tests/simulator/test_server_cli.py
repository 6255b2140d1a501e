"""The standalone simulator (`python -m simulator.cli`, behind `python -m trader simulator`): it prints
its URLs and API key, serves, and exits 0 without a traceback on SIGINT and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serves_until_signalled_then_exits_cleanly(sig: signal.Signals) -> None:
    env = {**os.environ, "SIM_API_KEY": "cliTestKey123", "SIM_API_SECRET": "cliTestSecret456"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "--port", "0", "--speed", "60", "--symbols", "ADAUSDT",
         "--fault", "ws_drop_every=30"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any("simulator: streams" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"exited early: {proc.wait(10)} {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line)
        rest_url = next(line.split()[-1] for line in lines if line.startswith("simulator: REST"))
        with urllib.request.urlopen(f"{rest_url}/fapi/v1/ping", timeout=5) as resp:
            assert (resp.status, resp.read()) == (200, b"{}")
        text = "".join(lines)
        assert "cliTestKey123 (from SIM_API_KEY)" in text and "cliTestSecret456" not in text
        assert "ws://127.0.0.1:" in text
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "simulator: stopped" in out


def test_help_lists_every_fault() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "rest_error" in result.stdout and "ws_stall" in result.stdout and "/_sim/faults" in result.stdout


def test_bad_fault_and_bad_data_are_one_line_errors() -> None:
    result = run("--fault", "explode=1")
    assert result.returncode == 2 and "unknown fault 'explode'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run("--data", "/nonexistent")
    assert result.returncode == 2 and "--data /nonexistent" in result.stderr
    assert "Traceback" not in result.stderr
    result = run("--fill-parts", "0")
    assert result.returncode == 2 and result.stderr.strip() == "simulator: --fill-parts 0: must be 1..100"
