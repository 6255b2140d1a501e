"""RiskState: daily rollover, round trips and losing streaks, the order window, exposure, funding."""

from __future__ import annotations

from decimal import Decimal

from core.events import OrderRequest, OrderType, Side, TimeInForce
from executor.risk.state import RiskState
from tests.risk._fixtures import (
    DAY0,
    DAY_MS,
    MINUTE_MS,
    NOON,
    OTHER,
    STRATEGY,
    SYMBOL,
    mark,
    order_update,
    position,
)
from utils.clock import ManualClock

D = Decimal


def entry(cid: str, qty: str, *, price: str = "2", symbol: str = SYMBOL) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        strategy=STRATEGY,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=D(qty),
        created_time=NOON,
        price=D(price),
        time_in_force=TimeInForce.GTC,
    )


def close(cid: str, qty: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=SYMBOL,
        strategy=STRATEGY,
        side=Side.SELL,
        order_type=OrderType.MARKET,
        quantity=D(qty),
        created_time=NOON,
        reduce_only=True,
    )


def test_realized_pnl_is_the_change_of_the_cumulative_and_the_first_update_is_a_baseline() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.on_position(position("0", "-500"))  # yesterday's losses: not today's news
    assert state.realized_today(STRATEGY, SYMBOL) == 0
    state.on_position(position("10", "-500"))
    state.on_position(position("0", "-520"))
    assert state.realized_today(STRATEGY, SYMBOL) == D(-20)
    assert state.realized_today("other", SYMBOL) == 0


def test_daily_numbers_reset_at_midnight_utc_of_the_clock() -> None:
    clock = ManualClock(DAY0 + DAY_MS - 2)
    state = RiskState(clock, equity=D(1000))
    state.on_position(position("0", "0"))
    state.on_position(position("10", "0"))
    state.on_position(position("0", "-350"))
    state.record_order(entry("a", "7"))
    clock.advance(1)  # 23:59:59.999
    assert state.realized_today(STRATEGY, SYMBOL) == D(-350)
    assert state.opened_today(SYMBOL) == D(7)
    clock.advance(1)  # 00:00:00.000
    assert state.realized_today(STRATEGY, SYMBOL) == 0
    assert state.opened_today(SYMBOL) == 0
    ctx = state.entry_context(STRATEGY, SYMBOL)
    assert ctx.realized_today == 0 and ctx.opened_today == 0


def test_a_losing_streak_counts_round_trips_and_a_win_resets_it() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.on_position(position("0", "0"))
    realized = D(0)
    for n in (1, 2):
        assert state.on_position(position("10", str(realized))) is None
        state.on_position(position("4", str(realized - 1)))  # partial close: no trip yet
        realized -= 3
        trip = state.on_position(position("0", str(realized)))
        assert trip is not None and trip.lost and trip.pnl == D(-3) and trip.consecutive_losses == n
    state.on_position(position("10", str(realized)))
    win = state.on_position(position("0", str(realized + 5)))
    assert win is not None and not win.lost and win.consecutive_losses == 0
    assert state.consecutive_losses(STRATEGY, SYMBOL) == 0


def test_a_flip_through_zero_ends_the_trip_and_starts_the_next() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.on_position(position("0", "0"))
    state.on_position(position("10", "0"))
    flipped = state.on_position(position("-5", "-2"))
    assert flipped is not None and flipped.pnl == D(-2) and flipped.consecutive_losses == 1
    second = state.on_position(position("0", "-3"))
    assert second is not None and second.pnl == D(-1) and second.consecutive_losses == 2


def test_a_break_even_trip_is_not_a_loss() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.on_position(position("0", "0"))
    state.on_position(position("10", "0"))
    state.on_position(position("0", "-1"))
    state.on_position(position("10", "-1"))
    trip = state.on_position(position("0", "-1"))
    assert trip is not None and not trip.lost and trip.consecutive_losses == 0


def test_a_trip_that_wins_before_fees_but_loses_after_them_is_a_loss() -> None:
    # Issue 13.2: +0.40 gross, 1.40 fees (0.70 to open, 0.70 to close): -1.00 net, a loss.
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.on_position(position("0", "0"))
    assert state.on_position(position("10", "0", fees="0.70")) is None
    trip = state.on_position(position("0", "0.40", fees="1.40"))
    assert trip is not None and trip.pnl == D("-1.00") and trip.lost and trip.consecutive_losses == 1
    assert state.realized_today(STRATEGY, SYMBOL) == D("-1.00")


