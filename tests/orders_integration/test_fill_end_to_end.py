"""Scenario 1 and 2: an OrderRequest on order.request fills end to end, written before it is sent."""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal

from sqlmodel import select

from core.decimals import PriceIntent, quantize_price
from core.errors import RateLimitedError
from core.events import Side, VenueOrderStatus
from database.engine import Database
from database.models import OrderRow
from tests.orders_integration.rig import SYMBOL, check_db_matches_venue, order_rig, wait_for

CID = "itest-pending-1"


async def test_market_order_fills_and_is_booked_everywhere(db: Database) -> None:
    async with order_rig(db) as rig:
        rig.publish(rig.request("itest-market-1", Side.BUY, "10"))
        row = await rig.wait_state("itest-market-1", "FILLED")
        assert Decimal(row.filled_qty) == Decimal(10)

        async def published() -> bool:
            rig.drain()
            return any(u.state == "FILLED" and u.trade_id is not None for u in rig.seen_orders) and bool(
                rig.seen_positions
            )

        await wait_for(published, 3, "order.update FILLED with its fill, and position.update")
        fills = await rig.fill_rows("itest-market-1")
        assert sum(Decimal(f.quantity) for f in fills) == Decimal(10)
        assert rig.seen_positions[-1].quantity == Decimal(10)
        position = await rig.position_row()
        assert position is not None and Decimal(position.quantity) == Decimal(10)
        assert await rig.probe.open_orders(SYMBOL) == []
        await check_db_matches_venue(rig)


async def test_limit_orders_open_and_close_a_position(db: Database) -> None:
    async with order_rig(db) as rig:
        tick = rig.instruments[SYMBOL].tick_size
        # Marketable limits (inside PERCENT_PRICE): they fill at once, never beyond their limit.
        buy = quantize_price(rig.mark() * Decimal("1.01"), tick, Side.BUY, PriceIntent.PASSIVE)
        rig.publish(rig.request("itest-limit-buy", Side.BUY, "12", price=buy))
        await rig.wait_state("itest-limit-buy", "FILLED")
        sell = quantize_price(rig.mark() * Decimal("0.99"), tick, Side.SELL, PriceIntent.PASSIVE)
        rig.publish(rig.request("itest-limit-sell", Side.SELL, "12", price=sell, reduce_only=True))
        await rig.wait_state("itest-limit-sell", "FILLED")

        async def flat_published() -> bool:
            rig.drain()
            return any(p.quantity == 0 for p in rig.seen_positions)

        await wait_for(flat_published, 3, "position.update back to flat")
        position = await rig.position_row()
        assert position is not None and Decimal(position.quantity) == 0
        fills = await rig.fill_rows()
        assert position.realized_pnl == sum(Decimal(f.realized_pnl) for f in fills)
        venue = await rig.probe.query_order(SYMBOL, "itest-limit-sell")
        assert venue is not None and venue.status is VenueOrderStatus.FILLED
        await check_db_matches_venue(rig)


async def test_the_order_row_is_committed_as_pending_new_before_the_venue_gets_it(
    db: Database, sqlite_url: str
) -> None:
    """The gateway holds every request during a 429's Retry-After, so the order manager's send waits
    in the gateway; meanwhile a second connection must already see the committed PENDING_NEW row."""
    async with order_rig(db) as rig:
        rig.server.inject("force_429", 1)
        with contextlib.suppress(RateLimitedError):
            await rig.gateway.open_orders(SYMBOL)
        assert rig.gateway.limiter.blocked_until_ms > rig.gateway._wall.now_ms()

        other = Database(sqlite_url)
        try:
            rig.publish(rig.request(CID, Side.BUY, "10"))
            seen_pending = False
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                row = await other.run(
                    lambda s: s.exec(
                        select(OrderRow).where(OrderRow.client_order_id == CID)
                    ).first()
                )
                on_venue = rig.venue_orders_for(CID)
                if on_venue:
                    break
                if row is not None:
                    assert row.state == "PENDING_NEW", row.state
                    seen_pending = True
                await asyncio.sleep(0.01)
            assert seen_pending, "no committed PENDING_NEW row was visible while the send was held"
        finally:
            other.close()
        await rig.wait_state(CID, "FILLED")
        await check_db_matches_venue(rig)
