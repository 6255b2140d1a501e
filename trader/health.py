"""Reading status/heartbeat.json and judging the daemon's health: shared by `status` and `watchdog`.

| code | health | when |
|---|---|---|
| 0 | healthy | the heartbeat is fresh and nothing below applies |
| 1 | degraded | entries paused or halted, a stream stale or down, reconciliation failing, database trouble |
| 2 | not running | the heartbeat is older than 3 intervals, its process is gone, or it says stopped |
| 3 | no heartbeat | the file is missing or unreadable |
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

STALE_INTERVALS = 3
STREAM_STALE_MS = 30_000  # a stream with no message for this long is stale
DEGRADING_BLOCKS = frozenset(
    {
        "kill_switch",
        "not_reconciled",
        "reconciliation_mismatch",
        "stale_data",
        "database",
        "entries_paused",
        "not_owned",
    }
)


class Health(IntEnum):
    """The exit code of `status` and of `watchdog --once`."""

    HEALTHY = 0
    DEGRADED = 1
    NOT_RUNNING = 2
    NO_HEARTBEAT = 3

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True)
class Verdict:
    """The health, why, and the heartbeat it was read from (None when there was none)."""

    health: Health
    reasons: list[str] = field(default_factory=list)
    heartbeat: dict[str, Any] | None = None
    age_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `health` field of `status --json`."""
        return {
            "code": int(self.health),
            "status": self.health.label,
            "reasons": self.reasons,
            "age_s": self.age_s,
        }


def read_heartbeat(path: Path) -> dict[str, Any] | None:
    """The heartbeat document, or None when there is none (or it cannot be read)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def pid_alive(pid: object) -> bool:
    """True when `pid` is a process id and a process with it exists on this host (anyone's)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


def judge(
    document: dict[str, Any] | None,
    *,
    now_s: float | None = None,
    same_host: bool = True,
    stale_after_s: float | None = None,
) -> Verdict:
    """The daemon's health from its heartbeat (see the module docstring); `stale_after_s` replaces
    the default staleness limit of 3 heartbeat intervals."""
    if document is None:
        return Verdict(
            Health.NO_HEARTBEAT,
            ["no heartbeat file: the daemon has not run here (or TRADER_STATUS_DIR differs)"],
        )
    now = time.time() if now_s is None else now_s
    age = max(0.0, now - int(document.get("written_at_ms", 0)) / 1000)
    interval = float(document.get("heartbeat_interval_s") or 5.0)
    state = str(document.get("state", ""))
    if state == "stopped":
        return Verdict(
            Health.NOT_RUNNING, [f"stopped: {document.get('state_reason') or 'shut down'}"], document, age
        )
    limit = STALE_INTERVALS * interval if stale_after_s is None else stale_after_s
    if age > limit:
        why = f"written every {interval:g} s" if stale_after_s is None else f"limit {stale_after_s:g} s"
        return Verdict(Health.NOT_RUNNING, [f"heartbeat is {age:.0f} s old ({why})"], document, age)
    if same_host and not pid_alive(document.get("pid")):
        return Verdict(Health.NOT_RUNNING, [f"process {document.get('pid')} is gone"], document, age)
    reasons = _degraded(document) if document.get("schema_version") == 1 else ["older heartbeat format"]
    return Verdict(Health.DEGRADED if reasons else Health.HEALTHY, reasons, document, age)


def _degraded(document: dict[str, Any]) -> list[str]:
    reasons: list[str] = []
    state = document.get("state")
    if state in ("paused", "halted", "stopping", "reconciling"):
        reasons.append(f"{state}: {document.get('state_reason') or ''}".rstrip(": "))
    for stream in document.get("streams", []) or []:
        age = stream.get("last_message_age_ms")
        if not stream.get("connected") or (age is not None and age > STREAM_STALE_MS):
            reasons.append(f"stream {stream.get('name')} {'stale' if stream.get('connected') else 'down'}")
    user = document.get("user_stream") or {}
    if document.get("mode") != "paper" and user and not user.get("connected", True):
        reasons.append("user stream down")
    reconciliation = document.get("reconciliation") or {}
    if reconciliation.get("result") in ("failed", "mismatch"):
        reasons.append(
            f"reconciliation {reconciliation['result']}: {reconciliation.get('detail') or ''}".rstrip(": ")
        )
    database = document.get("database") or {}
    if database and not database.get("ok", True):
        reasons.append(f"database: {database.get('error') or 'not ok'}")
    for symbol, info in sorted((document.get("symbols") or {}).items()):
        blocked = {b.get("reason") for b in info.get("entries_blocked_by", [])} & DEGRADING_BLOCKS
        if blocked and state == "running":
            reasons.append(f"{symbol}: entries off ({', '.join(sorted(blocked))})")
    return reasons
