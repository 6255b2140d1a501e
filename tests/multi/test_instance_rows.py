"""Several daemons on one PostgreSQL: the rows one daemon writes name it (`instance_id`) — its
orders, fills, positions, signals and reconciliation runs — so a reader of the shared database can
tell whose they are, and `status` shows a daemon's own last reconciliation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlmodel import select

from core.bus import Bus
from core.client_ids import client_order_id_for
from core.events import Side, Signal, SignalAction
from database.engine import Database
from database.models import ReconciliationRunRow, SignalRow
from executor.orders.reconcile_store import last_run, record_run
from tests.orders_integration.rig import SYMBOL, order_rig, wait_for
from trader.audit import AuditRecorder

pytestmark = pytest.mark.postgres


async def test_a_daemons_order_fill_and_position_rows_carry_its_instance_id(pg: Database) -> None:
    async with order_rig(pg, start_manager=False) as rig:
        rig.manager.set_scope(lambda _symbol: True, "alpha")
        await rig.start_manager()
        cid = client_order_id_for("alpha:1")
        rig.publish(rig.request(cid, Side.BUY, "10"))
        await rig.wait_state(cid, "FILLED", within=10)
        order = await rig.order_row(cid)
        fills = await rig.fill_rows(cid)
        position = await rig.position_row(SYMBOL)
        assert order is not None and order.instance_id == "alpha"
        assert fills and {f.instance_id for f in fills} == {"alpha"}
        assert position is not None and position.quantity == Decimal(10) and position.instance_id == "alpha"
        runs = await pg.run(lambda s: s.exec(select(ReconciliationRunRow)).all())
        assert runs and {r.instance_id for r in runs} == {"alpha"}  # the start-up reconciliation


async def test_status_shows_a_daemons_own_last_reconciliation_not_anothers(pg: Database) -> None:
    def runs(session: object) -> None:
        for instance, time, result in (("alpha", 1, "ok"), ("beta", 2, "failed")):
            record_run(
                session,  # type: ignore[arg-type]
                time=time, trigger="periodic", result=result, duration_ms=1, detail="",
                differences=[], instance_id=instance,
            )

    await pg.run(runs)
    alpha, anyone = await pg.run(lambda s: (last_run(s, "alpha"), last_run(s)))
    assert alpha is not None and (alpha.time, alpha.result) == (1, "ok")
    assert anyone is not None and anyone.result == "failed"


async def test_a_daemons_signal_rows_carry_its_instance_id(pg: Database) -> None:
    bus = Bus()
    recorder = AuditRecorder(bus, pg, "beta")
    task = asyncio.create_task(recorder.run())
    bus.publish(
        "signal.WLDUSDT",
        Signal(
            signal_id="WLDUSDT:vwap:OPEN_LONG:1",
            symbol="WLDUSDT",
            strategy="vwap",
            action=SignalAction.OPEN_LONG,
            reason="close below lower band",
            price=Decimal("1.2345"),
            event_time=1,
            notional=Decimal("200"),
        ),
    )

    async def stored() -> bool:
        return recorder.recorded >= 1

    await wait_for(stored, 5, "the signal written")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    rows = await pg.run(lambda s: s.exec(select(SignalRow)).all())
    assert [(r.signal_id, r.instance_id) for r in rows] == [("WLDUSDT:vwap:OPEN_LONG:1", "beta")]
