"""Issue 12.1: a fill is never lost between an order's FILLED answer and the booking of its trades.

The order manager learns FILLED from the REST answer while the trades come later (user stream or
back-fill). A crash in between used to leave a FILLED row with no fills, which reconciliation never
looked at again (it reloads live orders only). Now the state is stored final only together with its
fills, and reconciliation back-fills any order short of fills, whatever its state.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from functools import partial

from core.events import Side
from core.order_state import OrderState
from database.engine import Database
from executor.orders import store as order_store
from executor.orders.reconcile import reconcile
from executor.orders.store import OrderSnapshot
from tests.orders_integration.rig import Rig, check_db_matches_venue, order_rig, wait_for


async def _crash(rig: Rig) -> None:
    """What SIGKILL does to the order manager: its task is gone, nothing more is written."""
    assert rig.task is not None
    rig.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await rig.task
    rig.task = None


async def test_killed_between_the_filled_answer_and_the_fill_books_the_fill_on_restart(db: Database) -> None:
    # No user stream: the trades can only come from the REST back-fill, which the crash prevents.
    async with order_rig(db, start_stream=False, poll_s=3600.0) as rig:
        rig.publish(rig.request("itest-filled-then-crash", Side.BUY, "10"))

        async def answered() -> bool:
            row = await rig.order_row("itest-filled-then-crash")
            return row is not None and Decimal(row.filled_qty) == 10

        await wait_for(answered, 10, "the FILLED answer to be stored")
        await _crash(rig)
        row = await rig.order_row("itest-filled-then-crash")
        assert row is not None and await rig.fill_rows("itest-filled-then-crash") == []
        # Not final while its fill is unbooked: reconciliation must not consider it done.
        assert row.state == "PARTIALLY_FILLED"

        report = await reconcile(rig.gateway, db, rig.clock, rig.instruments, settle_seconds=1.0)
        assert report.fills_backfilled == 1, report
        row = await rig.order_row("itest-filled-then-crash")
        assert row is not None and row.state == "FILLED"
        await check_db_matches_venue(rig, within=0)


async def test_a_finished_order_short_of_fills_is_back_filled_whatever_its_state(db: Database) -> None:
    """A database written by an earlier version (or restored from a backup) holds FILLED rows with
    fewer fills than their executed quantity: reconciliation completes them."""
    async with order_rig(db, start_manager=False) as rig:
        request = rig.request("itest-old-filled-row", Side.BUY, "10")
        await rig.db.run(
            partial(
                order_store.insert_order,
                request=request,
                state=OrderState.PENDING_NEW,
                now=rig.clock.now_ms(),
            )
        )
        venue = await rig.probe.place_order(request)
        assert venue.status.value == "FILLED"
        snapshot = OrderSnapshot(
            client_order_id=request.client_order_id,
            state=OrderState.FILLED,
            venue_order_id=venue.order_id,
            filled_qty=venue.executed_qty,
            avg_price=venue.avg_price,
            cum_quote=venue.cum_quote,
            reason="",
            send_attempts=1,
            last_error="",
            updated_time=rig.clock.now_ms(),
        )
        await rig.db.run(partial(order_store.save_order, snapshot=snapshot))

        report = await reconcile(rig.gateway, db, rig.clock, rig.instruments, settle_seconds=1.0)
        assert report.short_of_fills == 1 and report.fills_backfilled == 1, report
        assert len(await rig.fill_rows("itest-old-filled-row")) == 1
        position = await rig.position_row()
        assert position is not None and Decimal(position.quantity) == 10
        again = await reconcile(rig.gateway, db, rig.clock, rig.instruments, settle_seconds=1.0)
        assert again.short_of_fills == 0 and again.fills_backfilled == 0
        await check_db_matches_venue(rig, within=0)
