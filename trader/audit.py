"""Recording what the strategies decided, off the hot path, and keeping their state across restarts.

`AuditRecorder` subscribes to `signal.*` and `strategy.event` and writes each signal (with the
indicator values that made it fire) and each volatility-guard activation to the database in small
batches on the database thread. Risk decisions are written by the risk gate, orders and fills by the
order manager. `TradeLog` writes one log line per signal, risk decision and order update, each with
symbol, strategy and (for orders) client_order_id, so the log alone tells a trade's story.

`DatabaseStateStore` is the strategies' persistence: one JSON document per (symbol, strategy).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import structlog
from sqlmodel import Session, select

from core import channels
from core.bus import Bus, Subscription
from core.events import OrderUpdate, PositionUpdate, RiskDecision, Signal, VolatilityGuardTriggered
from database.engine import Database
from database.models import SignalRow, StrategyStateRow, VolatilityEventRow
from trader.console import summary_fields

_log = structlog.get_logger(__name__)

_BATCH = 200


def _signal_row(signal: Signal, instance_id: str) -> SignalRow:
    return SignalRow(
        signal_id=signal.signal_id,
        symbol=signal.symbol,
        strategy=signal.strategy,
        action=signal.action.value,
        reason=signal.reason,
        price=signal.price,
        notional=signal.notional,
        inputs=json.dumps(dict(signal.inputs), sort_keys=True),
        event_time=signal.event_time,
        instance_id=instance_id,
    )


def _guard_row(event: VolatilityGuardTriggered) -> VolatilityEventRow:
    return VolatilityEventRow(
        symbol=event.symbol,
        strategy=event.strategy,
        range_fraction=event.range_fraction,
        threshold=event.threshold,
        until_time=event.until_time,
        event_time=event.event_time,
    )


def _store(session: Session, events: list[object], instance_id: str) -> None:
    for event in events:
        if isinstance(event, Signal):
            exists = session.exec(select(SignalRow.id).where(SignalRow.signal_id == event.signal_id)).first()
            if exists is None:  # a signal replayed after a restart is recorded once
                session.add(_signal_row(event, instance_id))
        elif isinstance(event, VolatilityGuardTriggered):
            session.add(_guard_row(event))


class AuditRecorder:
    """Writes signals and volatility-guard events to the database, batched, never blocking.

    `instance_id` (the daemon's, several daemons on one database) is written on each signal row."""

    def __init__(self, bus: Bus, db: Database, instance_id: str = "") -> None:
        self._db = db
        self._instance_id = instance_id
        self._signals: Subscription = bus.subscribe(channels.ALL_SIGNALS, name="audit.signals")
        self._events: Subscription = bus.subscribe(channels.STRATEGY_EVENT, name="audit.strategy_events")
        self.recorded = 0

    async def run(self) -> None:
        """Record until cancelled; what is queued at cancellation is still written."""
        tasks = [asyncio.create_task(self._record(sub)) for sub in (self._signals, self._events)]
        try:
            await asyncio.gather(*tasks)
        finally:
            # Wait for both recorders to write what was queued before the cancellation.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            left = [sub.get_nowait() for sub in (self._signals, self._events) for _ in range(len(sub))]
            if left:
                await asyncio.shield(self._write(left))

    async def _record(self, sub: Subscription) -> None:
        try:
            while True:
                batch = [await sub.get()]
                while len(sub) and len(batch) < _BATCH:
                    batch.append(sub.get_nowait())
                await self._write(batch)
        except asyncio.CancelledError:
            remaining = [sub.get_nowait() for _ in range(len(sub))]
            if remaining:
                await asyncio.shield(self._write(remaining))
            raise

    async def _write(self, batch: list[object]) -> None:
        try:
            await self._db.run(lambda s: _store(s, batch, self._instance_id))
            self.recorded += len(batch)
        except Exception as exc:  # the audit trail must not stop trading; the log keeps the events
            _log.error("audit.write_failed", error=str(exc), events=[repr(e) for e in batch])


class TradeLog:
    """One structured log line per trading event (signal, risk decision, order update)."""

    def __init__(
        self,
        bus: Bus,
        status: Callable[[], Mapping[str, Any]] | None = None,
        *,
        summary_every_s: float = 30.0,
    ) -> None:
        self._subs = (
            bus.subscribe(channels.ALL_SIGNALS, name="tradelog.signals"),
            bus.subscribe(channels.RISK_DECISION, name="tradelog.risk"),
            bus.subscribe(channels.ORDER_UPDATE, name="tradelog.orders"),
            bus.subscribe(channels.POSITION_UPDATE, name="tradelog.positions"),
        )
        self._status = status
        self._summary_every_s = summary_every_s
        # per symbol: cumulative (realized, fees, funding) when last flat, and net at this run's start
        self._flat_at: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        self._run_start: dict[str, Decimal] = {}

    async def run(self) -> None:
        """Log until cancelled (and a summary every `summary_every_s` when given a status source)."""
        tasks = [self._follow(sub) for sub in self._subs]
        if self._status is not None:
            tasks.append(self._summaries(self._status))
        await asyncio.gather(*tasks)

    async def _summaries(self, status: Callable[[], Mapping[str, Any]]) -> None:
        while True:  # wall seconds: the summary is for a person reading the console
            await asyncio.sleep(self._summary_every_s)
            try:
                _log.info("console.summary", **summary_fields(status()))
            except Exception as exc:  # a summary must never stop the trade log
                _log.warning("console.summary_failed", error=repr(exc))

    def _position(self, event: PositionUpdate) -> None:
        """A `trade.pnl` line when a position is back to flat with new realized PnL."""
        now = (event.realized_pnl, event.fees, event.funding)
        flat_at = self._flat_at.setdefault(event.symbol, now)  # the trip's start (first seen: here)
        start_net = self._run_start.setdefault(event.symbol, event.net_realized)
        if event.quantity != 0:
            return
        self._flat_at[event.symbol] = now
        gross, fees, funding = (a - b for a, b in zip(now, flat_at, strict=True))
        if gross == 0 and fees == 0:
            return  # flat again without a trade (an update that changed nothing)
        _log.info(
            "trade.pnl", symbol=event.symbol, strategy=event.strategy, trade_net=str(gross - fees + funding),
            trade_gross=str(gross), trade_fees=str(fees), trade_funding=str(funding),
            net_since_start=str(event.net_realized - start_net),
        )  # fmt: skip

    async def _follow(self, sub: Subscription) -> None:
        async for event in sub:
            if isinstance(event, Signal):
                _log.info(
                    "trade.signal", symbol=event.symbol, strategy=event.strategy,
                    signal_id=event.signal_id, action=event.action.value, price=str(event.price),
                    reason=event.reason,
                )
            elif isinstance(event, RiskDecision):
                _log.info(
                    "trade.risk_decision", symbol=event.symbol, strategy=event.strategy,
                    signal_id=event.signal_id, accepted=event.accepted, reason=event.reason,
                )
            elif isinstance(event, PositionUpdate):
                self._position(event)
            elif isinstance(event, OrderUpdate):
                _log.info(
                    "trade.order", symbol=event.symbol, strategy=event.strategy,
                    client_order_id=event.client_order_id, side=event.side.value, state=event.state,
                    quantity=str(event.quantity), filled=str(event.filled_qty),
                    avg_price=str(event.avg_price), reason=event.reason,
                    **({"fill_qty": str(event.last_fill_qty), "fill_price": str(event.last_fill_price)}
                       if event.last_fill_qty is not None else {}),
                )


class DatabaseStateStore:
    """Strategy state persisted as JSON, one row per (symbol, strategy)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self, symbol: str, strategy: str) -> dict[str, Any] | None:
        """The saved state, or None when there is none."""

        def read(session: Session) -> str | None:
            row = session.get(StrategyStateRow, (symbol, strategy))
            return None if row is None else row.state

        text = await self._db.run(read)
        return None if text is None else dict(json.loads(text))

    async def save(self, symbol: str, strategy: str, state: Mapping[str, Any]) -> None:
        """Replace the saved state."""
        text = json.dumps(state, sort_keys=True, default=str)

        def write(session: Session) -> None:
            row = session.get(StrategyStateRow, (symbol, strategy))
            if row is None:
                session.add(StrategyStateRow(symbol=symbol, strategy=strategy, state=text, updated_time=0))
            else:
                row.state = text
                session.add(row)

        await self._db.run(write)
