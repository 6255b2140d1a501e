"""Partial fills end to end: the simulator splits fills into several trades (`fill_parts`), so an
order goes NEW -> PARTIALLY_FILLED -> FILLED over several ORDER_TRADE_UPDATEs, or is cancelled by
its TTL half filled. Every trade must be booked once and the database must equal the venue."""

from __future__ import annotations

from decimal import Decimal

from core.events import Side
from database.engine import Database
from tests.orders_integration.rig import SYMBOL, Rig, check_db_matches_venue, order_rig, wait_for

OTHER = "ADAUSDT"


async def test_a_market_order_filled_in_three_trades_is_booked_trade_by_trade(db: Database) -> None:
    async with order_rig(db, fill_parts=3) as rig:
        rig.publish(rig.request("itest-parts-market", Side.BUY, "10"))
        row = await rig.wait_state("itest-parts-market", "FILLED")
        fills = await rig.fill_rows("itest-parts-market")
        assert sorted(f.quantity for f in fills) == [Decimal(3), Decimal(3), Decimal(4)]
        assert len({f.trade_id for f in fills}) == 3
        assert row.filled_qty == Decimal(10)

        async def each_trade_published() -> bool:
            trade_ids = {u.trade_id for u in rig.updates_for("itest-parts-market") if u.trade_id is not None}
            return trade_ids == {f.trade_id for f in fills}

        # The REST answer already says FILLED; the stream's PARTIALLY_FILLED reports arrive later and
        # must not move the state back, but each of their trades is booked and published once.
        await wait_for(each_trade_published, 3, "one order.update per trade")
        position = await rig.position_row()
        assert position is not None and position.quantity == Decimal(10)
        await check_db_matches_venue(rig)


FIXED_START_MS = 1_796_392_800_000  # 14:00 UTC: both replayed markets move within 110 s of it


def _briefly_crossed_limit(rig: Rig) -> tuple[str, Side, Decimal]:
    """A symbol and limit price the venue's (deterministic) path does not reach for 20 s of simulated
    time (1 s of wall time at 20x: room for a slow machine to place it), then reaches within the
    next 90 s: the order rests, then trades through for a few steps."""
    now = rig.clock.now_ms()
    for symbol in (SYMBOL, OTHER):
        path = [rig.server.exchange.mark_price(symbol, now + t) for t in range(0, 110_001, 100)]
        before, window = path[:201], path[200:]
        if min(window) < min(before):
            return symbol, Side.BUY, min(window)
        if max(window) > max(before):
            return symbol, Side.SELL, max(window)
    raise AssertionError("both replayed markets stay within their first 20 s range for 110 s")


async def test_a_ttl_cancel_of_a_partially_filled_order_keeps_the_filled_part(db: Database) -> None:
    # A 120 s TTL is at most 300 matching steps at 20x (one per 20 ms tick), far fewer than 1,000
    # parts: the order cannot fill completely before its TTL.
    # A fixed start: the replayed market is then the same on every run (at some times of day both
    # markets are flat for minutes, and the test would have no crossing to work with).
    async with order_rig(db, speed=20, ttl_s=120, fill_parts=1000, start_ms=FIXED_START_MS) as rig:
        symbol, side, price = _briefly_crossed_limit(rig)
        rig.publish(rig.request("itest-parts-ttl", side, "1000", price=price, symbol=symbol))
        row = await rig.wait_state("itest-parts-ttl", "CANCELED", within=15)
        assert "TTL" in row.reason, row.reason
        assert Decimal(0) < row.filled_qty < Decimal(1000), row.filled_qty

        async def every_trade_booked() -> bool:
            # The cancel's answer can report a trade before its ORDER_TRADE_UPDATE arrives.
            return sum(f.quantity for f in await rig.fill_rows("itest-parts-ttl")) == row.filled_qty

        await wait_for(every_trade_booked, 3, "the fills to add up to the filled quantity")
        fills = await rig.fill_rows("itest-parts-ttl")
        assert all(f.price == price and f.is_maker for f in fills)
        [venue] = rig.venue_orders_for("itest-parts-ttl", symbol)
        assert venue["status"] == "CANCELED" and Decimal(venue["executedQty"]) == row.filled_qty
        position = await rig.position_row(symbol)
        signed = row.filled_qty if side is Side.BUY else -row.filled_qty
        assert position is not None and position.quantity == signed
        await check_db_matches_venue(rig, (SYMBOL, OTHER))
