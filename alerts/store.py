"""Storing alerts in the `alerts` table, off the trading path.

An `AlertRecord` is one row: one (kind, symbol) key from its first occurrence to its last, with
every occurrence counted and the delivery status of its latest message. The router changes
records on the loop and marks them dirty; `AlertStore.run()` writes the latest snapshot of every
dirty record on the database thread in batches, so a storm of a thousand repeats is a handful of
writes. A failed write is logged and tried again (records stay dirty); nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import structlog
from sqlmodel import Session

from core.alerts import Alert, AlertKind, Severity
from database.models import AlertRow
from utils.clock import Clock, WallClock

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_RETRY_S = 1.0
_BATCH_S = 0.25


class DeliveryStatus(StrEnum):
    """The `status` column."""

    PENDING = "pending"  # queued or being sent
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # given up; `error` says why
    DROPPED = "dropped"  # the queue was full (never a CRITICAL)
    LOGGED = "logged"  # no Slack destination: recorded and logged only


class SessionRunner(Protocol):
    """The part of database.engine.Database the store uses."""

    async def run(self, fn: Callable[[Session], _T]) -> _T: ...


def key_text(kind: AlertKind, symbol: str | None) -> str:
    """The `key` column: `kind` or `kind:SYMBOL`."""
    return kind.value if symbol is None else f"{kind.value}:{symbol}"


@dataclass(slots=True, eq=False)
class AlertRecord:
    """One row of the alerts table as the router keeps it (mutable, on the loop only)."""

    kind: AlertKind
    symbol: str | None
    severity: Severity
    text: str
    time: int
    last_time: int
    status: DeliveryStatus
    occurrences: int = 1
    attempts: int = 0
    error: str = ""
    row_id: int | None = field(default=None)

    @classmethod
    def first(cls, alert: Alert, status: DeliveryStatus) -> AlertRecord:
        """The record of an alert seen for the first time (in its window)."""
        return cls(alert.kind, alert.symbol, alert.severity, alert.text, alert.time, alert.time, status)

    def repeat(self, alert: Alert) -> None:
        """One more occurrence; the latest text and the highest severity are kept."""
        self.occurrences += 1
        self.last_time = max(self.last_time, alert.time)
        self.text = alert.text
        if alert.severity.rank > self.severity.rank:
            self.severity = alert.severity

    def snapshot(self) -> dict[str, Any]:
        """The column values, for the database thread."""
        return {
            "time": self.time,
            "last_time": self.last_time,
            "severity": self.severity.value,
            "kind": self.kind.value,
            "symbol": self.symbol,
            "key": key_text(self.kind, self.symbol),
            "message": self.text,
            "occurrences": self.occurrences,
            "status": self.status.value,
            "attempts": self.attempts,
            "error": self.error,
        }


def write_rows(session: Session, rows: list[tuple[int | None, dict[str, Any]]]) -> list[int]:
    """Insert (id None) or update each row; returns the ids in order. The caller commits."""
    ids: list[int] = []
    for row_id, values in rows:
        row = session.get(AlertRow, row_id) if row_id is not None else None
        if row is None:
            row = AlertRow(**values)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        session.add(row)
        session.flush()
        assert row.id is not None
        ids.append(row.id)
    return ids


class AlertStore:
    """Writes dirty records in batches on the database thread (see the module docstring).

    At most one batch per `batch_s` of the network clock: the database thread is the order path's
    too, and a storm must not keep it busy.
    """

    def __init__(self, db: SessionRunner, *, wall: Clock | None = None, batch_s: float = _BATCH_S) -> None:
        self._db = db
        self._wall: Clock = wall or WallClock()
        self._batch_s = batch_s
        self._dirty: dict[int, AlertRecord] = {}
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()  # one batch at a time: a row is inserted once
        self.writes = 0
        self.rows_written = 0
        self.write_errors = 0

    def mark(self, record: AlertRecord) -> None:
        """Write `record`'s current state soon."""
        self._dirty[id(record)] = record
        self._wake.set()

    @property
    def pending(self) -> int:
        """Records waiting to be written."""
        return len(self._dirty)

    async def run(self) -> None:
        """Write until cancelled; what is dirty at cancellation is written on the way out."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                written = await self.flush()
                await self._wall.sleep(self._batch_s if written else _RETRY_S)
                if not written:
                    self._wake.set()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())

    async def flush(self) -> bool:
        """Write every dirty record now; False (all kept dirty) when the write failed."""
        async with self._writing:
            records = list(self._dirty.values())
            self._dirty.clear()
            if not records:
                return True
            rows = [(r.row_id, r.snapshot()) for r in records]
            try:
                ids = await self._db.run(lambda s: write_rows(s, rows))
            except Exception as exc:
                self.write_errors += 1
                for record in records:
                    self._dirty.setdefault(id(record), record)
                _log.error("alerts.write_failed", error=f"{type(exc).__name__}: {exc}", records=len(records))
                return False
            for record, row_id in zip(records, ids, strict=True):
                record.row_id = row_id
            self.writes += 1
            self.rows_written += len(records)
            return True


__all__ = ["AlertRecord", "AlertStore", "DeliveryStatus", "SessionRunner", "key_text", "write_rows"]
