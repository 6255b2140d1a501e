"""The order state machine and per-order fill accounting.

States (`OrderState`):

    PENDING_NEW ──▶ SENT ──▶ NEW ──▶ PARTIALLY_FILLED ──▶ FILLED
         │           │  ▲      │            │
         │           ▼  │      ▼            ▼
         │         UNKNOWN   PENDING_CANCEL ──▶ CANCELED / EXPIRED
         └──────────────────────────────────▶ CANCELED / EXPIRED / REJECTED

- PENDING_NEW: written to the database, not (known to be) sent yet.
- SENT: a send was attempted; the venue has not confirmed it (in flight, or a retryable failure).
- UNKNOWN: a send's outcome is unknown (timeout, 5xx): resolved by querying the client id.
- NEW / PARTIALLY_FILLED: open on the venue. PENDING_CANCEL: a cancel is on its way.
- FILLED, CANCELED, EXPIRED, REJECTED are terminal: nothing leaves them.

Venue events arrive duplicated and out of order (user stream and REST answers race each other), so
`apply` never moves an order backwards: a late NEW after PARTIALLY_FILLED, or any non-terminal
status after a terminal one, is stale and ignored. Only a move the venue can never make (FILLED then
CANCELED, NEW then REJECTED) raises InvalidTransition: that means our view of the order is wrong.

Fills are accounted separately from the status, de-duplicated by trade id, so the filled quantity
is the same whatever order the reports came in; it never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from executor.venue_models import VenueOrder, VenueTrade
from trader.errors import InvalidTransition
from trader.events import ExecutionReport, ExecutionType, Side, VenueOrderStatus

_ZERO = Decimal(0)


class OrderState(StrEnum):
    """The local state of one order (the `state` column of `orders`)."""

    PENDING_NEW = "PENDING_NEW"
    SENT = "SENT"
    UNKNOWN = "UNKNOWN"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_unconfirmed(self) -> bool:
        """Written locally but not (yet) confirmed by the venue: resolve by client id."""
        return self in UNCONFIRMED_STATES


TERMINAL_STATES = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED, OrderState.REJECTED})
UNCONFIRMED_STATES = frozenset({OrderState.PENDING_NEW, OrderState.SENT, OrderState.UNKNOWN})
OPEN_STATES = frozenset({OrderState.NEW, OrderState.PARTIALLY_FILLED, OrderState.PENDING_CANCEL})
# Every state that reconciliation must check against the venue.
LIVE_STATES = UNCONFIRMED_STATES | OPEN_STATES

_S = OrderState
_ENDS = frozenset({_S.FILLED, _S.CANCELED, _S.EXPIRED})
_VENUE_STATES = frozenset({_S.NEW, _S.PARTIALLY_FILLED}) | _ENDS | {_S.REJECTED}

# The explicit transition table: state -> states it may move to. Same-state moves are always
# allowed (duplicates). Terminal states have no way out.
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    # PENDING_NEW -> CANCELED: never reached the venue (reconcile); -> REJECTED: refused locally
    # or by the venue. Venue states directly: the user stream can beat the REST response.
    _S.PENDING_NEW: frozenset({_S.SENT, _S.UNKNOWN}) | _VENUE_STATES,
    _S.SENT: frozenset({_S.UNKNOWN}) | _VENUE_STATES,
    # UNKNOWN -> SENT: the query said the venue never saw it, so the same client id is resent.
    _S.UNKNOWN: frozenset({_S.SENT}) | _VENUE_STATES,
    _S.NEW: frozenset({_S.PARTIALLY_FILLED, _S.PENDING_CANCEL}) | _ENDS,
    _S.PARTIALLY_FILLED: frozenset({_S.PENDING_CANCEL}) | _ENDS,
    # PENDING_CANCEL -> NEW / PARTIALLY_FILLED: the cancel request failed and the order is open.
    _S.PENDING_CANCEL: frozenset({_S.NEW, _S.PARTIALLY_FILLED}) | _ENDS,
    _S.FILLED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.REJECTED: frozenset(),
}

# How far along an order is; a venue report never moves an order to a lower rank.
_RANK: dict[OrderState, int] = {
    _S.PENDING_NEW: 0,
    _S.SENT: 1,
    _S.UNKNOWN: 1,
    _S.NEW: 2,
    _S.PARTIALLY_FILLED: 3,
    _S.PENDING_CANCEL: 4,
    _S.FILLED: 5,
    _S.CANCELED: 5,
    _S.EXPIRED: 5,
    _S.REJECTED: 5,
}

_FROM_VENUE: dict[VenueOrderStatus, OrderState] = {
    VenueOrderStatus.NEW: _S.NEW,
    VenueOrderStatus.PARTIALLY_FILLED: _S.PARTIALLY_FILLED,
    VenueOrderStatus.FILLED: _S.FILLED,
    VenueOrderStatus.CANCELED: _S.CANCELED,
    VenueOrderStatus.REJECTED: _S.REJECTED,
    VenueOrderStatus.EXPIRED: _S.EXPIRED,
    VenueOrderStatus.EXPIRED_IN_MATCH: _S.EXPIRED,
}


def state_of(venue_status: VenueOrderStatus) -> OrderState:
    """The local state that a venue status stands for."""
    return _FROM_VENUE[venue_status]


def transition(state: OrderState, target: OrderState) -> OrderState:
    """A deliberate local move (send, unknown outcome, cancel request); raises if not allowed."""
    if target is state or target in TRANSITIONS[state]:
        return target
    raise InvalidTransition(f"{state} -> {target}")


def apply(state: OrderState, venue_status: VenueOrderStatus) -> OrderState:
    """The state after the venue reported `venue_status`, tolerant of duplicates and stale events.

    Returns `state` unchanged for a duplicate or a late (lower-ranked) status, and for any
    non-terminal status after a terminal state. Raises InvalidTransition when the venue reports a
    move it can never make (a different terminal state, or REJECTED for an accepted order).
    """
    target = _FROM_VENUE[venue_status]
    if target is state:
        return state
    if state.is_terminal:
        if target.is_terminal:
            raise InvalidTransition(f"{state} -> {target}: an order ends only once")
        return state
    if not target.is_terminal and _RANK[target] <= _RANK[state]:
        return state
    if target not in TRANSITIONS[state]:
        raise InvalidTransition(f"{state} -> {target}")
    return target


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders; unique on (symbol, trade_id)."""

    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str
    side: Side
    quantity: Decimal
    price: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    is_maker: bool
    time: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.symbol, self.trade_id)

    @classmethod
    def from_report(cls, report: ExecutionReport) -> Fill | None:
        """The fill carried by a TRADE report (None for any other report)."""
        if report.execution_type is not ExecutionType.TRADE or report.trade_id is None:
            return None
        if report.last_filled_qty <= _ZERO:
            return None
        return cls(
            symbol=report.symbol,
            trade_id=report.trade_id,
            order_id=report.order_id,
            client_order_id=report.client_order_id,
            side=report.side,
            quantity=report.last_filled_qty,
            price=report.last_filled_price,
            commission=report.commission,
            commission_asset=report.commission_asset,
            realized_pnl=report.realized_pnl,
            is_maker=report.is_maker,
            time=report.transaction_time,
        )

    @classmethod
    def from_trade(cls, trade: VenueTrade, client_order_id: str) -> Fill:
        """A fill back-filled over REST (userTrades), attributed to our client id."""
        return cls(
            symbol=trade.symbol,
            trade_id=trade.trade_id,
            order_id=trade.order_id,
            client_order_id=client_order_id,
            side=trade.side,
            quantity=trade.quantity,
            price=trade.price,
            commission=trade.commission,
            commission_asset=trade.commission_asset,
            realized_pnl=trade.realized_pnl,
            is_maker=trade.is_maker,
            time=trade.time,
        )


