"""The risk gate counts a round trip's PnL net of the fees the venue charged (the daily loss limit
and the losing streak), on the real order path against the simulator."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from core.events import Side
from database.engine import Database
from executor.risk.gate import RiskGate
from tests.orders_integration.rig import SYMBOL, order_rig, wait_for
from tests.risk._fixtures import limits


async def test_the_gate_counts_the_days_pnl_and_the_trip_net_of_fees(db: Database) -> None:
    async with order_rig(db) as rig:
        gate = RiskGate(
            rig.bus, rig.clock, db, rig.instruments,
            limits_for=lambda _symbol: limits(), starting_equity=Decimal(10000),
        )  # fmt: skip
        task = asyncio.create_task(gate.run(), name="itest.risk_gate")
        try:
            await asyncio.wait_for(gate.ready.wait(), 5)
            rig.publish(rig.request("itest-open", Side.BUY, "100"))
            await rig.wait_state("itest-open", "FILLED")
            rig.publish(rig.request("itest-close", Side.SELL, "100", reduce_only=True))
            await rig.wait_state("itest-close", "FILLED")

            fills = await rig.fill_rows()
            gross = sum((Decimal(f.realized_pnl) for f in fills), Decimal(0))
            fees = sum((Decimal(f.commission) for f in fills if f.commission_asset == "USDT"), Decimal(0))
            assert fees > 0  # the simulator charges its taker fee on both fills
            net = gross - fees

            async def booked() -> bool:
                return gate.state.realized_today("itest", SYMBOL) != 0

            await wait_for(booked, 5, "the gate to book the round trip")
            assert gate.state.realized_today("itest", SYMBOL) == net
            assert gate.state.consecutive_losses("itest", SYMBOL) == (1 if net < 0 else 0)
            position = await rig.position_row()
            assert position is not None and Decimal(position.fees) == fees
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
