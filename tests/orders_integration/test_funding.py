"""Funding fees: ACCOUNT_UPDATE FUNDING_FEE is booked into the right position, once.

The simulator pays funding at 00/08/16 UTC like Binance, and (like Binance in cross margin) its
FUNDING_FEE update carries only the summed balance change, no positions. So each rig starts its
simulated clock a few simulated minutes before a funding time.
"""

from __future__ import annotations

import time
from decimal import Decimal

from sqlmodel import select

from database.engine import Database
from database.models import FundingPaymentRow
from executor.venue_models import VenueIncome
from tests.orders_integration.rig import SYMBOL, Rig, order_rig, wait_for
from trader.events import Side

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
        assert rig.manager.counters.funding_unattributed == 0
