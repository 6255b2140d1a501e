"""Symbols that came into this daemon's scope because the daemon that owned them died (several
daemons on one PostgreSQL, trader/ownership.py): their live orders are tracked from the database,
the venue is asked about them (a reconciliation), and the risk gate hears their positions.

Nothing of ours was in flight on these symbols (they were out of scope, the risk gate refused
them), so registering their stored live orders cannot duplicate an order being sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.order_state import LIVE_STATES
from executor.orders import store as order_store
from executor.orders.context import OrderContext
from executor.orders.reconcile import ReconcileReport
from executor.orders.registry import TrackedOrder


async def take_over(
    ctx: OrderContext, reconcile: Callable[[str], Awaitable[ReconcileReport]], symbols: set[str]
) -> ReconcileReport:
    """Track `symbols`' live orders, reconcile (trigger `ownership`), publish their positions."""
    stored = await ctx.db.run(lambda s: order_store.orders_in_states(s, LIVE_STATES))
    for row in stored:
        if row.request.symbol in symbols and ctx.registry.get(row.request.client_order_id) is None:
            ctx.registry.register(TrackedOrder.from_stored(row))
    report = await reconcile("ownership")
    now = ctx.clock.now_ms()
    # The risk gate's numbers for these symbols date from our start-up; the database's are the
    # dead daemon's last word, corrected to the venue's by the reconciliation.
    for symbol, position in (await ctx.db.run(order_store.load_positions)).items():
        if symbol in symbols:
            ctx.positions[symbol] = position
            ctx.publish_position(position, now)
    return report


__all__ = ["take_over"]
