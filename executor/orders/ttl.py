"""Order TTLs: an entry that has not filled within `order_ttl_seconds` is cancelled, and with
`reprice_on_ttl` its unfilled remainder is sent once more at the current mark.

TTLs run on the market clock (a simulator may run it faster than real time). Exits (reduce-only)
never expire. `cancel_once_sent` defers a cancel (a tripped volatility guard) for an order whose
send is still in flight: it is cancelled on the first tick after it rests. The re-priced copy has a
derived client id (`client_ids.reprice_client_id`) and is submitted like any request, so it is
written before it is sent and never re-priced again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

import structlog

from core.client_ids import REPRICE_SUFFIX, reprice_client_id
from core.decimals import PriceIntent, quantize_price
from core.errors import FatalError, GatewayError
from core.events import OrderRequest, OrderType
from core.order_state import OrderState
from executor.orders.context import OrderContext
from executor.orders.registry import TrackedOrder
from executor.orders.venue_sync import VenueSync
from executor.venue_api import VenueOrder

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)


class TtlKeeper:
    """Cancels expired entries and re-prices them once (see the module docstring)."""

    def __init__(
        self,
        ctx: OrderContext,
        sync: VenueSync,
        submit: Callable[[OrderRequest], Awaitable[OrderState]],
        *,
        ttl_ms: int,
        reprice: bool,
    ) -> None:
        self._ctx = ctx
        self._sync = sync
        self._submit = submit
        self.ttl_ms = ttl_ms
        self._reprice = reprice
        self._deferred: dict[str, str] = {}  # client id -> reason: cancel once its send is done

    def cancel_once_sent(self, order: TrackedOrder, reason: str) -> None:
        """Cancel `order` as soon as it rests (its send is in flight now: a cancel would race it)."""
        self._deferred[order.cid] = reason

    def expire_orders(self) -> None:
        """Start a cancel for every resting entry whose TTL has passed."""
        ctx = self._ctx
        now = ctx.clock.now_ms()
        for cid, reason in list(self._deferred.items()):
            deferred = ctx.registry.get(cid)
            if deferred is None or deferred.state.is_terminal:
                del self._deferred[cid]
            elif not deferred.busy and deferred.state in (OrderState.NEW, OrderState.PARTIALLY_FILLED):
                del self._deferred[cid]
                deferred.busy = True
                ctx.spawn(self.cancel(deferred, reason, busy_already=True), name=f"om.cancel.{cid}")
        for order in list(ctx.registry.live.values()):
            if (
                order.expire_time is not None
                and now >= order.expire_time
                and not order.busy
                and not order.request.reduce_only
                and order.state in (OrderState.NEW, OrderState.PARTIALLY_FILLED)
            ):
                order.busy = True
                ctx.spawn(self._cancel_for_ttl(order), name=f"om.ttl.{order.cid}")

    async def _cancel_for_ttl(self, order: TrackedOrder) -> None:
        await self.cancel(order, f"TTL {self.ttl_ms // 1000}s expired", busy_already=True)
        if self._reprice and order.state in (OrderState.CANCELED, OrderState.EXPIRED):
            await self._reprice_order(order)

    async def cancel(self, order: TrackedOrder, reason: str, *, busy_already: bool = False) -> None:
        """Cancel a resting order (TTL, shutdown, volatility): PENDING_CANCEL is stored first, a
        failed or unknown cancel is resolved by asking the venue, and the venue's answer adopted."""
        ctx = self._ctx
        if order.busy and not busy_already:
            return  # a send or another cancel is in progress
        order.busy = True
        try:
            previous = order.state
            if previous not in (OrderState.NEW, OrderState.PARTIALLY_FILLED):
                return  # filled or cancelled since the check
            order.progress.move_to(OrderState.PENDING_CANCEL)
            order.reason = reason
            await ctx.persist(order)
            try:
                venue: VenueOrder | None = await ctx.gateway.cancel_order(order.symbol, order.cid)
            except FatalError:
                raise
            except GatewayError as exc:
                # Already filled / cancelled (-2011), or the cancel's outcome is unknown: ask.
                _log.warning("order_manager.cancel_failed", client_order_id=order.cid, error=repr(exc))
                venue = await ctx.gateway.query_order(order.symbol, order.cid)
            if venue is None:
                return
            if venue.is_open:
                # The cancel did not take; back to the open state, retried on the next tick.
                order.progress.move_to(OrderState(venue.status.value))
                await self._sync.adopt(order, venue)
                return
            if reason.startswith("TTL"):
                ctx.counters.ttl_cancels += 1
            await self._sync.adopt(order, venue)
        finally:
            order.busy = False

    async def _reprice_order(self, order: TrackedOrder) -> None:
        ctx = self._ctx
        request = order.request
        if request.client_order_id.endswith(REPRICE_SUFFIX) or request.order_type is not OrderType.LIMIT:
            return
        remaining = request.quantity - order.progress.filled_qty
        mark = ctx.marks.get(request.symbol)
        instrument = ctx.instruments.get(request.symbol)
        if remaining <= _ZERO or mark is None or instrument is None:
            return
        price = quantize_price(
            mark, instrument.tick_size, request.side, PriceIntent.PASSIVE, origin=instrument.min_price
        )
        new = replace(
            request,
            client_order_id=reprice_client_id(request.client_order_id),
            quantity=remaining,
            price=price,
            created_time=ctx.clock.now_ms(),
        )
        ctx.counters.reprices += 1
        _log.info("order_manager.reprice", client_order_id=order.cid, new_client_order_id=new.client_order_id)
        ctx.registry.claimed.add(new.client_order_id)
        await self._submit(new)
