"""The order state machine: explicit transitions, harmless duplicates and reordering, exact fills."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidTransition
from core.events import ExecutionReport, ExecutionType, Side, VenueOrderStatus
from core.order_state import (
    TERMINAL_STATES,
    TRANSITIONS,
    OrderState,
    apply,
    transition,
)
from executor.orders.progress import OrderProgress

D = Decimal
S = OrderState
ZERO = D(0)
ONE = D(1)
V = VenueOrderStatus


def report(
    status: VenueOrderStatus,
    execution: ExecutionType,
    *,
    cum: Decimal = ZERO,
    last_qty: Decimal = ZERO,
    last_price: Decimal = ZERO,
    trade_id: int | None = None,
    avg: Decimal = ZERO,
    qty: Decimal = ONE,
) -> ExecutionReport:
    return ExecutionReport(
        symbol="BTCUSDT",
        client_order_id="c1",
        order_id=77,
        side=Side.BUY,
        order_type="LIMIT",
        time_in_force="GTC",
        orig_qty=qty,
        price=D("100"),
        avg_price=avg,
        status=status,
        execution_type=execution,
        cum_filled_qty=cum,
        last_filled_qty=last_qty,
        last_filled_price=last_price,
        commission=D("0.01"),
        commission_asset="USDT",
        trade_id=trade_id,
        realized_pnl=D(0),
        reduce_only=False,
        is_maker=True,
        transaction_time=1,
        event_time=1,
    )


# --- the table ----------------------------------------------------------------------------------


def test_happy_path_is_allowed() -> None:
    state = S.PENDING_NEW
    for target in (S.SENT, S.NEW, S.PARTIALLY_FILLED, S.FILLED):
        state = transition(state, target)
    assert state is S.FILLED


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("target", list(OrderState))
def test_terminal_states_never_leave(terminal: OrderState, target: OrderState) -> None:
    if target is terminal:
        assert transition(terminal, target) is terminal
    else:
        with pytest.raises(InvalidTransition):
            transition(terminal, target)


def test_unknown_outcome_can_be_resent_only_through_sent() -> None:
    assert transition(S.UNKNOWN, S.SENT) is S.SENT
    with pytest.raises(InvalidTransition):
        transition(S.NEW, S.SENT)  # an accepted order is never sent again
    with pytest.raises(InvalidTransition):
        transition(S.NEW, S.UNKNOWN)


def test_never_reached_the_venue_is_a_cancel_of_a_pending_order() -> None:
    assert transition(S.PENDING_NEW, S.CANCELED) is S.CANCELED
    assert transition(S.UNKNOWN, S.CANCELED) is S.CANCELED


def test_a_failed_cancel_returns_to_the_open_state() -> None:
    assert transition(S.PENDING_CANCEL, S.PARTIALLY_FILLED) is S.PARTIALLY_FILLED
    assert transition(S.PENDING_CANCEL, S.NEW) is S.NEW


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(OrderState)


# --- venue events -------------------------------------------------------------------------------


def test_late_new_after_filled_is_ignored() -> None:
    assert apply(S.FILLED, V.NEW) is S.FILLED
    assert apply(S.FILLED, V.PARTIALLY_FILLED) is S.FILLED
    assert apply(S.CANCELED, V.NEW) is S.CANCELED


def test_late_new_after_partial_fill_is_ignored() -> None:
    assert apply(S.PARTIALLY_FILLED, V.NEW) is S.PARTIALLY_FILLED


def test_pending_cancel_is_kept_by_open_reports_and_left_by_terminal_ones() -> None:
    assert apply(S.PENDING_CANCEL, V.PARTIALLY_FILLED) is S.PENDING_CANCEL
    assert apply(S.PENDING_CANCEL, V.NEW) is S.PENDING_CANCEL
    assert apply(S.PENDING_CANCEL, V.CANCELED) is S.CANCELED
    assert apply(S.PENDING_CANCEL, V.FILLED) is S.FILLED


def test_user_stream_may_beat_the_rest_answer() -> None:
    assert apply(S.PENDING_NEW, V.FILLED) is S.FILLED
    assert apply(S.UNKNOWN, V.NEW) is S.NEW


def test_expired_in_match_is_expired() -> None:
    assert apply(S.NEW, V.EXPIRED_IN_MATCH) is S.EXPIRED


def test_contradicting_terminal_events_raise() -> None:
    with pytest.raises(InvalidTransition):
        apply(S.FILLED, V.CANCELED)
    with pytest.raises(InvalidTransition):
        apply(S.CANCELED, V.FILLED)


def test_rejection_of_an_accepted_order_raises() -> None:
    with pytest.raises(InvalidTransition):
        apply(S.NEW, V.REJECTED)


# --- fills --------------------------------------------------------------------------------------


def test_duplicate_trade_is_booked_once_and_cum_never_decreases() -> None:
    p = OrderProgress(S.SENT, D("1"))
    trade = report(
        V.PARTIALLY_FILLED,
        ExecutionType.TRADE,
        cum=D("0.4"),
        last_qty=D("0.4"),
        last_price=D("100"),
        trade_id=5,
        avg=D("100"),
    )
    changed, fill = p.on_report(trade)
    assert changed and fill is not None and fill.quantity == D("0.4")
    changed, fill = p.on_report(trade)
    assert not changed and fill is None
    assert p.filled_qty == D("0.4")
    # a stale report with a smaller cumulative quantity does not lower it
    p.on_report(report(V.NEW, ExecutionType.NEW, cum=D("0")))
    assert p.filled_qty == D("0.4") and p.state is S.PARTIALLY_FILLED
    assert p.order_id == 77


def test_venue_cum_ahead_of_booked_fills_counts_until_fills_arrive() -> None:
    p = OrderProgress(S.NEW, D("1"))
    p.on_report(report(V.FILLED, ExecutionType.AMENDMENT, cum=D("1"), avg=D("101")))
    assert p.filled_qty == D("1") and p.avg_price == D("101")
    p.on_report(
        report(
            V.FILLED,
            ExecutionType.TRADE,
            cum=D("1"),
            last_qty=D("1"),
            last_price=D("101"),
            trade_id=9,
            avg=D("101"),
        )
    )
    assert p.filled_qty == D("1") and p.booked_qty == D("1")


# --- property: any permutation / duplication of a valid sequence ends the same ------------------


@st.composite
def lifecycles(draw: st.DrawFn) -> tuple[list[ExecutionReport], OrderState, Decimal, Decimal]:
    """A valid venue event sequence for one order, its final state, filled qty and quote."""
    total_units = draw(st.integers(min_value=1, max_value=50))
    qty = D(total_units) / 1000
    sizes = draw(st.lists(st.integers(min_value=1, max_value=10), max_size=6))
    events = [report(V.NEW, ExecutionType.NEW, qty=qty)]
    cum = D(0)
    quote = D(0)
    final = S.NEW
    for i, units in enumerate(sizes):
        size = min(D(units) / 1000, qty - cum)
        if size <= 0:
            break
        price = D(100) + D(draw(st.integers(min_value=-50, max_value=50))) / 10
        cum += size
        quote += size * price
        status = V.FILLED if cum == qty else V.PARTIALLY_FILLED
        final = S.FILLED if cum == qty else S.PARTIALLY_FILLED
        events.append(
            report(
                status,
                ExecutionType.TRADE,
                cum=cum,
                last_qty=size,
                last_price=price,
                trade_id=1000 + i,
                avg=quote / cum,
                qty=qty,
            )
        )
    if final is not S.FILLED:
        end = draw(st.sampled_from([None, V.CANCELED, V.EXPIRED]))
        if end is not None:
            x = ExecutionType.CANCELED if end is V.CANCELED else ExecutionType.EXPIRED
            events.append(report(end, x, cum=cum, avg=quote / cum if cum else D(0), qty=qty))
            final = S.CANCELED if end is V.CANCELED else S.EXPIRED
    return events, final, cum, quote


@given(lifecycles(), st.data())
def test_any_permutation_and_duplication_reaches_the_same_end(
    life: tuple[list[ExecutionReport], OrderState, Decimal, Decimal], data: st.DataObject
) -> None:
    events, final, cum, quote = life
    dups = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    shuffled = data.draw(st.permutations(events + dups))
    start = data.draw(st.sampled_from([S.PENDING_NEW, S.SENT, S.UNKNOWN]))
    progress = OrderProgress(start, events[0].orig_qty)
    booked = D(0)
    for event in shuffled:
        _, fill = progress.on_report(event)
        if fill is not None:
            booked += fill.quantity
    assert progress.state is final
    assert progress.filled_qty == cum
    assert booked == cum  # every trade booked exactly once
    if cum:
        assert progress.avg_price == quote / cum
