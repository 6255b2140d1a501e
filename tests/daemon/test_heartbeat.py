"""status/heartbeat.json is complete, atomic and keeps going when a provider breaks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from trader.heartbeat import DaemonState, Heartbeat
from utils.clock import ManualClock


async def test_heartbeat_writes_every_section(tmp_path: Path) -> None:
    path = tmp_path / "status" / "heartbeat.json"
    beat = Heartbeat(
        path, ManualClock(1_700_000_000_000), interval_s=0.01, mode="sim", instance_id="box-1", version="1.2"
    )
    beat.register("bus", lambda: {"published": {"order.update": 3}})
    beat.set_state(DaemonState.RUNNING)
    await beat.write()
    doc = json.loads(path.read_text())
    assert doc["mode"] == "sim" and doc["state"] == "running" and doc["schema_version"] == 1
    assert doc["instance_id"] == "box-1" and doc["version"] == "1.2"
    assert doc["clock_ms"] == 1_700_000_000_000
    assert doc["bus"] == {"published": {"order.update": 3}}


async def test_a_failing_provider_is_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    beat = Heartbeat(path, ManualClock(0), interval_s=0.01, mode="sim", instance_id="x", version="1")

    def broken() -> dict[str, int]:
        raise RuntimeError("boom")

    beat.register("strategies", broken)
    beat.register("symbols", broken)  # a section of the schema keeps its empty default
    beat.register("ok", lambda: 1)
    task = asyncio.create_task(beat.run())
    while beat.writes < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    doc = json.loads(path.read_text())
    assert doc["strategies"] == {"error": "RuntimeError: boom"}
    assert doc["symbols"] == {}
    assert doc["ok"] == 1
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"
