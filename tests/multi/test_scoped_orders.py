"""The order manager leaves a symbol another daemon owns to that daemon (one venue account, one
database), counts that daemon's stored position for the total exposure, and takes the symbol over
when asked: its orders tracked, reconciled, its position told to the risk gate."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from core.client_ids import client_order_id_for
from core.decimals import PriceIntent, quantize_price
from core.events import Side
from core.reconciliation import ReconcileResult
from database.engine import Database
from executor.orders import store as order_store
from executor.orders.positions import Position
from tests.orders_integration.rig import SYMBOL, order_rig, wait_for

OTHER = "ADAUSDT"  # owned by the other daemon until it dies


async def test_another_daemons_symbol_is_left_alone_counted_and_taken_over(db: Database) -> None:
    async with order_rig(db, start_manager=False) as rig:
        rig.manager.set_scope(lambda symbol: symbol != OTHER)
        await rig.start_manager()
        tick = rig.instruments[OTHER].tick_size
        low = quantize_price(rig.mark(OTHER) * Decimal("0.9"), tick, Side.BUY, PriceIntent.PASSIVE)
        resting, filled = client_order_id_for("other-daemon:1"), client_order_id_for("other-daemon:2")
        # The other daemon trades OTHER on the shared account and books it in the shared database.
        await rig.probe.place_order(rig.request(resting, Side.BUY, "100", price=low, symbol=OTHER))
        await rig.probe.place_order(rig.request(filled, Side.BUY, "100", symbol=OTHER))
        now = rig.clock.now_ms()
        theirs = Position(OTHER, Decimal(100), rig.mark(OTHER), strategy="other", updated_time=now)
        await db.run(partial(order_store.save_position, position=theirs))
        # One order of ours after theirs: once it is booked, their reports (earlier on the same
        # stream) have been seen too.
        ours = client_order_id_for("this-daemon:1")
        rig.publish(rig.request(ours, Side.BUY, "10"))
        await rig.wait_state(ours, "FILLED", within=10)

        report = await rig.manager.reconcile_now("periodic")
        assert report.adopted == 0 and report.positions_corrected == 0 and not report.mismatched_symbols
        assert await rig.order_row(resting) is None and await rig.order_row(filled) is None  # not booked
        assert await rig.fill_rows(filled) == []
        rig.drain()
        assert [p.quantity for p in rig.seen_positions if p.symbol == OTHER] == [Decimal(100)]  # counted

        rig.manager.set_scope(lambda symbol: True)  # the other daemon died; its lock is ours
        taken = await rig.manager.take_over({OTHER})
        assert taken.result is not ReconcileResult.FAILED and taken.adopted == 1, taken
        row = await rig.order_row(resting)
        assert row is not None and row.state == "NEW"  # tracked from now on
        await rig.probe.cancel_order(OTHER, resting)
        await rig.wait_state(resting, "CANCELED", within=5)

        async def told() -> bool:
            rig.drain()
            return sum(p.symbol == OTHER for p in rig.seen_positions) >= 2

        await wait_for(told, 5, "the position of the symbol taken over told to the risk gate")
        assert SYMBOL != OTHER
