"""Intake of order requests: replays are never sent, invalid orders never leave, and every order
is in the database before its first byte is sent.

For each request:

1. a client id already known (in memory or in the database) is a replay: it is never sent again;
2. validation (`filters.py`): an order that cannot be made valid is stored as REJECTED with the
   reason, published, and never sent; so is every order while trading is halted;
3. the row is inserted as PENDING_NEW and committed BEFORE anything is sent;
4. the send (`sender.py`).
"""

from __future__ import annotations

import structlog

from core.alerts import AlertKind
from core.errors import OrderValidationError
from core.events import OrderRequest
from core.order_state import OrderState
from executor.orders import store as order_store
from executor.orders.context import OrderContext
from executor.orders.filters import validate_order
from executor.orders.progress import OrderProgress
from executor.orders.registry import TrackedOrder
from executor.orders.sender import OrderSender
from utils.crash_points import crash_point

_log = structlog.get_logger(__name__)


class OrderIntake:
    """Takes requests in, exactly once (see the module docstring)."""

    def __init__(self, ctx: OrderContext, sender: OrderSender, *, ttl_ms: int) -> None:
        self._ctx = ctx
        self._sender = sender
        self._ttl_ms = ttl_ms

    def accept(self, request: OrderRequest) -> None:
        """A request from `order.request`: handled in its own task unless its id is in hand."""
        ctx = self._ctx
        ctx.counters.requests += 1
        cid = request.client_order_id
        if ctx.registry.knows(cid):
            ctx.counters.duplicates += 1
            _log.info("order_manager.duplicate_request", client_order_id=cid)
            return
        ctx.registry.claimed.add(cid)
        ctx.spawn(self.submit(request), name=f"om.submit.{cid}")

    async def submit(self, request: OrderRequest) -> OrderState:
        """Handle one request end to end (validate, persist, send); returns the state it reached."""
        cid = request.client_order_id
        self._ctx.registry.claimed.add(cid)
        try:
            return await self._submit(request)
        finally:
            self._ctx.registry.claimed.discard(cid)

    async def _submit(self, request: OrderRequest) -> OrderState:
        ctx = self._ctx
        cid = request.client_order_id
        known = ctx.registry.get(cid)
        if known is None:
            stored = await ctx.db.run(lambda s: order_store.find_order(s, cid))
            if stored is not None:
                known = TrackedOrder.from_stored(stored)
                if not known.state.is_terminal:
                    ctx.registry.register(known)
        if known is not None:
            # A replay of an intent we already hold: never send it twice.
            ctx.counters.duplicates += 1
            _log.info("order_manager.replayed_request", client_order_id=cid, state=known.state.value)
            return known.state

        now = ctx.clock.now_ms()
        if ctx.halted is not None:
            return await self._reject_locally(request, f"trading halted: {ctx.halted}", now)
        if ctx.entries_closed is not None and not request.reduce_only:
            # No await from here to `register` below, so `close_entries` sees every entry that passed.
            return await self._reject_locally(request, ctx.entries_closed, now)
        instrument = ctx.instruments.get(request.symbol)
        if instrument is None:
            return await self._reject_locally(request, f"{request.symbol} is not a known instrument", now)
        try:
            valid = validate_order(
                request,
                instrument,
                mark_price=ctx.marks.get(request.symbol),
                open_order_count=ctx.registry.open_on(request.symbol),
                position_qty=ctx.position(request.symbol).quantity,
            )
        except OrderValidationError as exc:
            return await self._reject_locally(request, exc.reason, now)

        expire = None if valid.reduce_only else valid.created_time + self._ttl_ms
        order = TrackedOrder(
            request=valid,
            progress=OrderProgress(OrderState.PENDING_NEW, valid.quantity),
            created_time=valid.created_time,
            expire_time=expire,
            busy=True,  # the poll must not touch it until the first send has finished
        )
        # Registered before the insert, so a user-stream report that beats the REST answer finds it.
        ctx.registry.register(order)
        try:
            inserted = await ctx.db.run(
                lambda s: order_store.insert_order(
                    s, valid, OrderState.PENDING_NEW, now=now, expire_time=expire, instance_id=ctx.instance_id
                )
            )
        except BaseException:
            # Not in the database means never sent: forget it (the error is logged by the caller).
            ctx.registry.unregister(order)
            raise
        if not inserted:
            # Another path inserted this client id between our lookup and now: a replay.
            ctx.registry.unregister(order)
            ctx.counters.duplicates += 1
            return OrderState.PENDING_NEW
        ctx.counters.orders_sent += 1
        crash_point("after_order_written")
        await self._sender.send(order)
        return order.state

    async def _reject_locally(self, request: OrderRequest, reason: str, now: int) -> OrderState:
        ctx = self._ctx
        ctx.counters.rejects_local += 1
        _log.warning("order_manager.rejected_locally", client_order_id=request.client_order_id, reason=reason)
        inserted = await ctx.db.run(
            lambda s: order_store.insert_order(
                s, request, OrderState.REJECTED, now=now, reason=reason, instance_id=ctx.instance_id
            )
        )
        order = TrackedOrder(
            request=request,
            progress=OrderProgress(OrderState.REJECTED, request.quantity),
            created_time=request.created_time,
            expire_time=None,
            reason=reason,
        )
        ctx.registry.remember_finished(order)
        if inserted:
            ctx.publish_order(order)
            # A halt or a shutdown is news once, not once per order it stops.
            if ctx.halted is None and ctx.entries_closed is None:
                side = request.side.value
                ctx.alert(AlertKind.ORDER_REJECTED, f"{side} {request.quantity} not sent: {reason}",
                          request.symbol)
        return OrderState.REJECTED

    async def _resend(self, order: TrackedOrder) -> None:
        await self._sender.send(order)
