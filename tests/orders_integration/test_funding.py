"""Funding fees: ACCOUNT_UPDATE FUNDING_FEE is booked into the right position, once.

The simulator pays funding at 00/08/16 UTC like Binance, and (like Binance in cross margin) its
FUNDING_FEE update carries only the summed balance change, no positions. So each rig starts its
simulated clock a few simulated minutes before a funding time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal

from sqlmodel import select

from core import channels
from core.events import AccountUpdate, Side
from database.engine import Database
from database.models import FundingPaymentRow
from executor.orders.funding import backfill_funding
from executor.orders.reconcile import reconcile
from executor.venue_api import VenueIncome
from tests.orders_integration.rig import SYMBOL, Rig, order_rig, wait_for

EIGHT_HOURS_MS = 8 * 3_600_000
OTHER = "ADAUSDT"


def before_next_funding(seconds: int) -> int:
    """A simulated start `seconds` before the next 8-hourly funding time."""
    now = time.time_ns() // 1_000_000
    return (now // EIGHT_HOURS_MS + 1) * EIGHT_HOURS_MS - seconds * 1000


async def funding_rows(db: Database) -> list[FundingPaymentRow]:
    return await db.run(lambda s: list(s.exec(select(FundingPaymentRow).order_by(FundingPaymentRow.symbol))))


async def venue_funding(rig: Rig) -> list[VenueIncome]:
    now = rig.clock.now_ms()
    return await rig.probe.income("FUNDING_FEE", now - EIGHT_HOURS_MS, now)


async def wait_for_funding(rig: Rig, count: int) -> list[FundingPaymentRow]:
    async def booked() -> bool:
        return len(await funding_rows(rig.db)) >= count

    await wait_for(booked, 15, f"{count} funding payment(s) in the database")
    return await funding_rows(rig.db)


async def test_funding_with_one_position_open_is_booked_to_it(db: Database) -> None:
    async with order_rig(db, speed=120, start_ms=before_next_funding(300)) as rig:
        rig.publish(rig.request("itest-funding-long", Side.BUY, "10"))
        await rig.wait_state("itest-funding-long", "FILLED")
        rows = await wait_for_funding(rig, 1)
        venue = await venue_funding(rig)
        assert [(r.symbol, r.amount, r.time) for r in rows] == [(i.symbol, i.amount, i.time) for i in venue]
        assert rows[0].symbol == SYMBOL and rows[0].amount < 0  # a long pays a positive funding rate
        position = await rig.position_row()
        assert position is not None and position.funding == rows[0].amount
        assert position.quantity == Decimal(10)  # funding moves money, not the position
        assert rig.manager.counters.funding_payments == 1
        # The income history's record of the same payment is not booked a second time.
        assert await backfill_funding(rig.gateway, db, rig.clock) == []
        assert len(await funding_rows(db)) == 1


async def test_funding_with_two_positions_open_is_split_per_symbol_from_the_income_history(
    db: Database,
) -> None:
    async with order_rig(db, speed=120, start_ms=before_next_funding(300)) as rig:
        rig.publish(rig.request("itest-funding-wld", Side.BUY, "10"))
        rig.publish(rig.request("itest-funding-ada", Side.SELL, "100", symbol=OTHER))
        await rig.wait_state("itest-funding-wld", "FILLED")
        await rig.wait_state("itest-funding-ada", "FILLED")
        rows = await wait_for_funding(rig, 2)
        venue = sorted(await venue_funding(rig), key=lambda i: i.symbol)
        assert [(r.symbol, r.amount, r.time) for r in rows] == [(i.symbol, i.amount, i.time) for i in venue]
        by_symbol = {r.symbol: r.amount for r in rows}
        assert by_symbol[SYMBOL] < 0 < by_symbol[OTHER]  # the long pays, the short receives
        for symbol, amount in by_symbol.items():
            position = await rig.position_row(symbol)
            assert position is not None and position.funding == amount
        assert rig.manager.counters.funding_payments == 2
        assert rig.manager.counters.funding_backfill_failures == 0


async def _long_position(rig: Rig, cid: str) -> None:
    rig.publish(rig.request(cid, Side.BUY, "10"))
    await rig.wait_state(cid, "FILLED")

    async def booked() -> bool:
        position = await rig.position_row()
        return position is not None and position.quantity == Decimal(10)

    await wait_for(booked, 3, "the position to be booked")


async def _venue_charged_funding(rig: Rig) -> list[VenueIncome]:
    async def charged() -> bool:
        return bool(await venue_funding(rig))

    await wait_for(charged, 15, "the venue to charge funding")
    return await venue_funding(rig)


async def test_funding_charged_while_the_daemon_was_down_is_booked_at_restart(db: Database) -> None:
    async with order_rig(db, speed=120, start_ms=before_next_funding(300)) as rig:
        await _long_position(rig, "itest-funding-down")
        # The daemon stops: no order manager, no user stream.
        assert rig.task is not None
        rig.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rig.task
        rig.task = None
        await rig.stream.stop()
        [charged] = await _venue_charged_funding(rig)
        assert await funding_rows(db) == []

        report = await reconcile(rig.gateway, db, rig.clock, rig.instruments, settle_seconds=1.0)
        assert report.funding_backfilled == 1
        [row] = await funding_rows(db)
        assert (row.symbol, row.amount, row.time) == (charged.symbol, charged.amount, charged.time)
        position = await rig.position_row()
        assert position is not None and position.funding == charged.amount
        again = await reconcile(rig.gateway, db, rig.clock, rig.instruments, settle_seconds=1.0)
        assert again.funding_backfilled == 0 and len(await funding_rows(db)) == 1


async def test_funding_lost_with_the_user_stream_is_booked_after_it_reconnects(db: Database) -> None:
    async with order_rig(db, speed=120, start_ms=before_next_funding(300)) as rig:
        account = rig.bus.subscribe(channels.ACCOUNT_UPDATE, name="test.account")
        await _long_position(rig, "itest-funding-lost")
        # The fill's own ACCOUNT_UPDATE has arrived, so the drop below takes the FUNDING_FEE one.
        update = await asyncio.wait_for(account.get(), 10)
        assert isinstance(update, AccountUpdate) and update.reason == "ORDER"
        rig.server.inject("user_drop", 1, event="ACCOUNT_UPDATE")  # the FUNDING_FEE update is lost
        [charged] = await _venue_charged_funding(rig)

        async def dropped() -> bool:
            return rig.server.faults.fired["user_drop"] >= 1

        await wait_for(dropped, 10, "the FUNDING_FEE update to be dropped")
        assert await funding_rows(db) == [], "the FUNDING_FEE update was meant to be lost"

        rig.server.inject("ws_drop")  # the reconnect tells the order manager events may be lost
        [row] = await wait_for_funding(rig, 1)
        assert (row.symbol, row.amount, row.time) == (charged.symbol, charged.amount, charged.time)
        assert rig.stream.resets >= 1 and rig.manager.counters.funding_payments == 1

        async def published() -> bool:
            rig.drain()
            return any(p.symbol == SYMBOL and p.quantity == Decimal(10) for p in rig.seen_positions)

        await wait_for(published, 3, "position.update after the funding back-fill")
