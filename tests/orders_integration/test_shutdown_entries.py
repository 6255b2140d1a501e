"""At shutdown no entry is left working on the venue: one still being sent is cancelled once its
answer is in, and a request that reaches the order manager after the stop began is never sent."""

from __future__ import annotations

from decimal import Decimal

from core.decimals import PriceIntent, quantize_price
from core.events import Side
from database.engine import Database
from tests.orders_integration.rig import SYMBOL, check_db_matches_venue, order_rig, wait_for


async def test_an_entry_still_being_sent_at_shutdown_is_cancelled_and_later_ones_never_leave(
    db: Database,
) -> None:
    async with order_rig(db) as rig:
        rig.publish(rig.request("itest-held", Side.BUY, "20"))
        await rig.wait_state("itest-held", "FILLED")
        tick = rig.instruments[SYMBOL].tick_size
        passive = quantize_price(rig.mark() * Decimal("0.9"), tick, Side.BUY, PriceIntent.PASSIVE)
        # The venue places the entry, then answers only 2 s later: its send is in flight.
        rig.server.inject("rest_delay", "order", seconds=2, method="POST", count=1)
        rig.publish(rig.request("itest-inflight", Side.BUY, "10", price=passive))

        async def on_the_venue() -> bool:
            return bool(rig.venue_orders_for("itest-inflight"))

        await wait_for(on_the_venue, 5, "the entry on the venue")
        cancelled = await rig.manager.close_entries("cancelled at shutdown", settle_s=10)

        assert cancelled == 1
        assert [o["status"] for o in rig.venue_orders_for("itest-inflight")] == ["CANCELED"]
        assert (await rig.wait_state("itest-inflight", "CANCELED")).reason == "cancelled at shutdown"
        # A request that was already past the risk gate: stored, refused, never sent. Exits still leave.
        rig.publish(rig.request("itest-late", Side.BUY, "10", price=passive))
        assert (await rig.wait_state("itest-late", "REJECTED")).reason == "the daemon is shutting down"
        assert rig.venue_orders_for("itest-late") == []
        rig.publish(rig.request("itest-exit", Side.SELL, "20", reduce_only=True))
        await rig.wait_state("itest-exit", "FILLED")
        await check_db_matches_venue(rig, (SYMBOL,))
