"""Flatten requests through the control table: `python -m trader flatten` writes one, the running
daemon carries it out and writes the result back; the command waits for that.

Row `flatten`, a JSON document: `{"id", "symbol" (null = all), "requested_ms", "status"
(requested | running | done | failed), "result", "finished_ms"}`. One request at a time: a second
`flatten` while one is requested or running waits for that one instead of starting another.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlmodel import Session

from core.alerts import AlertKind, Severity, publish_alert
from core.bus import Bus
from database.engine import Database
from database.models import ControlRow
from executor.orders.manager import OrderManager
from executor.risk.kill_switch import write_halt
from utils.clock import Clock

_log = structlog.get_logger(__name__)

KEY = "flatten"
POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class FlattenRequest:
    """One request's row."""

    id: str
    symbol: str | None
    status: str
    result: str = ""

    @property
    def pending(self) -> bool:
        return self.status in ("requested", "running")


def read_request(session: Session) -> FlattenRequest | None:
    """The current (or last) flatten request, or None."""
    row = session.get(ControlRow, KEY)
    if row is None:
        return None
    try:
        doc: dict[str, Any] = json.loads(row.value)
    except ValueError:
        return None
    return FlattenRequest(
        str(doc.get("id", "")), doc.get("symbol"), str(doc.get("status", "")), str(doc.get("result", ""))
    )


def _write(session: Session, request: FlattenRequest, **extra: Any) -> None:
    now = int(time.time() * 1000)
    value = json.dumps(
        {
            "id": request.id,
            "symbol": request.symbol,
            "status": request.status,
            "result": request.result,
            **extra,
        },
        sort_keys=True,
    )
    row = session.get(ControlRow, KEY)
    if row is None:
        row = ControlRow(key=KEY, value=value, updated_time=now)
    else:
        row.value, row.updated_time = value, now
    session.add(row)
    session.commit()


def submit_request(session: Session, symbol: str | None) -> FlattenRequest:
    """Write a new request, or return the one still requested or running."""
    current = read_request(session)
    if current is not None and current.pending:
        return current
    request = FlattenRequest(uuid.uuid4().hex[:12], symbol, "requested")
    _write(session, request, requested_ms=int(time.time() * 1000))
    return request


def finish_request(session: Session, request: FlattenRequest, status: str, result: str) -> None:
    """Record the outcome of `request`."""
    _write(
        session,
        FlattenRequest(request.id, request.symbol, status, result),
        finished_ms=int(time.time() * 1000),
    )


class FlattenService:
    """The daemon's side: carries out requests it finds in the control table and alerts the outcome
    (CRITICAL when it did not end flat; the pause it starts with has its own alert)."""

    def __init__(self, db: Database, orders: OrderManager, bus: Bus, clock: Clock) -> None:
        self._db = db
        self._orders = orders
        self._bus = bus
        self._clock = clock
        self.done = 0

    async def run(self) -> None:
        """Poll for requests until cancelled."""
        while True:
            try:
                request = await self._db.run(read_request)
                if request is not None and request.status == "requested":
                    await self.carry_out(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed poll must not stop the daemon
                _log.error("flatten.poll_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(POLL_S)

    async def carry_out(self, request: FlattenRequest) -> None:
        """Pause entries, flatten, record the result."""
        running = FlattenRequest(request.id, request.symbol, "running")
        reason = f"flatten requested ({request.id})"
        def start(session: Session) -> None:
            _write(session, running)
            write_halt(session, reason, symbol=request.symbol)

        await self._db.run(start)
        _log.warning("flatten.started", symbol=request.symbol or "all", request=request.id)
        try:
            result = await self._orders.flattener().flatten(request.symbol)
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
            await self._db.run(lambda s: finish_request(s, request, "failed", failure))
            self._alert(request, f"failed: {failure}", Severity.CRITICAL)
            raise
        status = "done" if result.flat else "failed"
        await self._db.run(lambda s: finish_request(s, request, status, result.summary()))
        severity = None if result.flat else Severity.CRITICAL
        paused = "entries stay paused until `python -m trader resume`"
        self._alert(request, f"{result.summary()}; {paused}", severity)
        self.done += 1

    def _alert(self, request: FlattenRequest, text: str, severity: Severity | None = None) -> None:
        now = self._clock.now_ms()
        publish_alert(self._bus, AlertKind.FLATTEN, text, time=now, symbol=request.symbol, severity=severity)
