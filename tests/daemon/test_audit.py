"""Signals and guard events reach the database once; strategy state survives a restart."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from sqlmodel import select

from core.bus import Bus
from core.events import Signal, SignalAction, VolatilityGuardTriggered
from database.engine import Database
from database.models import SignalRow, StrategyStateRow, VolatilityEventRow
from trader.audit import AuditRecorder, DatabaseStateStore


def _signal(n: int) -> Signal:
    return Signal(
        signal_id=f"WLDUSDT:vwap:OPEN_LONG:{n}",
        symbol="WLDUSDT",
        strategy="vwap",
        action=SignalAction.OPEN_LONG,
        reason="close below lower band",
        price=Decimal("1.2345"),
        event_time=n,
        notional=Decimal("200"),
        inputs={"vwap": "1.25", "adx": "14.2"},
    )


async def test_signals_and_guard_events_are_recorded_once_with_their_inputs(db: Database) -> None:
    bus = Bus()
    recorder = AuditRecorder(bus, db)
    task = asyncio.create_task(recorder.run())
    for n in range(50):
        bus.publish("signal.WLDUSDT", _signal(n))
    bus.publish("signal.WLDUSDT", _signal(7))  # replayed after a restart
    bus.publish(
        "strategy.event",
        VolatilityGuardTriggered("WLDUSDT", "vwap", Decimal("0.012"), Decimal("0.008"), 99, 42),
    )
    for _ in range(100):
        if recorder.recorded >= 52:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    with db.session() as session:
        signals = session.exec(select(SignalRow)).all()
        guards = session.exec(select(VolatilityEventRow)).all()
    assert len(signals) == 50
    assert json.loads(signals[0].inputs) == {"adx": "14.2", "vwap": "1.25"}
    assert signals[0].price == Decimal("1.2345") and signals[0].notional == Decimal("200")
    assert [(g.range_fraction, g.until_time) for g in guards] == [(Decimal("0.012"), 99)]


async def test_events_queued_at_shutdown_are_still_written(db: Database) -> None:
    bus = Bus()
    recorder = AuditRecorder(bus, db)
    task = asyncio.create_task(recorder.run())
    await asyncio.sleep(0)
    for n in range(5):
        bus.publish("signal.WLDUSDT", _signal(n))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    with db.session() as session:
        assert len(session.exec(select(SignalRow)).all()) == 5


async def test_strategy_state_round_trips(db: Database) -> None:
    store = DatabaseStateStore(db)
    assert await store.load("WLDUSDT", "vwap") is None
    await store.save("WLDUSDT", "vwap", {"side": "LONG", "entry_price": "1.2"})
    await store.save("WLDUSDT", "vwap", {"side": None})
    assert await store.load("WLDUSDT", "vwap") == {"side": None}
    with db.session() as session:
        assert len(session.exec(select(StrategyStateRow)).all()) == 1


async def test_trading_events_are_logged_with_symbol_strategy_and_client_order_id() -> None:
    from structlog.testing import capture_logs

    from core.events import OrderUpdate, Side
    from trader.audit import TradeLog

    bus = Bus()
    log = TradeLog(bus)
    with capture_logs() as logs:
        task = asyncio.create_task(log.run())
        await asyncio.sleep(0)
        bus.publish("signal.WLDUSDT", _signal(1))
        bus.publish(
            "order.update",
            OrderUpdate("tr-abc", "WLDUSDT", "vwap", Side.BUY, "FILLED", Decimal(10), Decimal(10),
                        Decimal("1.2"), 5, last_fill_qty=Decimal(10), last_fill_price=Decimal("1.2")),
        )
        await asyncio.sleep(0.05)
        task.cancel()
    order = next(e for e in logs if e["event"] == "trade.order")
    assert (order["symbol"], order["strategy"], order["client_order_id"]) == ("WLDUSDT", "vwap", "tr-abc")
    assert order["fill_price"] == "1.2"
    signal = next(e for e in logs if e["event"] == "trade.signal")
    assert signal["symbol"] == "WLDUSDT" and signal["strategy"] == "vwap"
