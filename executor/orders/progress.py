"""One order's progress on the order path: its state plus its de-duplicated fills.

The state changes only through `core.order_state` (`move_to`, `on_status`, `correct_to`); it is
not writable from outside. Fills are accounted separately from the status, de-duplicated by trade
id, so the filled quantity is the same whatever order the reports came in; it never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.events import ExecutionReport, ExecutionType, Side, VenueOrderStatus
from core.order_state import OrderState, apply, correct, transition
from executor.venue_api import VenueOrder, VenueTrade

_ZERO = Decimal(0)


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


class OrderProgress:
    """One order's state plus its de-duplicated fills.

    `filled_qty` is the larger of what our booked fills add up to and the cumulative quantity the
    venue last reported, so it never decreases even when a report arrives before its fill.
    `state` is read-only: it changes through `move_to`, `on_status` / `on_report` /
    `on_venue_order` and `correct_to`, each checked by `core.order_state`.
    """

    __slots__ = (
        "_state",
        "booked_qty",
        "booked_quote",
        "order_id",
        "quantity",
        "trade_ids",
        "venue_avg_price",
        "venue_cum_qty",
    )

    def __init__(
        self,
        state: OrderState,
        quantity: Decimal,
        order_id: int | None = None,
        trade_ids: set[int] | None = None,
        booked_qty: Decimal = _ZERO,
        booked_quote: Decimal = _ZERO,
        venue_cum_qty: Decimal = _ZERO,
        venue_avg_price: Decimal = _ZERO,
    ) -> None:
        self._state = state
        self.quantity = quantity
        self.order_id = order_id
        self.trade_ids: set[int] = set() if trade_ids is None else trade_ids
        self.booked_qty = booked_qty
        self.booked_quote = booked_quote
        self.venue_cum_qty = venue_cum_qty
        self.venue_avg_price = venue_avg_price

    def __repr__(self) -> str:
        return (
            f"OrderProgress(state={self._state.value}, quantity={self.quantity}, order_id={self.order_id}, "
            f"booked_qty={self.booked_qty}, venue_cum_qty={self.venue_cum_qty})"
        )

    @property
    def state(self) -> OrderState:
        """The order's state; change it only through the methods below."""
        return self._state

    def move_to(self, target: OrderState) -> OrderState:
        """A deliberate local move (`core.order_state.transition`); raises InvalidTransition."""
        self._state = transition(self._state, target)
        return self._state

    def correct_to(self, venue_state: OrderState) -> bool:
        """Adopt the venue's state after it contradicted ours (`core.order_state.correct`)."""
        new = correct(self._state, venue_state)
        changed = new is not self._state
        self._state = new
        return changed

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
        new = apply(self._state, status)
        if order_id is not None and self.order_id is None:
            self.order_id = order_id
        changed = new is not self._state
        self._state = new
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
