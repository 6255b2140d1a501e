"""status/heartbeat.json read and judged: up, degraded, STALE, stopped or missing, and why.

The document is docs/heartbeat.schema.json (schema_version 1). A document without
`schema_version` comes from an older daemon: what it has is shown, the rest is said to be missing.
Pure functions of the document and the wall-clock time, so tests need no Streamlit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

STALE_AFTER_INTERVALS = 3  # three missed writes in a row
STALE_FLOOR_S = 15.0  # never call a heartbeat stale sooner than this (a busy disk, a slow write)
STREAM_SILENT_MS = 15_000  # a market socket gets a mark price every second
DEFAULT_INTERVAL_S = 5.0
_DEGRADING_BLOCKS = frozenset({"stale_data", "database", "reconciliation_mismatch", "not_reconciled"})
_BAD_RECONCILIATION = frozenset({"mismatch", "failed"})


class Status(StrEnum):
    """The daemon's health as the dashboard shows it."""

    UP = "UP"
    DEGRADED = "DEGRADED"
    STALE = "STALE"
    STOPPED = "STOPPED"
    MISSING = "MISSING"


@dataclass(frozen=True)
class Health:
    """The verdict on one heartbeat document, with every reason behind it."""

    status: Status
    document: dict[str, Any]
    age_s: float | None = None
    reasons: list[str] = field(default_factory=list)
    problem: str | None = None  # why there is no usable document

    @property
    def old_format(self) -> bool:
        """True for a document written before heartbeat schema version 1."""
        return bool(self.document) and "schema_version" not in self.document

    @property
    def mode(self) -> str:
        return str(self.document.get("mode") or "unknown")

    @property
    def is_live(self) -> bool:
        """Real money: the badge that cannot be missed."""
        return self.mode == "live"

    @property
    def banner(self) -> bool:
        """True when the red banner is due (no fresh heartbeat)."""
        return self.status in (Status.STALE, Status.MISSING)


def read_heartbeat(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(document, None) or (None, why not). The daemon writes atomically, so a read is whole."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"no heartbeat at {path}: the daemon is not running (or TRADER_STATUS_DIR differs)"
    except (OSError, ValueError) as exc:
        return None, f"{path} cannot be read: {type(exc).__name__}: {exc}"
    if not isinstance(document, dict):
        return None, f"{path} is not a heartbeat document (a JSON object)"
    return document, None


def interval_s(document: dict[str, Any]) -> float:
    """How often the daemon says it writes (older documents do not say: the default 5 s)."""
    value = document.get("heartbeat_interval_s")
    return float(value) if isinstance(value, int | float) and value > 0 else DEFAULT_INTERVAL_S


def stale_after_s(document: dict[str, Any]) -> float:
    """Age past which a heartbeat is STALE."""
    return max(STALE_AFTER_INTERVALS * interval_s(document), STALE_FLOOR_S)


def assess(document: dict[str, Any] | None, now_ms: int, problem: str | None = None) -> Health:
    """Judge `document` at wall-clock time `now_ms`."""
    if document is None:
        return Health(Status.MISSING, {}, problem=problem or "no heartbeat")
    written = document.get("written_at_ms")
    age_s = (now_ms - written) / 1000 if isinstance(written, int) else None
    state = str(document.get("state", ""))
    if state == "stopped":
        return Health(
            Status.STOPPED,
            document,
            age_s,
            [f"the daemon stopped ({document.get('state_reason') or 'clean stop'})"],
        )
    if age_s is None or age_s > stale_after_s(document):
        shown = "unknown" if age_s is None else f"{age_s:,.0f} s"
        limit = stale_after_s(document)
        reason = (
            f"last written {shown} ago (stale after {limit:.0f} s): the daemon crashed, hung or was killed"
        )
        return Health(Status.STALE, document, age_s, [reason])
    reasons = degradations(document)
    return Health(Status.DEGRADED if reasons else Status.UP, document, age_s, reasons)


def degradations(document: dict[str, Any]) -> list[str]:
    """Everything in a fresh document that a trader should look at now."""
    reasons: list[str] = []
    state = str(document.get("state", ""))
    if state and state != "running":
        detail = document.get("state_reason")
        reasons.append(f"state {state}" + (f": {detail}" if detail else ""))
    for stream in streams_of(document):
        name = stream.get("name", "stream")
        age = stream.get("last_message_age_ms")
        if not stream.get("connected", False):
            reasons.append(f"stream {name} disconnected")
        elif isinstance(age, int) and age > STREAM_SILENT_MS:
            reasons.append(f"stream {name} silent for {age / 1000:.0f} s")
    user = document.get("user_stream")
    if isinstance(user, dict) and not user.get("connected", True) and document.get("mode") != "paper":
        reasons.append("user-data stream disconnected")
    database = document.get("database")
    if isinstance(database, dict) and not database.get("ok", True):
        reasons.append(f"database: {database.get('error') or 'not ok'}")
    reconciliation = document.get("reconciliation")
    if isinstance(reconciliation, dict) and reconciliation.get("result") in _BAD_RECONCILIATION:
        reasons.append(
            f"last reconciliation {reconciliation['result']}: {reconciliation.get('detail') or ''}".rstrip(
                ": "
            )
        )
    for symbol, entry in symbols_of(document).items():
        blocks = {b.get("reason") for b in entry.get("entries_blocked_by", []) if isinstance(b, dict)}
        bad = sorted(str(b) for b in blocks & _DEGRADING_BLOCKS)
        if bad:
            reasons.append(f"{symbol}: entries blocked by {', '.join(bad)}")
    return reasons


def streams_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The market-data sockets (a list in both formats)."""
    streams = document.get("streams")
    return [s for s in streams if isinstance(s, dict)] if isinstance(streams, list) else []


def symbols_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-symbol sections of a v1 document ({} for older ones, which have `strategies` instead)."""
    symbols = document.get("symbols")
    if not isinstance(symbols, dict):
        return {}
    return {str(k): v for k, v in symbols.items() if isinstance(v, dict)}


__all__ = [
    "Health",
    "Status",
    "assess",
    "degradations",
    "read_heartbeat",
    "stale_after_s",
    "streams_of",
    "symbols_of",
]
