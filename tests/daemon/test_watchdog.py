"""The watchdog (issue 14): one alert when the heartbeat goes stale or stays degraded, one when it
recovers; remembers the incident between `--once` runs; exit code = health."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.daemon.test_status_command import OK_RECONCILIATION, USER, _stream, _write
from trader.heartbeat import DaemonState
from trader.watchdog import Watchdog

ROOT = Path(__file__).resolve().parents[2]


def _age(path: Path, seconds: float) -> None:
    document = json.loads(path.read_text())
    document["written_at_ms"] = int((time.time() - seconds) * 1000)
    path.write_text(json.dumps(document))


async def test_stale_then_recovered_alerts_once_each(tmp_path: Path) -> None:
    path = await _write(tmp_path, streams=[_stream()], user_stream=USER, reconciliation=OK_RECONCILIATION)
    alerts: list[tuple[str, str, str]] = []
    dog = Watchdog(path, lambda *a: alerts.append(a), max_age_s=10, state_file=tmp_path / "watchdog.json")
    assert dog.check().health == 0 and alerts == []
    _age(path, 30)
    for _ in range(3):
        dog.check()
    assert [(s, k) for s, k, _ in alerts] == [("CRITICAL", "watchdog_stale")]
    assert "heartbeat is 30 s old (limit 10 s)" in alerts[0][2]
    await _write(tmp_path, streams=[_stream()], user_stream=USER, reconciliation=OK_RECONCILIATION)
    dog.check()
    dog.check()
    assert [k for _, k, _ in alerts] == ["watchdog_stale", "watchdog_recovered"]


async def test_degraded_is_alerted_only_after_the_delay(tmp_path: Path) -> None:
    path = await _write(
        tmp_path, state=DaemonState.PAUSED, reason="no successful reconciliation yet",
        streams=[_stream()], user_stream=USER, reconciliation=OK_RECONCILIATION,
    )  # fmt: skip
    alerts: list[tuple[str, str, str]] = []
    dog = Watchdog(path, lambda *a: alerts.append(a), degraded_for_s=60, max_age_s=3600)
    now = time.time()
    assert dog.check(now).health == 1
    assert alerts == []  # not yet: a short pause is normal
    dog.check(now + 30)
    assert alerts == []
    dog.check(now + 61)
    assert [(s, k) for s, k, _ in alerts] == [("WARNING", "watchdog_degraded")]
    assert "paused: no successful reconciliation yet" in alerts[0][2]


def _once(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TRADER_STATUS_DIR": str(tmp_path / "status"),
        "TRADER_LOG_DIR": str(tmp_path / "logs"),
    }
    return subprocess.run(
        [sys.executable, "-m", "trader", "watchdog", "--once", "--max-age", "10"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_once_remembers_the_incident_between_runs(tmp_path: Path) -> None:
    path = await _write(tmp_path, streams=[_stream()], user_stream=USER, reconciliation=OK_RECONCILIATION)
    _age(path, 60)
    first = _once(tmp_path)
    assert first.returncode == 2 and "CRITICAL:" in first.stdout, first.stdout + first.stderr
    second = _once(tmp_path)
    assert second.returncode == 2 and "CRITICAL:" not in second.stdout  # alerted once per incident
    await _write(tmp_path, streams=[_stream()], user_stream=USER, reconciliation=OK_RECONCILIATION)
    third = _once(tmp_path)
    assert third.returncode == 0 and "is healthy again" in third.stdout, third.stdout