def test_funding_counts_in_the_trip_and_the_day() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.on_position(position("0", "0"))
    state.on_position(position("10", "0", fees="0.10"))
    state.on_position(position("10", "0", fees="0.10", funding="-2"))  # funding paid while open
    assert state.realized_today(STRATEGY, SYMBOL) == D("-2.10")
    trip = state.on_position(position("0", "1.50", fees="0.20", funding="-2"))
    assert trip is not None and trip.pnl == D("-0.70") and trip.lost
    assert state.realized_today(STRATEGY, SYMBOL) == D("-0.70")


def test_the_order_window_slides() -> None:
    clock = ManualClock(NOON)
    state = RiskState(clock, equity=D(1000))
    state.record_order(entry("a", "1"))
    clock.advance(30_000)
    state.record_order(entry("b", "1"))
    assert state.orders_in_window() == 2
    clock.advance(29_999)  # a is 59.999 s old
    assert state.orders_in_window() == 2
    clock.advance(1)  # a is exactly 60 s old: out
    assert state.orders_in_window() == 1
    clock.advance(30_000)
    assert state.orders_in_window() == 0


def test_exposure_is_position_at_mark_plus_unfilled_entries() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.on_position(position("0", "0"))
    state.record_order(entry("a", "100", price="2"))
    assert state.symbol_exposure(SYMBOL) == D(200)  # no mark yet: the order's price
    state.on_mark(mark("2.5"))
    assert state.symbol_exposure(SYMBOL) == D(250)
    state.on_order_update(order_update("a", "PARTIALLY_FILLED", quantity="100", filled="40"))
    state.on_position(position("40", "0"))
    assert state.symbol_exposure(SYMBOL) == D("2.5") * 100
    state.on_order_update(order_update("a", "FILLED", quantity="100", filled="100"))
    state.on_position(position("100", "0"))
    assert state.symbol_exposure(SYMBOL) == D(250)
    state.on_position(position("-30", "0", symbol=OTHER))
    state.on_mark(mark("1", symbol=OTHER))
    assert state.total_exposure() == D(280)
    assert state.pending_count() == 0


def test_the_unfilled_part_of_a_cancelled_entry_is_given_back_to_the_day() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.record_order(entry("a", "10"))
    state.on_order_update(order_update("a", "PARTIALLY_FILLED", quantity="10", filled="4"))
    assert state.opened_today(SYMBOL) == D(10)
    state.on_order_update(order_update("a", "CANCELED", quantity="10", filled="4"))
    assert state.opened_today(SYMBOL) == D(4)
    assert state.symbol_exposure(SYMBOL) == 0  # no position reported, nothing pending


def test_closing_orders_in_flight_are_tracked_until_terminal() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.record_order(close("c", "10"))
    assert state.closing_qty(SYMBOL) == D(10)
    assert state.opened_today(SYMBOL) == 0  # an exit opens nothing
    state.on_order_update(order_update("c", "PARTIALLY_FILLED", quantity="10", filled="6", side=Side.SELL))
    assert state.closing_qty(SYMBOL) == D(4)
    state.on_order_update(order_update("c", "FILLED", quantity="10", filled="10", side=Side.SELL))
    assert state.closing_qty(SYMBOL) == 0


def test_the_funding_time_just_passed_is_remembered() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    first = NOON + 5 * MINUTE_MS
    state.on_mark(mark("2", next_funding=first))
    assert state.funding_times(SYMBOL) == (first, None)
    state.on_mark(mark("2", next_funding=first + 4 * 60 * MINUTE_MS))
    assert state.funding_times(SYMBOL) == (first + 4 * 60 * MINUTE_MS, first)
    state.on_mark(mark("2", next_funding=first))  # a stale message does not move it back
    assert state.funding_times(SYMBOL) == (first + 4 * 60 * MINUTE_MS, first)


def test_unrealized_pnl_at_the_mark() -> None:
    state = RiskState(ManualClock(NOON), equity=D(1000))
    state.on_position(position("-10", "0", entry="2"))
    state.on_mark(mark("2.3"))
    assert state.unrealized(STRATEGY, SYMBOL) == D(-3)
