"""Orders on the venue that our records do not hold as live: adopt ours, report the others.

An open order with this daemon's client-id prefix that the database does not know (it was lost, or
restored from an older backup) is adopted with its fills, so its reports are never dropped and the
position cannot drift; with `unknown_orders: cancel` it is cancelled instead. Another client's order
on the same account is reported once and never touched. An order we hold as finished (e.g. LOST)
that the venue has open is reopened: the venue is the truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

import structlog

from core.client_ids import PREFIX
from core.events import OrderRequest, OrderType, TimeInForce
from core.order_state import OrderState
from executor.orders import store as order_store
from executor.orders.booking import FillBooker
from executor.orders.context import OrderContext
from executor.orders.progress import OrderProgress
from executor.orders.registry import TrackedOrder
from executor.orders.venue_sync import apply_venue_view
from executor.venue_api import VenueOrder

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)

ADOPTED = "adopted from the venue: an order of this daemon the database did not know"
UnknownOrders = Literal["adopt", "cancel"]


class OrderAdoption:
    """Decides and acts on the venue's open orders that we do not track as live."""

    def __init__(
        self,
        ctx: OrderContext,
        booker: FillBooker,
        *,
        unknown_orders: UnknownOrders = "adopt",
        strategy_for: Mapping[str, str] | None = None,
    ) -> None:
        self._ctx = ctx
        self._booker = booker
        self.unknown_orders: UnknownOrders = unknown_orders
        self._strategy_for = strategy_for or {}
        self._reported_foreign: set[str] = set()

    async def check(self, venue: VenueOrder) -> tuple[str, str] | None:
        """Handle one open order of the venue; (difference kind, action) when it differed."""
        ctx = self._ctx
        known = await self._booker.lookup(venue.client_order_id)
        if known is not None:
            if not known.state.is_terminal:
                return None
            # We hold it as finished (e.g. LOST) but the venue has it open: the venue wins.
            changed, _ = apply_venue_view(known, venue)
            if not changed:
                return None
            ctx.registry.finished.pop(known.cid, None)
            ctx.registry.register(known)
            await ctx.persist(known)
            ctx.publish_order(known)
            return "order_status", "reopened: the venue has it open"
        if not venue.client_order_id.startswith(PREFIX):
            if venue.client_order_id in self._reported_foreign:
                return None
            self._reported_foreign.add(venue.client_order_id)
            _log.warning(
                "reconcile.foreign_order", symbol=venue.symbol, client_order_id=venue.client_order_id
            )
            return "order_foreign", "another client's order: left alone"
        if self.unknown_orders == "cancel":
            await ctx.gateway.cancel_order(venue.symbol, venue.client_order_id)
            action = "cancelled (reconcile.unknown_orders: cancel)"
        else:
            await self.adopt(venue)
            action = "adopted with its fills"
        _log.warning("reconcile.unknown_order", client_order_id=venue.client_order_id, action=action)
        return "order_unknown", action

    async def adopt(self, venue: VenueOrder) -> TrackedOrder:
        """Store and track an order of ours that the venue has and the database does not."""
        ctx = self._ctx
        request = OrderRequest(
            client_order_id=venue.client_order_id,
            symbol=venue.symbol,
            strategy=self._strategy_for.get(venue.symbol, ""),
            side=venue.side,
            order_type=OrderType(venue.order_type)
            if venue.order_type in OrderType.__members__
            else OrderType.LIMIT,
            quantity=venue.orig_qty,
            created_time=venue.update_time,
            price=venue.price if venue.price > _ZERO else None,
            time_in_force=TimeInForce(venue.time_in_force) if venue.order_type == "LIMIT" else None,
            reduce_only=venue.reduce_only,
        )
        order = TrackedOrder(
            request=request,
            progress=OrderProgress(OrderState.PENDING_NEW, request.quantity),
            created_time=request.created_time,
            expire_time=None,
            reason=ADOPTED,
        )
        now = ctx.clock.now_ms()
        await ctx.db.run(
            lambda s: order_store.insert_order(
                s, request, OrderState.PENDING_NEW, now=now, reason=ADOPTED, instance_id=ctx.instance_id
            )
        )
        order.progress.on_venue_order(venue)
        ctx.registry.register(order)
        await ctx.persist(order)
        ctx.publish_order(order)
        ctx.registry.retire_if_done(order)
        return order
