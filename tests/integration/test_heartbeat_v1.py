"""Heartbeat v1: every document a running daemon writes, from start-up to exit, validates against
docs/heartbeat.schema.json, and says what a person needs (state and why, per-symbol entries)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from config.loader import load_config
from tests.integration.test_daemon import _config_file, _settings, _wait_for
from trader.app import Daemon

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "heartbeat.schema.json").read_text())
pytestmark = pytest.mark.slow


async def _collect(path: Path, into: list[dict[str, Any]]) -> None:
    """Keep every distinct document written to `path`."""
    last = None
    while True:
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text()
            if text != last:
                last = text
                into.append(json.loads(text))
        await asyncio.sleep(0.02)


async def test_every_heartbeat_a_daemon_writes_matches_the_schema(tmp_path: Path) -> None:
    path = _config_file(tmp_path, speed=600)
    settings = _settings(tmp_path, path)
    heartbeat = tmp_path / "status" / "heartbeat.json"
    documents: list[dict[str, Any]] = []
    collector = asyncio.create_task(_collect(heartbeat, documents))
    daemon = Daemon(settings, load_config(path), config_path=path)
    try:
        await daemon.start()
        await _wait_for(
            lambda: any(d.get("state") == "running" for d in documents), 30, "a running heartbeat"
        )
        await _wait_for(lambda: len(documents) >= 4, 30, "several heartbeats")
    finally:
        await daemon.stop()
        await asyncio.sleep(0.1)
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)

    validator = jsonschema.Draft202012Validator(SCHEMA)
    for document in documents:
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, (
            f"state {document.get('state')}: {[f'{list(e.path)}: {e.message}' for e in errors]}"
        )
    states = [d["state"] for d in documents]
    assert states[0] in ("starting", "reconciling") and states[-1] == "stopped", states
    assert "running" in states
    running = next(d for d in documents if d["state"] == "running")
    assert set(running["symbols"]) == {"WLDUSDT", "ADAUSDT"}
    assert (
        running["reconciliation"]["result"] in ("ok", "repaired") and running["reconciliation"]["runs"] >= 1
    )
    assert running["database"]["ok"] is True
    for symbol in running["symbols"].values():
        # Entries are either on, or off with every reason given.
        assert symbol["entries_enabled"] == (symbol["entries_blocked_by"] == [])
    assert documents[-1]["state_reason"] in (None, "shutting down")