@dataclass(slots=True)
class OrderProgress:
    """One order's state plus its de-duplicated fills.

    `filled_qty` is the larger of what our booked fills add up to and the cumulative quantity the
    venue last reported, so it never decreases even when a report arrives before its fill.
    """

    state: OrderState
    quantity: Decimal
    order_id: int | None = None
    trade_ids: set[int] = field(default_factory=set)
    booked_qty: Decimal = _ZERO
    booked_quote: Decimal = _ZERO
    venue_cum_qty: Decimal = _ZERO
    venue_avg_price: Decimal = _ZERO

    @property
    def filled_qty(self) -> Decimal:
        return max(self.booked_qty, self.venue_cum_qty)

    @property
    def avg_price(self) -> Decimal:
        if self.venue_cum_qty > self.booked_qty:
            return self.venue_avg_price
        if self.booked_qty == _ZERO:
            return _ZERO
        return self.booked_quote / self.booked_qty

    @property
    def cum_quote(self) -> Decimal:
        if self.venue_cum_qty > self.booked_qty:
            return self.venue_cum_qty * self.venue_avg_price
        return self.booked_quote

    def add_fill(self, fill: Fill) -> bool:
        """Book `fill` unless its trade id was seen; True when it was new."""
        if fill.trade_id in self.trade_ids:
            return False
        self.trade_ids.add(fill.trade_id)
        self.booked_qty += fill.quantity
        self.booked_quote += fill.quantity * fill.price
        return True

    def _venue_progress(self, cum_qty: Decimal, avg_price: Decimal) -> None:
        if cum_qty > self.venue_cum_qty:
            self.venue_cum_qty = cum_qty
            self.venue_avg_price = avg_price

    def on_status(self, status: VenueOrderStatus, order_id: int | None = None) -> bool:
        """Apply a venue status; True when the state changed."""
        new = apply(self.state, status)
        if order_id is not None and self.order_id is None:
            self.order_id = order_id
        changed = new is not self.state
        self.state = new
        return changed

    def on_report(self, report: ExecutionReport) -> tuple[bool, Fill | None]:
        """Apply an ORDER_TRADE_UPDATE: (state changed, the new fill or None)."""
        changed = self.on_status(report.status, report.order_id)
        self._venue_progress(report.cum_filled_qty, report.avg_price)
        fill = Fill.from_report(report)
        if fill is not None and not self.add_fill(fill):
            fill = None
        return changed, fill

    def on_venue_order(self, order: VenueOrder) -> bool:
        """Apply a REST view of the order (place/query/cancel answers); True when state changed."""
        changed = self.on_status(order.status, order.order_id)
        self._venue_progress(order.executed_qty, order.avg_price)
        return changed
