"""Execution reports from the user stream: drive an order's state, book each new fill exactly once.

A report finds its order in memory or in the database (a late report after a restart). A fill is
inserted into `fills` (unique on symbol + trade id), booked into the position and the order row is
updated, in one transaction; then `order.update` and `position.update` are published. A repeated
report, or a fill the REST back-fill already booked, changes nothing. A report for a client id of
another client is counted and logged as foreign; one with this daemon's prefix that the database
does not know is adopted from the venue (see `FillBooker`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from core.client_ids import PREFIX
from core.errors import InvalidTransition
from core.events import ExecutionReport
from executor.orders import store as order_store
from executor.orders.context import OrderContext
from executor.orders.progress import Fill
from executor.orders.registry import TrackedOrder
from executor.orders.venue_sync import correct_to_venue
from utils.crash_points import crash_point

_log = structlog.get_logger(__name__)


AdoptUnknown = Callable[[str, str], Awaitable[TrackedOrder | None]]


class FillBooker:
    """Applies execution reports and books fills (see the module docstring).

    `adopt_unknown(symbol, client_order_id)` is asked for a report of an order with this daemon's
    client-id prefix that the database does not know (it was lost or restored from an old backup):
    the order is adopted from the venue instead of its fills being dropped.
    """

    def __init__(self, ctx: OrderContext, *, adopt_unknown: AdoptUnknown | None = None) -> None:
        self._ctx = ctx
        self._adopt_unknown = adopt_unknown

    async def on_execution(self, report: ExecutionReport) -> None:
        """Apply one ORDER_TRADE_UPDATE to its order; book the fill it carries, if new."""
        ctx = self._ctx
        order = await self.lookup(report.client_order_id)
        if order is None and report.client_order_id.startswith(PREFIX) and self._adopt_unknown is not None:
            order = await self._adopt_unknown(report.symbol, report.client_order_id)
        if order is None:
            ctx.counters.foreign_reports += 1
            _log.warning(
                "order_manager.foreign_report", client_order_id=report.client_order_id, symbol=report.symbol
            )
            return
        try:
            changed, fill = order.progress.on_report(report)
        except InvalidTransition as exc:
            ctx.counters.invalid_transitions += 1
            changed = correct_to_venue(order, exc, report.status.value)
            fill = Fill.from_report(report)
            if fill is not None and not order.progress.add_fill(fill):
                fill = None
        ctx.registry.note_venue_id(order)
        if fill is None and Fill.from_report(report) is not None:
            ctx.counters.duplicate_events += 1
        if fill is not None:
            await self.book(order, fill)
        elif changed:
            await ctx.persist(order)
            ctx.publish_order(order)
        else:
            order.note_shortfall(ctx.wall.monotonic())
        ctx.registry.retire_if_done(order)

    async def book(self, order: TrackedOrder, fill: Fill, *, backfilled: bool = False) -> None:
        """Persist a fill (deduped in the database), the position and the order; publish both."""
        ctx = self._ctx
        crash_point("before_fill_stored")
        snapshot = order.snapshot(ctx.clock.now_ms())
        booked = await ctx.db.run(
            lambda s: order_store.book_fill(
                s, fill, strategy=order.request.strategy, snapshot=snapshot, instance_id=ctx.instance_id
            )
        )
        order.note_shortfall(ctx.wall.monotonic())
        if booked is None:
            ctx.counters.duplicate_events += 1
            await ctx.persist(order)
            return
        ctx.counters.fills_booked += 1
        if order.progress.booked_qty < order.progress.quantity:
            # One fill of several (its state may already say FILLED: the REST answer of a
            # marketable order often beats the stream's reports of its parts).
            crash_point("after_partial_fill")
        if backfilled:
            ctx.counters.fills_backfilled += 1
        ctx.positions[fill.symbol] = booked.position
        ctx.publish_order(order, fill=fill, realized=booked.realized)
        ctx.publish_position(booked.position, fill.time, strategy=order.request.strategy)

    async def book_backfilled(self, order: TrackedOrder, fill: Fill) -> None:
        """Book a fill found over REST (userTrades) rather than on the stream."""
        await self.book(order, fill, backfilled=True)

    async def lookup(self, cid: str) -> TrackedOrder | None:
        """The order with this client id: in memory, else loaded from the database (and kept)."""
        registry = self._ctx.registry
        order = registry.get(cid)
        if order is not None:
            return order
        stored = await self._ctx.db.run(lambda s: order_store.find_order(s, cid))
        if stored is None:
            return None
        order = TrackedOrder.from_stored(stored)
        if order.state.is_terminal:
            registry.remember_finished(order)
        else:
            registry.register(order)
        return order
