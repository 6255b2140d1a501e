"""status/heartbeat.json: what the daemon is doing, for the dashboard and for humans.

Written atomically (a temporary file, then rename) on a thread, so a reader never sees half a file
and the event loop never waits for the disk. The content is assembled from status providers: small
functions each component registers that return plain JSON-able dicts. Nothing secret goes in: the
providers report counters and states, never settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from utils.clock import Clock

_log = structlog.get_logger(__name__)

StatusProvider = Callable[[], Any]


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """Write `document` to `path` so that readers see either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


class Heartbeat:
    """Periodically writes the status document assembled from registered providers."""

    def __init__(self, path: Path, clock: Clock, *, interval_s: float, mode: str) -> None:
        self.path = path
        self._clock = clock
        self._interval_s = interval_s
        self._mode = mode
        self._providers: dict[str, StatusProvider] = {}
        self._started_wall = time.time()
        self._state = "starting"
        self.writes = 0

    def register(self, section: str, provider: StatusProvider) -> None:
        """Add a section to the document; `provider()` is called at every write."""
        self._providers[section] = provider

    def set_state(self, state: str) -> None:
        """The daemon's life-cycle state: starting, running, stopping, stopped, halted."""
        self._state = state

    def document(self) -> dict[str, Any]:
        """The status document as it would be written now."""
        now_wall = time.time()
        doc: dict[str, Any] = {
            "pid": os.getpid(),
            "mode": self._mode,
            "state": self._state,
            "written_at_ms": int(now_wall * 1000),
            "clock_ms": self._clock.now_ms(),
            "started_at_ms": int(self._started_wall * 1000),
            "uptime_s": round(now_wall - self._started_wall, 1),
        }
        for section, provider in self._providers.items():
            try:
                doc[section] = provider()
            except Exception as exc:  # one broken provider must not stop the heartbeat
                doc[section] = {"error": f"{type(exc).__name__}: {exc}"}
        return doc

    async def write(self) -> None:
        """Write the document now (off the loop)."""
        document = self.document()
        await asyncio.to_thread(write_json_atomically, self.path, document)
        self.writes += 1

    async def run(self) -> None:
        """Write every `interval_s` wall seconds until cancelled."""
        while True:
            try:
                await self.write()
            except OSError as exc:
                _log.error("heartbeat.write_failed", path=str(self.path), error=str(exc))
            await asyncio.sleep(self._interval_s)
