"""Continuous reconciliation against the venue (issues 12.2 and 14).

Differences are planted on the simulator behind the order manager's back: an order of ours that
the database never stored, another client's order, a fill the user stream dropped, a position
nobody booked. Each run must repair what can be repaired, report the rest, store the run and its
differences, and publish its result (a position difference pauses that symbol's entries).
"""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from core import channels
from core.client_ids import client_order_id_for
from core.decimals import PriceIntent, quantize_price
from core.events import Side
from core.reconciliation import ReconcileResult, ReconciliationFinished
from database.engine import Database
from database.reconciliation_tables import ReconciliationDifferenceRow, ReconciliationRunRow
from tests.orders_integration.rig import SYMBOL, Rig, check_db_matches_venue, order_rig, wait_for


def _resting_price(rig: Rig, side: Side) -> Decimal:
    """A limit price far enough from the market that the order rests for the whole test."""
    tick = rig.instruments[SYMBOL].tick_size
    factor = Decimal("0.9") if side is Side.BUY else Decimal("1.1")
    return quantize_price(rig.mark() * factor, tick, side, PriceIntent.PASSIVE)


async def _runs(db: Database) -> list[ReconciliationRunRow]:
    return list(await db.run(lambda s: s.exec(select(ReconciliationRunRow)).all()))


async def _differences(db: Database) -> list[ReconciliationDifferenceRow]:
    return list(await db.run(lambda s: s.exec(select(ReconciliationDifferenceRow)).all()))


async def test_an_open_order_of_ours_the_database_lost_is_adopted(db: Database) -> None:
    async with order_rig(db) as rig:
        cid = client_order_id_for("lost-database:1")
        await rig.probe.place_order(rig.request(cid, Side.BUY, "10", price=_resting_price(rig, Side.BUY)))
        report = await rig.manager.reconcile_now("periodic")
        assert report.adopted == 1 and report.result is ReconcileResult.REPAIRED, report
        row = await rig.order_row(cid)
        assert row is not None and row.state == "NEW" and row.symbol == SYMBOL
        # Adopted means tracked: when it ends on the venue, the database follows.
        await rig.probe.cancel_order(SYMBOL, cid)
        await rig.wait_state(cid, "CANCELED", within=5)
        await check_db_matches_venue(rig)
        kinds = [d.kind for d in await _differences(db)]
        assert "order_unknown" in kinds


async def test_with_unknown_orders_cancel_an_unknown_order_of_ours_is_cancelled(db: Database) -> None:
    async with order_rig(db, start_manager=False) as rig:
        cid = client_order_id_for("lost-database:2")
        await rig.probe.place_order(rig.request(cid, Side.SELL, "10", price=_resting_price(rig, Side.SELL)))
        rig.manager.reconciler.adoption.unknown_orders = "cancel"
        await rig.start_manager()
        assert rig.manager.reconciler.last is not None
        assert rig.manager.reconciler.last.cancelled_unknown == 1
        assert [o["status"] for o in rig.venue_orders_for(cid)] == ["CANCELED"]
        # Its cancellation report names our prefix: it is recorded, as cancelled.
        await rig.wait_state(cid, "CANCELED", within=5)
        await check_db_matches_venue(rig)


async def test_a_fill_of_an_order_of_ours_the_database_does_not_know_is_booked(db: Database) -> None:
    """The reports of an unknown order with our prefix are not dropped as foreign: the order is
    adopted from the venue on the spot and its fill booked, so the position does not drift."""
    async with order_rig(db) as rig:
        cid = client_order_id_for("lost-database:3")
        await rig.probe.place_order(rig.request(cid, Side.BUY, "10"))  # a market order: fills at once
        await rig.wait_state(cid, "FILLED", within=5)

        async def booked() -> bool:
            return len(await rig.fill_rows(cid)) == 1

        await wait_for(booked, 5, "the fill of the adopted order")
        assert rig.manager.counters.foreign_reports == 0
        await check_db_matches_venue(rig)


async def test_another_clients_order_is_reported_and_never_touched(db: Database) -> None:
    async with order_rig(db) as rig:
        await rig.probe.place_order(
            rig.request("other-bot-7", Side.BUY, "10", price=_resting_price(rig, Side.BUY))
        )
        report = await rig.manager.reconcile_now("periodic")
        assert report.foreign == 1 and report.adopted == 0, report
        assert [o["status"] for o in rig.venue_orders_for("other-bot-7")] == ["NEW"]
        assert await rig.order_row("other-bot-7") is None
        differences = await _differences(db)
        assert [(d.kind, d.client_order_id) for d in differences] == [("order_foreign", "other-bot-7")]


async def test_a_fill_the_user_stream_dropped_is_back_filled_by_the_periodic_run(db: Database) -> None:
    async with order_rig(db, poll_s=3600.0) as rig:  # no poll: only reconciliation can find it
        rig.server.inject("user_drop", 2, event="ORDER_TRADE_UPDATE")
        rig.publish(rig.request("itest-dropped-fill", Side.BUY, "10"))

        async def answered() -> bool:
            row = await rig.order_row("itest-dropped-fill")
            return row is not None and Decimal(row.filled_qty) == 10

        await wait_for(answered, 10, "the order's REST answer")
        assert await rig.fill_rows("itest-dropped-fill") == []
        report = await rig.manager.reconcile_now("periodic")
        assert report.fills_backfilled == 1, report
        row = await rig.order_row("itest-dropped-fill")
        assert row is not None and row.state == "FILLED"
        await check_db_matches_venue(rig)
        runs = await _runs(db)
        assert [r.trigger for r in runs] == ["startup", "periodic"]
        assert runs[-1].result == "repaired" and runs[-1].differences >= 1


async def test_an_unexplained_position_difference_pauses_entries_until_a_clean_run(db: Database) -> None:
    async with order_rig(db) as rig:
        results = rig.bus.subscribe(channels.RECONCILIATION, name="test.reconciliation")
        # Someone trades on the account behind the daemon's back: the venue's position moves.
        await rig.probe.place_order(rig.request("manual-trade-1", Side.BUY, "10"))
        first = await rig.manager.reconcile_now("periodic")
        assert first.result is ReconcileResult.MISMATCH and first.mismatched_symbols == (SYMBOL,), first
        position = await rig.position_row()
        assert position is not None and Decimal(position.quantity) == 10  # corrected to the venue's
        second = await rig.manager.reconcile_now("periodic")
        assert second.result is ReconcileResult.OK and second.mismatched_symbols == (), second
        published = [e for e in (results.get_nowait() for _ in range(len(results)))]
        assert [
            (e.trigger, e.result, e.mismatched_symbols)
            for e in published
            if isinstance(e, ReconciliationFinished)
        ] == [("periodic", ReconcileResult.MISMATCH, (SYMBOL,)), ("periodic", ReconcileResult.OK, ())]
