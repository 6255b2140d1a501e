"""What the parts of the order path share: their dependencies, the registry, counters and outputs.

The order manager builds one `OrderContext` and hands it to each part (sending, booking, venue
sync, TTLs). Two clocks, on purpose: `clock` is the market's (TTLs, event times; a simulator may
run it faster than real time) and `wall` is the network's (backoff, Retry-After, recvWindow,
polling follow real time, because the venue checks timestamps against the wall clock). A backtest
hands the same simulated clock for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import structlog
from sqlmodel import Session

from core import channels
from core.alerts import AlertKind, Severity, publish_alert
from core.bus import Bus
from core.errors import FatalError
from core.events import PositionUpdate
from core.instruments import Instrument
from executor.orders import store as order_store
from executor.orders.positions import Position
from executor.orders.progress import Fill
from executor.orders.registry import OrderRegistry, TrackedOrder
from executor.venue_api import OrderGateway
from utils.clock import Clock

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_ZERO = Decimal(0)


class SessionRunner(Protocol):
    """The part of database.engine.Database the order path uses."""

    async def run(self, fn: Callable[[Session], _T]) -> _T: ...


@dataclass(slots=True)
class OrderCounters:
    """Counters for the heartbeat."""

    requests: int = 0
    duplicates: int = 0
    orders_sent: int = 0
    send_attempts: int = 0
    retries: int = 0
    unknown_outcomes: int = 0
    unknown_resolved: int = 0
    resent_after_unknown: int = 0
    rejects_local: int = 0
    rejects_venue: int = 0
    fills_booked: int = 0
    fills_backfilled: int = 0
    duplicate_events: int = 0
    foreign_reports: int = 0
    invalid_transitions: int = 0
    ttl_cancels: int = 0
    reprices: int = 0
    polls: int = 0
    funding_payments: int = 0
    funding_backfill_failures: int = 0
    position_corrections: int = 0


@dataclass
class OrderContext:
    """The order path's shared dependencies and state (see the module docstring)."""

    gateway: OrderGateway
    db: SessionRunner
    bus: Bus
    clock: Clock
    wall: Clock
    instruments: Mapping[str, Instrument]
    registry: OrderRegistry = field(default_factory=OrderRegistry)
    counters: OrderCounters = field(default_factory=OrderCounters)
    positions: dict[str, Position] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)
    stream_down: bool = False  # the user stream was lost: poll until it delivers again
    halted: FatalError | None = None
    entries_closed: str | None = None  # shutting down: every new entry is refused with this reason
    fatal: asyncio.Event | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # Several daemons on one database: False for a symbol another daemon owns. Its orders, fills
    # and position are that daemon's to track, book and reconcile (trader/ownership.py).
    in_scope: Callable[[str], bool] = field(default=lambda _symbol: True)
    instance_id: str = ""  # written on every order row this daemon inserts

    # --- outputs -----------------------------------------------------------------------------------

    async def persist(self, order: TrackedOrder) -> None:
        """Write the order's current state and progress."""
        snapshot = order.snapshot(self.clock.now_ms())
        await self.db.run(lambda s: order_store.save_order(s, snapshot))

    def publish_order(
        self, order: TrackedOrder, *, fill: Fill | None = None, realized: Decimal = _ZERO
    ) -> None:
        """Tell the strategies and the risk gate what the order is now (and humans of a fill)."""
        self.bus.publish(
            channels.ORDER_UPDATE, order.update(self.clock.now_ms(), fill=fill, realized=realized)
        )
        if fill is not None:
            role = "maker" if fill.is_maker else "taker"
            pnl = f"{realized.normalize():f}"
            self.alert(
                AlertKind.FILL,
                f"{fill.side.value} {fill.quantity} @ {fill.price} ({role}), realized {pnl}, "
                f"fee {fill.commission} {fill.commission_asset}; order {order.cid} {order.state.value}",
                order.symbol,
            )

    def alert(
        self, kind: AlertKind, text: str, symbol: str | None = None, severity: Severity | None = None
    ) -> None:
        """Tell humans (the alert router sends it; nothing here waits)."""
        publish_alert(self.bus, kind, text, time=self.clock.now_ms(), symbol=symbol, severity=severity)

    def publish_position(self, position: Position, event_time: int, *, strategy: str = "") -> None:
        """Tell the strategies and the risk gate what the position is now."""
        self.bus.publish(
            channels.POSITION_UPDATE,
            PositionUpdate(
                symbol=position.symbol,
                quantity=position.quantity,
                entry_price=position.entry_price,
                realized_pnl=position.realized_pnl,
                event_time=event_time,
                strategy=position.strategy or strategy,
                fees=position.fees,
                funding=position.funding,
            ),
        )

    def position(self, symbol: str) -> Position:
        """The booked position of `symbol`."""
        return self.positions.get(symbol) or Position(symbol)

    # --- tasks and halting -------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `coro` as a task of the order manager (cancelled when it stops)."""
        task: asyncio.Task[Any] = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, FatalError):
            self.halt(exc)
        elif exc is not None:
            _log.error("order_manager.task_failed", task=task.get_name(), error=repr(exc), exc_info=exc)

    def halt(self, exc: FatalError) -> None:
        """Stop trading: the venue refused us for a reason no retry can fix."""
        if self.halted is None:
            _log.critical("order_manager.halted", error=repr(exc))
            self.halted = exc
            self.alert(AlertKind.TRADING_HALTED, f"no order is sent: the venue refused us: {exc}")
        if self.fatal is not None:
            self.fatal.set()
