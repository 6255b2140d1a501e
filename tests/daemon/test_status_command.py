"""`python -m trader status`: its exit code is the daemon's health, usable by cron and systemd.

Heartbeats are written by the daemon's own Heartbeat class into a real status folder, then read by
`status` run as a separate process, as an operator or a timer would run it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from trader.heartbeat import DaemonState, Heartbeat
from utils.clock import ManualClock

ROOT = Path(__file__).resolve().parents[2]


def _status(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TRADER_STATUS_DIR": str(tmp_path / "status"),
        "TRADER_LOG_DIR": str(tmp_path / "logs"),
        "TRADER_DATABASE_URL": f"sqlite:///{tmp_path / 'trader.db'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "trader", "status", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _write(
    tmp_path: Path, *, state: DaemonState = DaemonState.RUNNING, reason: str | None = None, **sections: Any
) -> Path:
    path = tmp_path / "status" / "heartbeat.json"
    beat = Heartbeat(
        path, ManualClock(1_700_000_000_000), interval_s=5.0, mode="sim", instance_id="t", version="1"
    )
    for name, value in sections.items():
        beat.register(name, lambda v=value: v)
    beat.set_state(state, reason)
    await beat.write()
    return path


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _stream(connected: bool = True, age: int = 200) -> dict[str, Any]:
    return {
        "name": "market-1",
        "connected": connected,
        "streams": 4,
        "last_message_age_ms": age,
        "reconnects": 0,
        "messages": 10,
        "malformed": 0,
        "last_error": "",
    }


USER = {"connected": True, "last_message_age_ms": 100, "reconnects": 0, "listen_key_age_s": 10.0}
OK_RECONCILIATION = {"last_run_ms": 1, "result": "ok", "differences": 0, "runs": 1, "detail": None}


def test_no_heartbeat_is_exit_3(tmp_path: Path) -> None:
    result = _status(tmp_path)
    assert result.returncode == 3
    assert "NO HEARTBEAT" in result.stdout


async def test_a_fresh_running_heartbeat_is_healthy(tmp_path: Path) -> None:
    await _write(tmp_path, streams=[_stream()], user_stream=USER, reconciliation=OK_RECONCILIATION)
    result = _status(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("HEALTHY")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("sections", "state", "expected"),
    [
        ({"streams": [_stream(connected=False)]}, DaemonState.RUNNING, "stream market-1 down"),
        ({"streams": [_stream(age=120_000)]}, DaemonState.RUNNING, "stream market-1 stale"),
        (
            {"reconciliation": {**OK_RECONCILIATION, "result": "failed", "detail": "venue down"}},
            DaemonState.RUNNING,
            "reconciliation failed: venue down",
        ),
        ({}, DaemonState.PAUSED, "paused: no successful reconciliation yet"),
        (
            {"database": {"ok": False, "last_write_latency_ms": None, "error": "disk I/O error"}},
            DaemonState.RUNNING,
            "database: disk I/O error",
        ),
    ],
)
async def test_degraded_is_exit_1_with_the_reason(
    tmp_path: Path, sections: dict[str, Any], state: DaemonState, expected: str
) -> None:
    full = {"streams": [_stream()], "user_stream": USER, "reconciliation": OK_RECONCILIATION, **sections}
    reason = "no successful reconciliation yet" if state is DaemonState.PAUSED else None
    await _write(tmp_path, state=state, reason=reason, **full)
    result = _status(tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith("DEGRADED") and expected in result.stdout, result.stdout


async def test_a_stale_heartbeat_a_dead_process_or_a_stopped_daemon_is_exit_2(tmp_path: Path) -> None:
    path = await _write(tmp_path, streams=[_stream()], user_stream=USER, reconciliation=OK_RECONCILIATION)
    document = json.loads(path.read_text())

    document["written_at_ms"] = int((time.time() - 60) * 1000)  # 12 intervals ago
    path.write_text(json.dumps(document))
    stale = _status(tmp_path)
    assert stale.returncode == 2 and re.search(r"heartbeat is 6\d s old", stale.stdout), stale.stdout

    gone = _dead_pid()
    document["written_at_ms"] = int(time.time() * 1000)
    document["pid"] = gone
    path.write_text(json.dumps(document))
    dead = _status(tmp_path)
    assert dead.returncode == 2 and f"process {gone} is gone" in dead.stdout, dead.stdout

    await _write(tmp_path, state=DaemonState.STOPPED)
    stopped = _status(tmp_path)
    assert stopped.returncode == 2 and "stopped" in stopped.stdout


async def test_json_prints_the_heartbeat_with_its_health(tmp_path: Path) -> None:
    await _write(
        tmp_path, streams=[_stream(connected=False)], user_stream=USER, reconciliation=OK_RECONCILIATION
    )
    result = _status(tmp_path, "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    assert document["health"]["code"] == 1 and document["health"]["status"] == "degraded"
    assert "stream market-1 down" in document["health"]["reasons"]
