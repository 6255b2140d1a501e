"""Each risk rule at its boundary: exactly at the limit passes, one unit over does not."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from core.events import OrderType, Side, SignalAction, TimeInForce
from executor.risk.rules import (
    ENTRY_ORDER_TYPE,
    EntryContext,
    Reason,
    SymbolHalt,
    cooldown_until,
    evaluate_close,
    evaluate_entry,
    halt_after_losses,
)
from tests.risk._fixtures import MINUTE_MS, NOON, instrument, limits, signal

D = Decimal
FUNDING = NOON + 60 * MINUTE_MS


def ctx(**overrides: object) -> EntryContext:
    """A quiet moment: flat, no exposure, mark 2, equity 10000, funding an hour away."""
    base = EntryContext(
        now_ms=NOON,
        equity=D(10000),
        mark_price=D(2),
        position_qty=D(0),
        realized_today=D(0),
        unrealized=D(0),
        symbol_exposure=D(0),
        total_exposure=D(0),
        opened_today=D(0),
        orders_in_window=0,
        next_funding_time=FUNDING,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


# --- sizing -------------------------------------------------------------------------------------


def test_entries_are_passive_gtc_limits() -> None:
    assert ENTRY_ORDER_TYPE is OrderType.LIMIT
    v = evaluate_entry(signal(price="2.005"), ctx(), limits(), instrument())
    assert v.accepted and v.order_type is OrderType.LIMIT and v.time_in_force is TimeInForce.GTC
    assert v.side is Side.BUY and v.price == D("2.00")  # a buy rounds down
    short = evaluate_entry(signal(SignalAction.OPEN_SHORT, price="2.001"), ctx(), limits(), instrument())
    assert short.side is Side.SELL and short.price == D("2.01")  # a sell rounds up
    assert not v.reduce_only


def test_quantity_is_notional_over_mark_rounded_down_to_the_step() -> None:
    v = evaluate_entry(signal(notional="100"), ctx(mark_price=D(3)), limits(), instrument())
    assert v.quantity == D("33.3")  # 33.333... rounds down, never up
    assert v.details["wanted_quantity"] == "33.3"
    assert v.details["reference_price"] == "3"


def test_without_a_mark_price_the_signal_price_sizes_the_order() -> None:
    v = evaluate_entry(signal(notional="100", price="4"), ctx(mark_price=None), limits(), instrument())
    assert v.quantity == D(25)
    assert v.details["reference_price"] == "4"


def test_min_notional_exactly_is_accepted_and_just_below_is_rejected() -> None:
    inst = instrument()
    at = evaluate_entry(signal(notional="5", price="1"), ctx(mark_price=D(1)), limits(), inst)
    assert at.accepted and at.quantity == D(5)
    below = evaluate_entry(signal(notional="4.99", price="1"), ctx(mark_price=D(1)), limits(), inst)
    assert below.reason is Reason.BELOW_MIN_NOTIONAL
    assert below.details["quantity"] == "4.9" and below.details["min_notional"] == "5"


def test_min_notional_is_checked_at_the_limit_price() -> None:
    # 2.5 at mark 1 is 5 USDT, but a buy at 0.99 would be 4.95: the venue would refuse it.
    v = evaluate_entry(signal(notional="5", price="0.99"), ctx(mark_price=D(1)), limits(), instrument())
    assert v.reason is Reason.BELOW_MIN_NOTIONAL


def test_below_min_quantity_is_rejected() -> None:
    inst = instrument(min_qty="10", min_notional="0")
    at = evaluate_entry(signal(notional="20"), ctx(), limits(), inst)
    assert at.accepted and at.quantity == D(10)
    below = evaluate_entry(signal(notional="19.9"), ctx(), limits(), inst)
    assert below.reason is Reason.BELOW_MIN_QUANTITY


def test_a_signal_without_notional_is_rejected() -> None:
    v = evaluate_entry(signal(notional=None), ctx(), limits(), instrument())
    assert v.reason is Reason.INVALID_SIGNAL


def test_the_instruments_max_quantity_caps_the_order() -> None:
    v = evaluate_entry(signal(notional="1000"), ctx(), limits(), instrument(max_qty="100"))
    assert v.accepted and v.quantity == D(100) and v.details["capped_by"] == "max_quantity"


# --- exposure: shrink to the room, reject below the minimum --------------------------------------


def test_symbol_exposure_exactly_at_the_limit_is_accepted_in_full() -> None:
    v = evaluate_entry(signal(notional="100"), ctx(symbol_exposure=D(1400)), limits(), instrument())
    assert v.accepted and v.quantity == D(50) and "capped_by" not in v.details


def test_symbol_exposure_one_step_over_shrinks_the_order_to_the_room() -> None:
    # 50.1 at mark 2 = 100.2 > room 100: shrunk to 50.0
    v = evaluate_entry(signal(notional="100.2"), ctx(symbol_exposure=D(1400)), limits(), instrument())
    assert v.accepted and v.quantity == D(50)
    assert v.details["capped_by"] == "max_exposure" and v.details["room_max_exposure"] == "100"


def test_symbol_exposure_room_below_min_notional_rejects_with_the_numbers() -> None:
    v = evaluate_entry(signal(notional="100"), ctx(symbol_exposure=D("1495.01")), limits(), instrument())
    assert v.reason is Reason.MAX_EXPOSURE
    assert v.details["symbol_exposure"] == "1495.01" and v.details["max_exposure"] == "1500"
    full = evaluate_entry(signal(notional="100"), ctx(symbol_exposure=D(1500)), limits(), instrument())
    assert full.reason is Reason.MAX_EXPOSURE and full.details["quantity"] == "0"


def test_a_per_symbol_override_is_what_counts() -> None:
    v = evaluate_entry(
        signal(notional="100"), ctx(symbol_exposure=D(950)), limits(max_exposure_usdt=D(1000)), instrument()
    )
    assert v.accepted and v.quantity == D(25) and v.details["capped_by"] == "max_exposure"


def test_allocation_caps_a_symbol_at_its_share_of_equity() -> None:
    lim = limits(allocation=D("0.4"))
    at = evaluate_entry(signal(notional="400"), ctx(equity=D(1000)), lim, instrument())
    assert at.accepted and at.quantity == D(200) and "capped_by" not in at.details
    over = evaluate_entry(signal(notional="400.2"), ctx(equity=D(1000)), lim, instrument())
    assert over.accepted and over.quantity == D(200) and over.details["capped_by"] == "allocation"
    used = evaluate_entry(
        signal(notional="100"), ctx(equity=D(1000), symbol_exposure=D(398)), lim, instrument()
    )
    assert used.reason is Reason.ALLOCATION and used.details["equity"] == "1000"


def test_total_exposure_across_symbols_caps_the_order() -> None:
    at = evaluate_entry(signal(notional="100"), ctx(total_exposure=D(3900)), limits(), instrument())
    assert at.accepted and at.quantity == D(50) and "capped_by" not in at.details
    over = evaluate_entry(signal(notional="100"), ctx(total_exposure=D("3900.2")), limits(), instrument())
    assert over.accepted and over.quantity == D("49.9") and over.details["capped_by"] == "max_total_exposure"
    full = evaluate_entry(signal(notional="100"), ctx(total_exposure=D(3998)), limits(), instrument())
    assert full.reason is Reason.MAX_TOTAL_EXPOSURE and full.details["total_exposure"] == "3998"


def test_the_daily_quantity_cap_shrinks_then_rejects() -> None:
    lim = limits(max_daily_quantity=D(60))
    at = evaluate_entry(signal(notional="100"), ctx(opened_today=D(10)), lim, instrument())
    assert at.accepted and at.quantity == D(50)
    over = evaluate_entry(signal(notional="100"), ctx(opened_today=D("10.1")), lim, instrument())
    assert over.accepted and over.quantity == D("49.9") and over.details["capped_by"] == "max_daily_quantity"
    spent = evaluate_entry(signal(notional="100"), ctx(opened_today=D(58)), lim, instrument())
    assert spent.reason is Reason.MAX_DAILY_QUANTITY  # 2 left is 4 USDT < MIN_NOTIONAL
    unlimited = evaluate_entry(signal(notional="100"), ctx(opened_today=D(10**9)), limits(), instrument())
    assert unlimited.accepted


# --- loss, funding, rate, halts ------------------------------------------------------------------


def test_daily_loss_exactly_at_the_limit_is_accepted_and_a_cent_more_is_rejected() -> None:
    assert evaluate_entry(signal(), ctx(realized_today=D(-300)), limits(), instrument()).accepted
    v = evaluate_entry(signal(), ctx(realized_today=D("-300.01")), limits(), instrument())
    assert v.reason is Reason.DAILY_LOSS_LIMIT
    assert v.details["daily_pnl"] == "-300.01" and v.details["daily_loss_limit"] == "300"


def test_unrealized_loss_counts_only_when_configured() -> None:
    c = ctx(realized_today=D(-200), unrealized=D("-100.01"))
    assert evaluate_entry(signal(), c, limits(), instrument()).accepted
    v = evaluate_entry(signal(), c, limits(daily_loss_includes_unrealized=True), instrument())
    assert v.reason is Reason.DAILY_LOSS_LIMIT and v.details["unrealized"] == "-100.01"
    at = ctx(realized_today=D(-200), unrealized=D(-100))
    assert evaluate_entry(signal(), at, limits(daily_loss_includes_unrealized=True), instrument()).accepted


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (FUNDING - 5 * MINUTE_MS - 1, Reason.ACCEPTED),
        (FUNDING - 5 * MINUTE_MS, Reason.FUNDING_WINDOW),
        (FUNDING, Reason.FUNDING_WINDOW),
        (FUNDING + 5 * MINUTE_MS, Reason.FUNDING_WINDOW),
        (FUNDING + 5 * MINUTE_MS + 1, Reason.ACCEPTED),
    ],
)
def test_the_funding_window_edges_are_inside(now: int, reason: Reason) -> None:
    # After funding the stream announces the next time; the one just passed still guards the window.
    c = ctx(
        now_ms=now,
        next_funding_time=FUNDING if now <= FUNDING else FUNDING + 8 * 60 * MINUTE_MS,
        last_funding_time=None if now <= FUNDING else FUNDING,
    )
    assert evaluate_entry(signal(), c, limits(), instrument()).reason is reason


def test_the_funding_window_uses_the_symbols_own_schedule_and_zero_disables_it() -> None:
    odd = NOON + 37 * MINUTE_MS  # a 1h-funding symbol: nothing special about 00/08/16
    c = ctx(now_ms=odd - MINUTE_MS, next_funding_time=odd)
    v = evaluate_entry(signal(), c, limits(), instrument())
    assert v.reason is Reason.FUNDING_WINDOW and v.details["ms_to_funding"] == str(MINUTE_MS)
    assert evaluate_entry(signal(), c, limits(funding_window_minutes=0), instrument()).accepted


def test_order_rate_below_the_limit_passes_at_the_limit_does_not() -> None:
    assert evaluate_entry(signal(), ctx(orders_in_window=29), limits(), instrument()).accepted
    v = evaluate_entry(signal(), ctx(orders_in_window=30), limits(), instrument())
    assert v.reason is Reason.ORDER_RATE_LIMIT and v.details["max_orders_per_minute"] == "30"


def test_the_kill_switch_rejects_every_entry() -> None:
    v = evaluate_entry(signal(), ctx(global_halt="operator"), limits(), instrument())
    assert v.reason is Reason.KILL_SWITCH and v.details["halt_reason"] == "operator"


def test_a_symbol_halt_applies_until_its_cooldown_ends() -> None:
    halt = SymbolHalt("WLDUSDT", "3 consecutive losing trades", until_ms=NOON + 1)
    assert (
        evaluate_entry(signal(), ctx(symbol_halt=halt), limits(), instrument()).reason is Reason.SYMBOL_HALTED
    )
    later = ctx(now_ms=NOON + 1, symbol_halt=halt, next_funding_time=FUNDING)
    assert evaluate_entry(signal(), later, limits(), instrument()).accepted
    by_hand = SymbolHalt("WLDUSDT", "operator")
    far = ctx(now_ms=NOON + 10**9, symbol_halt=by_hand, next_funding_time=None)
    assert evaluate_entry(signal(), far, limits(), instrument()).reason is Reason.SYMBOL_HALTED


def test_consecutive_loss_halt_after_exactly_n_and_its_cooldown() -> None:
    lim = limits(max_consecutive_losses=3, loss_cooldown_minutes=120)
    assert not halt_after_losses(2, lim)
    assert halt_after_losses(3, lim)
    assert cooldown_until(NOON, lim) == NOON + 120 * MINUTE_MS
    assert cooldown_until(NOON, limits(loss_cooldown_minutes=0)) is None


# --- exits ---------------------------------------------------------------------------------------


def test_a_close_is_market_reduce_only_for_the_whole_position_on_the_opposite_side() -> None:
    long = evaluate_close(signal(SignalAction.CLOSE), D("12.5"), D(0))
    assert long.accepted and long.side is Side.SELL and long.quantity == D("12.5")
    assert long.order_type is OrderType.MARKET and long.reduce_only and long.price is None
    short = evaluate_close(signal(SignalAction.CLOSE), D(-3), D(0))
    assert short.side is Side.BUY and short.quantity == D(3)


def test_a_close_covers_only_what_is_not_already_being_closed() -> None:
    assert evaluate_close(signal(SignalAction.CLOSE), D(10), D(4)).quantity == D(6)
    assert evaluate_close(signal(SignalAction.CLOSE), D(10), D(10)).reason is Reason.CLOSE_PENDING
    assert evaluate_close(signal(SignalAction.CLOSE), D(0), D(0)).reason is Reason.NO_POSITION


def test_entry_price_and_quantity_lie_on_the_grid_from_min_price_and_min_qty() -> None:
    # minPrice 0.015 with tick 0.01: prices 0.015 + k x 0.01; minQty 0.15 with step 0.1.
    inst = replace(instrument(), min_price=D("0.015"), min_qty=D("0.15"), market_min_qty=D("0.15"))
    buy = evaluate_entry(signal(price="2.009", notional="100"), ctx(mark_price=D(3)), limits(), inst)
    assert buy.price == D("2.005")  # a buy rounds down, on the venue's grid
    assert buy.quantity == D("33.25")  # 33.333... rounds down to 0.15 + 331 x 0.1
    sell = evaluate_entry(
        signal(SignalAction.OPEN_SHORT, price="2.001", notional="100"), ctx(mark_price=D(3)), limits(), inst
    )
    assert sell.price == D("2.005")  # a sell rounds up
