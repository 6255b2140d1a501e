"""Scenarios 6 and 7: duplicated, reordered and lost user-data events book each fill exactly once."""

from __future__ import annotations

from decimal import Decimal

from core.events import Side
from database.engine import Database
from tests.orders_integration.rig import Rig, check_db_matches_venue, order_rig, wait_for


async def _trade_round(rig: Rig, prefix: str) -> None:
    """Buy 10, buy 5, sell 15 (reduce-only), each waited for."""
    for n, (side, qty, reduce_only) in enumerate(
        [(Side.BUY, "10", False), (Side.BUY, "5", False), (Side.SELL, "15", True)]
    ):
        cid = f"{prefix}-{n}"
        rig.publish(rig.request(cid, side, qty, reduce_only=reduce_only))
        await rig.wait_state(cid, "FILLED")

        async def booked(cid: str = cid) -> bool:
            return len(await rig.fill_rows(cid)) >= 1

        await wait_for(booked, 3, f"the fill of {cid}")


async def _one_fill_per_trade(rig: Rig) -> None:
    fills = await rig.fill_rows()
    trade_ids = [f.trade_id for f in fills]
    assert len(trade_ids) == len(set(trade_ids)) == 3, trade_ids
    position = await rig.position_row()
    assert position is not None and Decimal(position.quantity) == 0
    assert Decimal(position.realized_pnl) == sum(Decimal(f.realized_pnl) for f in fills)
    assert Decimal(position.fees) == sum(Decimal(f.commission) for f in fills)
    await check_db_matches_venue(rig)


async def test_duplicated_events_book_each_trade_once(db: Database) -> None:
    async with order_rig(db) as rig:
        rig.server.inject("user_dup", 50)
        await _trade_round(rig, "itest-dup")
        assert rig.server.faults.fired["user_dup"] >= 3
        await _one_fill_per_trade(rig)
        assert rig.manager.counters.duplicate_events >= 3


async def test_reordered_events_book_each_trade_once(db: Database) -> None:
    async with order_rig(db) as rig:
        rig.server.inject("user_reorder", 50, event="ORDER_TRADE_UPDATE")
        await _trade_round(rig, "itest-reorder")
        assert rig.server.faults.fired["user_reorder"] >= 3
        await _one_fill_per_trade(rig)


async def test_lost_trade_events_are_back_filled_over_rest(db: Database) -> None:
    async with order_rig(db) as rig:
        # Every event of the order (NEW and TRADE) is lost: only REST can tell us about the fill.
        rig.server.inject("user_drop", 2, event="ORDER_TRADE_UPDATE")
        rig.publish(rig.request("itest-drop", Side.BUY, "10"))
        await rig.wait_state("itest-drop", "FILLED")

        async def backfilled() -> bool:
            return len(await rig.fill_rows("itest-drop")) == 1

        await wait_for(backfilled, 5, "the lost fill to be back-filled")
        assert rig.server.faults.fired["user_drop"] == 2
        assert rig.manager.counters.fills_backfilled == 1
        position = await rig.position_row()
        assert position is not None and Decimal(position.quantity) == 10
        await check_db_matches_venue(rig)


async def test_user_socket_dropped_mid_fill_is_polled_and_back_filled(db: Database) -> None:
    async with order_rig(db) as rig:
        # The socket dies as the order goes out and the order's events are lost with it (dropped
        # outright, so a quick reconnect cannot deliver them after all); the reconnect resets the
        # stream and the manager polls REST until the stream delivers again.
        rig.server.inject("user_drop", 2, event="ORDER_TRADE_UPDATE")
        rig.server.inject("user_drop", 1, event="TRADE_LITE")
        rig.server.inject("ws_drop")
        rig.publish(rig.request("itest-wsdrop", Side.BUY, "10"))
        await rig.wait_state("itest-wsdrop", "FILLED")

        async def backfilled() -> bool:
            return len(await rig.fill_rows("itest-wsdrop")) == 1

        await wait_for(backfilled, 5, "the fill to be back-filled")

        async def was_reset() -> bool:
            return rig.stream.resets >= 1

        await wait_for(was_reset, 5, "the user stream reset")
        assert rig.manager.counters.fills_backfilled == 1
        await check_db_matches_venue(rig)
        # The stream works again: the next order is booked from its events.
        rig.publish(rig.request("itest-wsdrop-2", Side.SELL, "10", reduce_only=True))
        await rig.wait_state("itest-wsdrop-2", "FILLED")
        await check_db_matches_venue(rig)

