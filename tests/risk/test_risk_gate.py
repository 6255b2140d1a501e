"""The running gate on a real bus and database: orders, decisions, duplicates, exits, loss halts."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlmodel import select

from core.client_ids import client_order_id_for
from core.events import OrderType, Side, SignalAction, TimeInForce
from database.engine import Database
from database.models import FillRow, FundingPaymentRow, OrderRow, PositionRow, RiskDecisionRow
from executor.orders import store as order_store
from executor.orders.positions import Position
from executor.risk.kill_switch import HaltState, read_halts
from executor.risk.rules import SymbolHalt
from tests.risk._fixtures import (
    DAY_MS,
    MINUTE_MS,
    NOON,
    OTHER,
    STRATEGY,
    SYMBOL,
    limits,
    mark,
    order_update,
    position,
    signal,
)
from tests.risk._gate import Harness, start_gate, until
from utils.clock import ManualClock

D = Decimal


def _rows(db: Database) -> list[RiskDecisionRow]:
    with db.session() as session:
        return list(session.exec(select(RiskDecisionRow).order_by(RiskDecisionRow.id)).all())  # type: ignore[arg-type]


async def test_an_accepted_entry_is_sized_at_the_mark_and_becomes_one_order_request(db: Database) -> None:
    h = await start_gate(db)
    try:
        h.bus.publish(f"market.{SYMBOL}", mark("4"))
        await until(lambda: h.gate.state.mark_price(SYMBOL) == D(4))
        h.bus.publish(f"signal.{SYMBOL}", signal(notional="100", price="4.005", signal_id="s-1"))
        decision = await h.decision()
        assert decision.accepted and decision.reason == "accepted"
        request = h.request_nowait()
        assert request is not None
        assert request.client_order_id == client_order_id_for("s-1") == decision.details["client_order_id"]
        assert (request.side, request.order_type, request.time_in_force) == (
            Side.BUY,
            OrderType.LIMIT,
            TimeInForce.GTC,
        )
        assert request.quantity == D(25) and request.price == D("4.00") and request.signal_id == "s-1"
        assert request.strategy == STRATEGY and not request.reduce_only
        assert h.request_nowait() is None
    finally:
        await h.stop()


async def test_every_decision_lands_in_the_database_with_reason_and_numbers(db: Database) -> None:
    h = await start_gate(db)
    try:
        h.bus.publish(f"signal.{SYMBOL}", signal(notional="100", signal_id="ok"))
        h.bus.publish(f"signal.{SYMBOL}", signal(notional="4", signal_id="small"))
        assert (await h.decision()).accepted
        rejected = await h.decision()
        assert not rejected.accepted and rejected.reason == "below_min_notional"
        await until(lambda: h.gate.decisions_written == 2)
    finally:
        await h.stop()
    rows = {r.signal_id: r for r in _rows(db)}
    assert rows["ok"].accepted and rows["ok"].reason == "accepted" and rows["ok"].symbol == SYMBOL
    assert D(json.loads(rows["ok"].details)["quantity"]) == 50
    small = json.loads(rows["small"].details)
    assert not rows["small"].accepted and rows["small"].reason == "below_min_notional"
    assert small["min_notional"] == "5" and D(small["quantity"]) == 2
    assert rows["small"].strategy == STRATEGY and rows["small"].event_time == NOON


async def test_a_duplicate_signal_id_gives_no_second_order_request_even_after_a_restart(db: Database) -> None:
    h = await start_gate(db)
    try:
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="dup"))
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="dup"))
        assert (await h.decision()).accepted
        second = await h.decision()
        assert not second.accepted and second.reason == "duplicate_signal"
        assert h.request_nowait() is not None and h.request_nowait() is None
    finally:
        await h.stop()  # writes what is queued on the way out

    again = await start_gate(db)  # a restart: the strategy replays the same signal
    try:
        again.bus.publish(f"signal.{SYMBOL}", signal(signal_id="dup"))
        replay = await again.decision()
        assert not replay.accepted and replay.reason == "duplicate_signal"
        assert again.request_nowait() is None
        again.bus.publish(f"signal.{SYMBOL}", signal(signal_id="fresh"))
        assert (await again.decision()).accepted
    finally:
        await again.stop()


async def test_a_close_passes_every_entry_limit_and_the_kill_switch(db: Database) -> None:
    h = await start_gate(db, max_orders_per_minute=1, funding_window_minutes=5)
    try:
        # The order-rate window is full ...
        h.bus.publish(f"signal.{OTHER}", signal(signal_id="other", symbol=OTHER))
        assert (await h.decision()).accepted and h.request_nowait() is not None
        # ... the symbol is over its exposure limit and its daily loss limit, inside the funding window ...
        h.bus.publish("position.update", position("0", "0"))
        h.bus.publish("position.update", position("800", "0"))  # 1600 USDT > max_exposure 1500
        h.bus.publish("position.update", position("800", "-400"))  # daily loss beyond 300
        h.bus.publish(f"market.{SYMBOL}", mark("2", next_funding=NOON + MINUTE_MS))
        await until(lambda: h.gate.state.realized_today(STRATEGY, SYMBOL) == D(-400))
        await until(lambda: h.gate.state.mark_price(SYMBOL) == D(2))
        # ... halted, and the kill switch is on.
        h.gate.state.halt_symbol(SymbolHalt(SYMBOL, "operator"))
        h.gate.apply_halts(HaltState("operator", {SYMBOL: SymbolHalt(SYMBOL, "operator")}), h.gate.halt_epoch)

        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="entry"))
        assert (await h.decision()).reason == "kill_switch"
        h.bus.publish(f"signal.{SYMBOL}", signal(SignalAction.CLOSE, signal_id="exit"))
        exit_decision = await h.decision()
        assert exit_decision.accepted, exit_decision
        request = h.request_nowait()
        assert request is not None and request.reduce_only and request.order_type is OrderType.MARKET
        assert request.side is Side.SELL and request.quantity == D(800) and request.price is None
        assert request.client_order_id == client_order_id_for("exit")
        assert h.gate.state.orders_in_window() == 2  # the exit is counted in the rate window

        # Peel the limits off one by one: each still stops entries.
        h.gate.apply_halts(HaltState(None, {SYMBOL: SymbolHalt(SYMBOL, "operator")}), h.gate.halt_epoch)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="e2"))
        assert (await h.decision()).reason == "symbol_halted"
        h.gate.apply_halts(HaltState(), h.gate.halt_epoch)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="e3"))
        assert (await h.decision()).reason == "daily_loss_limit"
        # A second CLOSE while the first is in flight has nothing left to close.
        h.bus.publish(f"signal.{SYMBOL}", signal(SignalAction.CLOSE, signal_id="exit-again"))
        assert (await h.decision()).reason == "close_pending"
        assert h.request_nowait() is None
    finally:
        await h.stop()


async def test_a_close_with_no_position_is_rejected(db: Database) -> None:
    h = await start_gate(db)
    try:
        h.bus.publish(f"signal.{SYMBOL}", signal(SignalAction.CLOSE, signal_id="exit"))
        decision = await h.decision()
        assert decision.reason == "no_position" and h.request_nowait() is None
    finally:
        await h.stop()


async def test_an_open_position_is_restored_at_start_so_a_close_can_go_out(db: Database) -> None:
    with db.session() as session:
        order_store.save_position(
            session, Position(SYMBOL, quantity=D(-30), entry_price=D(2), realized_pnl=D(5), strategy=STRATEGY)
        )
    h = await start_gate(db)
    try:
        h.bus.publish(f"signal.{SYMBOL}", signal(SignalAction.CLOSE, signal_id="exit"))
        assert (await h.decision()).accepted
        request = h.request_nowait()
        assert request is not None and request.side is Side.BUY and request.quantity == D(30)
    finally:
        await h.stop()


async def _lose(h: Harness, realized: Decimal) -> Decimal:
    """One losing round trip of 10 at a loss of 1 USDT; returns the new cumulative realized PnL."""
    h.bus.publish("position.update", position("10", str(realized)))
    h.bus.publish("position.update", position("0", str(realized - 1)))
    await until(
        lambda: (
            h.gate.state.position_qty(SYMBOL) == 0
            and h.gate.state.realized_today(STRATEGY, SYMBOL) < realized
        )
    )
    return realized - 1


async def test_n_losing_trades_halt_the_symbol_for_the_cooldown_persisted(db: Database) -> None:
    clock = ManualClock(NOON)
    h = await start_gate(db, clock=clock, max_consecutive_losses=3, loss_cooldown_minutes=120)
    try:
        h.bus.publish("position.update", position("0", "0"))
        realized = D(0)
        for _ in range(2):
            realized = await _lose(h, realized)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="after-2"))
        assert (await h.decision()).accepted  # two losses: still trading
        realized = await _lose(h, realized)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="after-3"))
        halted = await h.decision()
        assert halted.reason == "symbol_halted"
        assert halted.details["halted_until"] == str(NOON + 120 * MINUTE_MS)
        h.bus.publish(f"signal.{OTHER}", signal(signal_id="other", symbol=OTHER))
        assert (await h.decision()).accepted  # only that symbol halts
        await until(lambda: h.gate.halt_epoch == 1)
        stored = await db.run(read_halts)
        assert stored.symbols[SYMBOL].until_ms == NOON + 120 * MINUTE_MS
        assert stored.symbols[SYMBOL].strategy == STRATEGY

        clock.set(NOON + 120 * MINUTE_MS - 1)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="still"))
        assert (await h.decision()).reason == "symbol_halted"
        clock.set(NOON + 120 * MINUTE_MS)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="cooled"))
        assert (await h.decision()).accepted
    finally:
        await h.stop()


async def test_a_win_breaks_the_streak_and_cooldown_zero_halts_until_resumed(db: Database) -> None:
    h = await start_gate(db, max_consecutive_losses=2, loss_cooldown_minutes=0)
    try:
        h.bus.publish("position.update", position("0", "0"))
        realized = await _lose(h, D(0))
        h.bus.publish("position.update", position("10", str(realized)))
        h.bus.publish("position.update", position("0", str(realized + 3)))  # a win
        realized += 3
        await until(
            lambda: (
                h.gate.state.consecutive_losses(STRATEGY, SYMBOL) == 0
                and h.gate.state.position_qty(SYMBOL) == 0
            )
        )
        realized = await _lose(h, realized)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="one-loss"))
        assert (await h.decision()).accepted
        await _lose(h, realized)
        h.clock.advance(10**9)  # no cool-down ends this halt
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="halted"))
        decision = await h.decision()
        assert decision.reason == "symbol_halted" and decision.details["halted_until"] == "resume"
        await until(lambda: h.gate.halt_epoch == 1)
        assert (await db.run(read_halts)).symbols[SYMBOL].until_ms is None
    finally:
        await h.stop()


async def test_equity_and_limits_can_change_while_running(db: Database) -> None:
    h = await start_gate(db, equity=D(1000))
    try:
        h.bus.publish(f"signal.{SYMBOL}", signal(notional="1000", signal_id="a"))
        first = await h.decision()
        assert (
            first.accepted
            and first.details["capped_by"] == "allocation"
            and D(first.details["quantity"]) == 200
        )
        h.gate.set_equity(D(2000))
        h.bus.publish(f"signal.{OTHER}", signal(notional="1000", signal_id="b", symbol=OTHER))
        second = await h.decision()
        assert D(second.details["quantity"]) == 400  # 0.4 x 2000 at mark 2
        h.gate.update_limits(lambda s: limits(max_exposure_usdt=D(100)))
        h.bus.publish(f"signal.{OTHER}", signal(notional="1000", signal_id="c", symbol=OTHER))
        third = await h.decision()
        assert third.reason == "max_exposure"  # 800 already pending on ADAUSDT
        status = h.gate.status()
        assert status["accepted"] == 2 and status["rejected"] == {"max_exposure": 1}
        assert D(status["total_exposure"]) == 1200
    finally:
        await h.stop()


async def test_the_order_rate_limit_slides_with_the_clock(db: Database) -> None:
    clock = ManualClock(NOON)
    h = await start_gate(db, clock=clock, max_orders_per_minute=2)
    try:
        for n in range(2):
            h.bus.publish(f"signal.{SYMBOL}", signal(notional="10", signal_id=f"s{n}"))
            assert (await h.decision()).accepted
        h.bus.publish(f"signal.{SYMBOL}", signal(notional="10", signal_id="s2"))
        assert (await h.decision()).reason == "order_rate_limit"
        clock.advance(MINUTE_MS)
        h.bus.publish(f"signal.{SYMBOL}", signal(notional="10", signal_id="s3"))
        assert (await h.decision()).accepted
    finally:
        await h.stop()


def _order_row(
    cid: str, *, qty: str, state: str, filled: str = "0", created: int = NOON, reduce_only: bool = False
) -> OrderRow:
    return OrderRow(
        client_order_id=cid,
        symbol=SYMBOL,
        strategy=STRATEGY,
        side="BUY",
        order_type="LIMIT",
        time_in_force="GTC",
        quantity=D(qty),
        price=D(2),
        reduce_only=reduce_only,
        state=state,
        filled_qty=D(filled),
        avg_price=D(2) if D(filled) else D(0),
        cum_quote=D(filled) * 2,
        created_time=created,
        updated_time=created,
    )


def _fill_row(
    cid: str, trade_id: int, *, realized: str, time: int, fee: str = "0", fee_asset: str = "USDT"
) -> FillRow:
    return FillRow(
        symbol=SYMBOL,
        trade_id=trade_id,
        order_id=trade_id,
        client_order_id=cid,
        side="SELL",
        price=D(2),
        quantity=D(1),
        commission=D(fee),
        commission_asset=fee_asset,
        realized_pnl=D(realized),
        time=time,
    )


async def test_todays_loss_opened_quantity_and_live_orders_survive_a_restart(db: Database) -> None:
    with db.session() as session:
        session.add(_order_row("yesterday", qty="500", state="FILLED", filled="500", created=NOON - DAY_MS))
        session.add(
            _order_row("done", qty="40", state="CANCELED", filled="30", created=NOON - 60 * MINUTE_MS)
        )
        session.add(_order_row("live", qty="100", state="NEW", created=NOON - MINUTE_MS))
        session.add(_fill_row("yesterday", 1, realized="-1000", time=NOON - DAY_MS))
        session.add(_fill_row("done", 2, realized="-248", fee="1", time=NOON - 30 * MINUTE_MS))
        session.add(FundingPaymentRow(symbol=SYMBOL, asset="USDT", amount=D(-1), time=NOON - MINUTE_MS))
        session.add(PositionRow(symbol=SYMBOL, strategy=STRATEGY, updated_time=NOON - MINUTE_MS))
        session.add(FundingPaymentRow(symbol=SYMBOL, asset="USDT", amount=D(-9), time=NOON - DAY_MS))
        bnb = _fill_row("done", 3, realized="0", fee="0.5", fee_asset="BNB", time=NOON - 30 * MINUTE_MS)
        session.add(bnb)
        session.commit()
    h = await start_gate(db, max_daily_quantity=D(200))
    try:
        state = h.gate.state
        # Net: -248 gross, -1 USDT fee, -1 funding; yesterday's -1000 and -9 are not today's, and
        # the BNB fee is not counted as USDT.
        assert state.realized_today(STRATEGY, SYMBOL) == D(-250)
        assert state.opened_today(SYMBOL) == D(130)  # 30 filled of the cancelled one + 100 still live
        assert state.symbol_exposure(SYMBOL) == D(200)  # the live order, 100 at 2
        h.bus.publish(f"signal.{SYMBOL}", signal(notional="1000", signal_id="capped"))
        decision = await h.decision()
        assert decision.accepted and D(decision.details["quantity"]) == 70  # 200 - 130 left today
        h.bus.publish("order.update", order_update("live", "CANCELED", quantity="100", filled="0"))
        await until(lambda: state.opened_today(SYMBOL) == D(100))  # 130 + 70 new - 100 given back
        # Another -50.01 today would cross the 300 limit.
        h.bus.publish("position.update", position("0", "0"))
        h.bus.publish("position.update", position("10", "0"))
        h.bus.publish("position.update", position("0", "-50.01"))
        await until(lambda: state.realized_today(STRATEGY, SYMBOL) == D("-300.01"))
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="over"))
        assert (await h.decision()).reason == "daily_loss_limit"
    finally:
        await h.stop()


async def test_a_losing_streak_survives_a_restart(db: Database) -> None:
    clock = ManualClock(NOON)
    h = await start_gate(db, clock=clock, max_consecutive_losses=3, loss_cooldown_minutes=120)
    try:
        h.bus.publish("position.update", position("0", "0"))
        realized = D(0)
        for _ in range(2):
            realized = await _lose(h, realized)
        await h.gate.flush()
    finally:
        await h.stop()
    # A new daemon: the two losses are remembered, so the third one halts the symbol.
    h = await start_gate(db, clock=clock, max_consecutive_losses=3, loss_cooldown_minutes=120)
    try:
        assert h.gate.state.consecutive_losses(STRATEGY, SYMBOL) == 2
        h.bus.publish("position.update", position("0", str(realized)))  # the baseline after start
        h.bus.publish("position.update", position("10", str(realized)))
        h.bus.publish("position.update", position("0", str(realized - 1)))
        await until(lambda: h.gate.halts_issued == 1)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="after-restart"))
        assert (await h.decision()).reason == "symbol_halted"
    finally:
        await h.stop()
