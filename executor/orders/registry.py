"""The orders the order path knows: live ones, recently finished ones (for late fills), and ids.

`TrackedOrder` is one order as the order manager and reconciliation hold it: the request, its
progress (state and fills, `executor/orders/progress.py`) and the bookkeeping around sending it.
It is rebuilt from a stored row (`from_stored`) and written back as a snapshot (`snapshot`) by
both, so the two never disagree on what a row means.

`OrderRegistry` indexes them by client id and by the venue's order id. Terminal orders move to a
bounded most-recent-first cache, so a fill reported after the order ended still finds its order.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from core.events import OrderRequest, OrderUpdate
from core.order_state import OrderState
from executor.orders.progress import Fill, OrderProgress

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported when an order is first written or read
    from executor.orders.store import OrderSnapshot, StoredOrder

_ZERO = Decimal(0)
FINISHED_KEPT = 2000  # terminal orders kept in memory for late events


@dataclass(slots=True)
class TrackedOrder:
    """One order on the order path (see the module docstring)."""

    request: OrderRequest
    progress: OrderProgress
    created_time: int
    expire_time: int | None
    reason: str = ""
    send_attempts: int = 0
    last_error: str = ""
    busy: bool = False  # a send or cancel is in progress: the poll leaves it alone
    shortfall_since: float | None = None  # network-clock time the venue first showed unbooked fills
    last_sent_at: float = 0.0  # network-clock time of the last send attempt
    updated_time: int = 0  # market-clock time the row was last written (reconciliation at start-up)

    @property
    def cid(self) -> str:
        return self.request.client_order_id

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def state(self) -> OrderState:
        return self.progress.state

    @classmethod
    def from_stored(cls, stored: StoredOrder) -> TrackedOrder:
        """The order as a stored row describes it, with the fills already booked against it."""
        progress = OrderProgress(
            state=stored.state,
            quantity=stored.request.quantity,
            order_id=stored.venue_order_id,
            trade_ids=set(stored.trade_ids),
            booked_qty=stored.booked_qty,
            booked_quote=stored.booked_quote,
            venue_cum_qty=stored.filled_qty,
            venue_avg_price=stored.avg_price,
        )
        return cls(
            request=stored.request,
            progress=progress,
            created_time=stored.created_time,
            expire_time=stored.expire_time,
            reason=stored.reason,
            send_attempts=stored.send_attempts,
            last_error=stored.last_error,
            updated_time=stored.updated_time,
        )

    def snapshot(self, now_ms: int) -> OrderSnapshot:
        """The row's mutable columns as they stand now.

        A terminal state is stored only together with every fill the venue reported: while the
        booked fills fall short of the venue's executed quantity, the row says PARTIALLY_FILLED,
        so a crash before the fills are booked leaves an order that reconciliation picks up and
        completes (the state and its last fill are written in one transaction by `book_fill`).
        """
        from executor.orders.store import OrderSnapshot

        p = self.progress
        state = p.state
        if state.is_terminal and p.booked_qty < p.venue_cum_qty:
            state = OrderState.PARTIALLY_FILLED
        return OrderSnapshot(
            client_order_id=self.cid,
            state=state,
            venue_order_id=p.order_id,
            filled_qty=p.filled_qty,
            avg_price=p.avg_price,
            cum_quote=p.cum_quote,
            reason=self.reason,
            send_attempts=self.send_attempts,
            last_error=self.last_error,
            updated_time=now_ms,
        )

    def note_shortfall(self, now_s: float) -> None:
        """Remember since when the venue reports more filled quantity than our booked fills."""
        p = self.progress
        if p.venue_cum_qty > p.booked_qty:
            if self.shortfall_since is None:
                self.shortfall_since = now_s
        else:
            self.shortfall_since = None

    def update(self, event_time: int, *, fill: Fill | None = None, realized: Decimal = _ZERO) -> OrderUpdate:
        """The `order.update` event for the order as it stands (and the fill that changed it)."""
        p = self.progress
        r = self.request
        return OrderUpdate(
            client_order_id=r.client_order_id,
            symbol=r.symbol,
            strategy=r.strategy,
            side=r.side,
            state=p.state.value,
            quantity=r.quantity,
            filled_qty=p.filled_qty,
            avg_price=p.avg_price,
            event_time=fill.time if fill else event_time,
            order_id=p.order_id,
            reduce_only=r.reduce_only,
            last_fill_qty=fill.quantity if fill else None,
            last_fill_price=fill.price if fill else None,
            trade_id=fill.trade_id if fill else None,
            commission=fill.commission if fill else _ZERO,
            realized_pnl=realized,
            reason=self.reason,
        )


class OrderRegistry:
    """Live and recently finished orders by client id and venue order id; requests in hand."""

    def __init__(self, *, finished_kept: int = FINISHED_KEPT) -> None:
        self.live: dict[str, TrackedOrder] = {}  # not terminal
        self.finished: OrderedDict[str, TrackedOrder] = OrderedDict()
        self.claimed: set[str] = set()  # client ids whose request is being handled
        self._by_venue_id: dict[int, TrackedOrder] = {}
        self._finished_kept = finished_kept

    def get(self, cid: str) -> TrackedOrder | None:
        """The order with this client id, live or recently finished (memory only)."""
        return self.live.get(cid) or self.finished.get(cid)

    def knows(self, cid: str) -> bool:
        """True when the client id is in hand, live or recently finished."""
        return cid in self.claimed or cid in self.live or cid in self.finished

    def by_venue_id(self, order_id: int) -> TrackedOrder | None:
        """The order the venue knows as `order_id`."""
        return self._by_venue_id.get(order_id)

    def register(self, order: TrackedOrder) -> None:
        """Track a live order."""
        self.live[order.cid] = order
        self.note_venue_id(order)

    def note_venue_id(self, order: TrackedOrder) -> None:
        """Index the order by the venue's id once it is known."""
        if order.progress.order_id is not None:
            self._by_venue_id[order.progress.order_id] = order

    def unregister(self, order: TrackedOrder) -> None:
        """Forget a live order that never reached the database (so was never sent)."""
        self.live.pop(order.cid, None)

    def remember_finished(self, order: TrackedOrder) -> None:
        """Keep a terminal order for late events, dropping the oldest beyond the bound."""
        self.finished[order.cid] = order
        self.finished.move_to_end(order.cid)
        self.note_venue_id(order)  # a late fill of a finished order must still find it
        while len(self.finished) > self._finished_kept:
            _, old = self.finished.popitem(last=False)
            if old.progress.order_id is not None and self._by_venue_id.get(old.progress.order_id) is old:
                del self._by_venue_id[old.progress.order_id]

    def retire_if_done(self, order: TrackedOrder) -> None:
        """Move an order that reached a terminal state from the live set to the finished cache."""
        if order.state.is_terminal and self.live.get(order.cid) is order:
            del self.live[order.cid]
            self.remember_finished(order)

    def open_on(self, symbol: str) -> int:
        """How many live orders `symbol` has."""
        return sum(1 for o in self.live.values() if o.symbol == symbol)

    def by_state(self) -> dict[str, int]:
        """Live orders counted by state name."""
        counts: dict[str, int] = {}
        for order in self.live.values():
            counts[order.state.value] = counts.get(order.state.value, 0) + 1
        return counts
