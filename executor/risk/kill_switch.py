"""The kill switch and per-symbol halts, persisted in the `control` table.

The table is the one truth, shared between processes: `python -m trader halt` writes it from its own
process, the running daemon's `KillSwitchWatcher` reads it every 0.25 s and hands it to the risk gate,
so a halt takes effect within a second and survives restarts.

Rows (key -> value, a small JSON document):

- `halt`            the global kill switch: every entry is rejected while it exists;
- `halt:<SYMBOL>`   one symbol's entries are halted, by hand or after consecutive losses, with
                    `until_ms` (end of the cool-down on the daemon's clock) or null (until resumed).

Halts stop entries only; a CLOSE always goes out (executor/risk/rules.py).

Functions taking a `Session` run on the database thread (`Database.run`) or in sync code;
`halt` / `resume` / `is_halted` take the `Database` itself, for the CLI.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import structlog
from sqlmodel import Session, col, select

from database.engine import Database
from database.models import ControlRow
from executor.risk.rules import SymbolHalt

_log = structlog.get_logger(__name__)

GLOBAL_KEY = "halt"
SYMBOL_PREFIX = "halt:"
POLL_INTERVAL_S = 0.25


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def symbol_key(symbol: str) -> str:
    """The control key of a symbol's halt."""
    return f"{SYMBOL_PREFIX}{symbol}"


@dataclass(frozen=True, slots=True)
class HaltState:
    """What the control table says: the global halt's reason (or None) and the symbol halts."""

    global_reason: str | None = None
    symbols: Mapping[str, SymbolHalt] = field(default_factory=lambda: MappingProxyType({}))

    def is_halted(self, symbol: str | None = None, *, now_ms: int | None = None) -> bool:
        """True when entries are halted globally or (given a symbol) for that symbol."""
        if self.global_reason is not None:
            return True
        if symbol is None:
            return False
        halt = self.symbols.get(symbol)
        return halt is not None and halt.active(_wall_ms() if now_ms is None else now_ms)


def _decode(value: str) -> dict[str, Any]:
    try:
        document = json.loads(value)
    except (TypeError, ValueError):
        # A hand-written or older row: a halt is still a halt, its text is the reason.
        return {"reason": str(value)}
    return document if isinstance(document, dict) else {"reason": str(document)}


def read_halts(session: Session) -> HaltState:
    """Every halt in the control table."""
    rows = session.exec(select(ControlRow).where(col(ControlRow.key).startswith(GLOBAL_KEY))).all()
    global_reason: str | None = None
    symbols: dict[str, SymbolHalt] = {}
    for row in rows:
        document = _decode(row.value)
        reason = str(document.get("reason") or "halted")
        if row.key == GLOBAL_KEY:
            global_reason = reason
        elif row.key.startswith(SYMBOL_PREFIX):
            symbol = row.key[len(SYMBOL_PREFIX) :]
            until = document.get("until_ms")
            symbols[symbol] = SymbolHalt(
                symbol=symbol,
                reason=reason,
                until_ms=int(until) if until is not None else None,
                strategy=str(document.get("strategy") or ""),
            )
    return HaltState(global_reason, MappingProxyType(symbols))


def write_halt(
    session: Session,
    reason: str,
    *,
    symbol: str | None = None,
    until_ms: int | None = None,
    strategy: str = "",
    now_ms: int | None = None,
) -> None:
    """Set the global halt (symbol None) or one symbol's halt, replacing an existing one."""
    key = GLOBAL_KEY if symbol is None else symbol_key(symbol)
    value = json.dumps({"reason": reason, "until_ms": until_ms, "strategy": strategy}, sort_keys=True)
    row = session.get(ControlRow, key)
    updated = _wall_ms() if now_ms is None else now_ms
    if row is None:
        row = ControlRow(key=key, value=value, updated_time=updated)
    else:
        row.value = value
        row.updated_time = updated
    session.add(row)
    session.commit()


def clear_halts(session: Session, symbol: str | None = None) -> list[str]:
    """Remove halts: one symbol's, or (symbol None) the global one and every symbol's.

    Returns the keys removed, so the CLI can say what it resumed.
    """
    if symbol is None:
        rows = session.exec(select(ControlRow).where(col(ControlRow.key).startswith(GLOBAL_KEY))).all()
        rows = [r for r in rows if r.key == GLOBAL_KEY or r.key.startswith(SYMBOL_PREFIX)]
    else:
        row = session.get(ControlRow, symbol_key(symbol))
        rows = [] if row is None else [row]
    removed = [r.key for r in rows]
    for row in rows:
        session.delete(row)
    session.commit()
    return removed


# --- for the CLI (sync) ---------------------------------------------------------------------------


def halt(db: Database, reason: str, *, symbol: str | None = None) -> None:
    """Halt every entry (or one symbol's) until `resume`; effective in a running daemon within 1 s."""
    with db.session() as session:
        write_halt(session, reason, symbol=symbol)


def resume(db: Database, symbol: str | None = None) -> list[str]:
    """Clear the kill switch and every symbol halt, or only `symbol`'s; returns the keys removed."""
    with db.session() as session:
        return clear_halts(session, symbol)


def is_halted(db: Database, symbol: str | None = None, *, now_ms: int | None = None) -> bool:
    """True when the control table halts entries globally or for `symbol`."""
    with db.session() as session:
        return read_halts(session).is_halted(symbol, now_ms=now_ms)


# --- the daemon's watcher ----------------------------------------------------------------------------


class HaltSink(Protocol):
    """What the watcher feeds (the risk gate)."""

    @property
    def halt_epoch(self) -> int:
        """Changes whenever the sink persisted a halt of its own."""
        ...

    def apply_halts(self, state: HaltState, epoch: int) -> None:
        """Take `state`, read from the database when the sink's epoch was `epoch`."""
        ...


class KillSwitchWatcher:
    """Polls the control table every `interval_s` and hands the halts to the risk gate.

    A failed read is logged and retried at the next poll; the gate keeps the last state it had
    (so a database hiccup never lifts a halt).
    """

    def __init__(self, db: Database, sink: HaltSink, *, interval_s: float = POLL_INTERVAL_S) -> None:
        self._db = db
        self._sink = sink
        self._interval_s = interval_s
        self.polls = 0
        self.errors = 0

    async def poll_once(self) -> HaltState:
        """Read the control table once and apply it."""
        epoch = self._sink.halt_epoch
        state = await self._db.run(read_halts)
        self._sink.apply_halts(state, epoch)
        self.polls += 1
        return state

    async def run(self) -> None:
        """Poll until cancelled. Wall-clock sleeps: the other process writes on the wall clock."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors += 1
                _log.error("kill_switch.poll_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self._interval_s)


__all__ = [
    "GLOBAL_KEY",
    "POLL_INTERVAL_S",
    "SYMBOL_PREFIX",
    "HaltSink",
    "HaltState",
    "KillSwitchWatcher",
    "clear_halts",
    "halt",
    "is_halted",
    "read_halts",
    "resume",
    "symbol_key",
    "write_halt",
]
