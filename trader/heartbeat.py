"""status/heartbeat.json, version 1: what the daemon is doing now (docs/heartbeat.schema.json).

Written atomically (a temporary file, then rename) on a thread, so a reader never sees half a file
and the event loop never waits for the disk: every `interval_s` and at once when the daemon's state
changes. The sections come from providers (small functions the daemon registers, returning plain
JSON-ready values); a section nobody provides yet has its empty default, so every document written,
from the first one at start-up to the last one at exit, matches the schema. A provider that raises is
logged and its section keeps its default (a section outside the schema says what broke instead):
one broken provider never stops the heartbeat.

Nothing secret goes in: providers report states and counters, never settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import structlog

from utils.clock import Clock

_log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
StatusProvider = Callable[[], Any]


class DaemonState(StrEnum):
    """The daemon's state as the heartbeat reports it (with a reason when not plainly running)."""

    STARTING = "starting"
    RECONCILING = "reconciling"
    RUNNING = "running"
    PAUSED = "paused"  # entries off everywhere, positions still managed
    HALTED = "halted"  # the kill switch, or a fatal venue error
    STOPPING = "stopping"
    STOPPED = "stopped"


def _defaults() -> dict[str, Any]:
    return {
        "streams": [],
        "user_stream": {
            "connected": False,
            "last_message_age_ms": None,
            "reconnects": 0,
            "listen_key_age_s": None,
        },
        "symbols": {},
        "reconciliation": {
            "last_run_ms": None,
            "result": "never",
            "differences": 0,
            "runs": 0,
            "detail": None,
        },
        "database": {"ok": True, "last_write_latency_ms": None},
        "risk_limits": [],
        "pnl_today": {"realized": "0", "fees": "0", "funding": "0", "net": "0"},
        "last_error": None,
    }

_ORJSON_OPTIONS = (
    orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
)


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """Write `document` to `path` so that readers see either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # orjson: with 500 symbols the document is about 1 MB; json.dumps took ~60 ms holding the GIL
    # (this runs in a thread, but the loop waits for the GIL), orjson takes a few.
    tmp.write_bytes(orjson.dumps(document, default=str, option=_ORJSON_OPTIONS))
    os.replace(tmp, path)


class Heartbeat:
    """Writes the status document: every `interval_s`, and when the state changes.

    `set_state` sets a life-cycle state (starting, stopping, stopped); while running, the state and
    its reason come from `state_source()` (running, paused, halted, reconciling), checked every
    quarter second so a change is written within that.
    """

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        interval_s: float,
        mode: str,
        instance_id: str,
        version: str,
    ) -> None:
        self.path = path
        self._clock = clock
        self.interval_s = interval_s
        self._static = {"mode": mode, "instance_id": instance_id, "version": version}
        self._providers: dict[str, StatusProvider] = {}
        self._started_wall = time.time()
        self._state = DaemonState.STARTING
        self._reason: str | None = None
        self._state_source: Callable[[], tuple[DaemonState, str | None]] | None = None
        self._written_state: tuple[DaemonState, str | None] | None = None
        self._wake = asyncio.Event()
        self.writes = 0
        self.failures = 0

    def register(self, section: str, provider: StatusProvider) -> None:
        """Fill `section` from `provider()` at every write."""
        self._providers[section] = provider

    def set_state_source(self, source: Callable[[], tuple[DaemonState, str | None]]) -> None:
        """While running, the state and its reason come from `source()`."""
        self._state_source = source

    def set_state(self, state: DaemonState, reason: str | None = None) -> None:
        """A life-cycle state (starting, stopping, stopped); written at once by `run()`."""
        self._state, self._reason = state, reason  # RUNNING: derived from the state source from now on
        self._wake.set()

    def state(self) -> tuple[DaemonState, str | None]:
        """The state (and its reason) that the next document will say."""
        source = self._state_source
        if source is not None and self._state is DaemonState.RUNNING:
            try:
                return source()
            except Exception as exc:  # the state must still be written
                _log.error("heartbeat.state_failed", error=repr(exc))
        return self._state, self._reason

    def document(self) -> dict[str, Any]:
        """The status document as it would be written now."""
        now_wall = time.time()
        state, reason = self.state()
        doc: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "pid": os.getpid(),
            **self._static,
            "state": state.value,
            "state_reason": reason,
            "written_at_ms": int(now_wall * 1000),
            "clock_ms": self._clock.now_ms(),
            "started_at_ms": int(self._started_wall * 1000),
            "uptime_s": round(now_wall - self._started_wall, 1),
            "heartbeat_interval_s": self.interval_s,
            **_defaults(),
        }
        for section, provider in self._providers.items():
            try:
                doc[section] = provider()
            except Exception as exc:  # one broken provider must not stop the heartbeat
                _log.error("heartbeat.provider_failed", section=section, error=repr(exc))
                if section not in doc:  # a schema section keeps its default; others say what broke
                    doc[section] = {"error": f"{type(exc).__name__}: {exc}"}
        return doc

    async def write(self) -> None:
        """Write the document now (off the loop)."""
        document = self.document()
        await asyncio.to_thread(write_json_atomically, self.path, document)
        self._written_state = (DaemonState(document["state"]), document["state_reason"])
        self.writes += 1

    async def run(self) -> None:
        """Write every `interval_s` wall seconds, and within a quarter second of a state change."""
        next_write = 0.0
        while True:
            now = time.monotonic()
            if now >= next_write or self.state() != self._written_state:
                try:
                    await self.write()
                except OSError as exc:
                    self.failures += 1
                    _log.error("heartbeat.write_failed", path=str(self.path), error=str(exc))
                next_write = now + self.interval_s
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(0.25, self.interval_s))
