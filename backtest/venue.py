"""The order path of a backtest: the live order code, called directly on the matching engine.

What the order manager does for one request, without the bus, the database and the network
(`executor/orders/intake.py`, `sender.py`, `booking.py`, `ttl.py`): validate against the exchange
filters (`executor/orders/filters.py`), place on the simulator's `MatchingEngine`, turn its user
events into the execution reports the user stream would carry (`executor/in_process/reports.py`),
drive each order's state with `OrderProgress`, book every fill into the position with
`executor/orders/positions.py`, and answer with the `OrderUpdate` / `PositionUpdate` events the
order manager publishes. Entries that rest longer than `order_ttl_seconds` are cancelled at their
deadline, as the TTL keeper does; a tripped volatility guard cancels the symbol's resting entries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.errors import InvalidTransition, OrderValidationError
from core.events import ExecutionReport, OrderRequest, OrderType, OrderUpdate, PositionUpdate
from core.instruments import Instrument
from core.order_state import OrderState
from executor.in_process.reports import execution_report
from executor.orders.filters import validate_order
from executor.orders.positions import Position, apply_fill, apply_funding
from executor.orders.progress import Fill, OrderProgress
from executor.orders.registry import TrackedOrder
from simulator.engine import MatchingEngine
from simulator.engine_types import AccountEvent, NewOrder, OrderEvent
from simulator.errors import SimError

_ZERO = Decimal(0)

VenueEvent = OrderUpdate | PositionUpdate


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """A funding fee booked to a position (amount < 0: paid)."""

    symbol: str
    amount: Decimal
    time: int


class BacktestVenue:
    """Orders, fills and positions of one backtest (see the module docstring)."""

    def __init__(
        self, engine: MatchingEngine, instruments: Mapping[str, Instrument], *, order_ttl_ms: int
    ) -> None:
        self.engine = engine
        self.instruments = instruments
        self.ttl_ms = order_ttl_ms
        self.orders: dict[str, TrackedOrder] = {}
        self.live: dict[str, TrackedOrder] = {}
        self.positions: dict[str, Position] = {}
        self.fills: list[tuple[Fill, str]] = []  # (fill, strategy)
        self.funding: list[FundingPayment] = []
        self.rejections: list[tuple[OrderRequest, str]] = []
        self._income_seen = 0

    def position(self, symbol: str) -> Position:
        """The booked position of `symbol`."""
        return self.positions.get(symbol) or Position(symbol)

    @property
    def has_resting(self) -> bool:
        """Whether any order rests on the engine (it must then be advanced at every instant)."""
        return bool(self.live)

    def next_expiry(self) -> int | None:
        """The earliest TTL deadline of a resting entry."""
        times = [o.expire_time for o in self.live.values() if o.expire_time is not None]
        return min(times) if times else None

    # --- requests -------------------------------------------------------------------------------

    def submit(self, request: OrderRequest, now: int, mark: Decimal | None) -> list[VenueEvent]:
        """Validate and place one request at `now`; the events the order path would publish."""
        instrument = self.instruments.get(request.symbol)
        try:
            if instrument is None:
                raise OrderValidationError(request.symbol, f"{request.symbol} is not a known instrument")
            valid = validate_order(
                request,
                instrument,
                mark_price=mark,
                open_order_count=sum(1 for o in self.live.values() if o.symbol == request.symbol),
                position_qty=self.position(request.symbol).quantity,
            )
        except OrderValidationError as exc:
            return self._reject(request, exc.reason, now)
        expire = None if valid.reduce_only else valid.created_time + self.ttl_ms
        order = TrackedOrder(
            request=valid,
            progress=OrderProgress(OrderState.PENDING_NEW, valid.quantity),
            created_time=valid.created_time,
            expire_time=expire,
        )
        order.progress.move_to(OrderState.SENT)
        self.orders[valid.client_order_id] = order
        new = NewOrder(
            symbol=valid.symbol,
            side=valid.side,
            type=valid.order_type.value,
            quantity=valid.quantity,
            price=valid.price if valid.order_type is OrderType.LIMIT else None,
            time_in_force=valid.time_in_force.value if valid.time_in_force else "GTC",
            reduce_only=valid.reduce_only,
            client_order_id=valid.client_order_id,
        )
        try:
            self.engine.place_order(new, now)
        except SimError as exc:
            order.progress.move_to(OrderState.REJECTED)
            order.reason = f"rejected by venue: {exc.code}: {exc.msg}"
            self.rejections.append((valid, order.reason))
            return [order.update(now)]
        self.live[valid.client_order_id] = order
        return self.pump(now)

    def _reject(self, request: OrderRequest, reason: str, now: int) -> list[VenueEvent]:
        order = TrackedOrder(
            request=request,
            progress=OrderProgress(OrderState.REJECTED, request.quantity),
            created_time=request.created_time,
            expire_time=None,
            reason=reason,
        )
        self.orders[request.client_order_id] = order
        self.rejections.append((request, reason))
        return [order.update(now)]

    def expire(self, now: int) -> list[VenueEvent]:
        """Cancel every resting entry whose TTL deadline is at or before `now` (the TTL keeper)."""
        due = [o for o in self.live.values() if o.expire_time is not None and now >= o.expire_time]
        return self._cancel(due, f"TTL {self.ttl_ms // 1000}s expired", now)

    def cancel_entries(self, symbol: str, now: int, reason: str) -> list[VenueEvent]:
        """Cancel `symbol`'s resting entries, exits stand (a tripped volatility guard, as the
        order manager does)."""
        entries = [o for o in self.live.values() if o.symbol == symbol and not o.request.reduce_only]
        return self._cancel(entries, reason, now)

    def _cancel(self, orders: list[TrackedOrder], reason: str, now: int) -> list[VenueEvent]:
        out: list[VenueEvent] = []
        for order in orders:
            if order.state not in (OrderState.NEW, OrderState.PARTIALLY_FILLED):
                continue
            order.progress.move_to(OrderState.PENDING_CANCEL)
            order.reason = reason
            with contextlib.suppress(SimError):  # filled meanwhile: the engine's events below say so
                self.engine.cancel_order(order.symbol, now, client_order_id=order.cid)
            out.extend(self.pump(now))
        return out

    # --- the engine's user events -----------------------------------------------------------------

    def advance(self, now: int) -> list[VenueEvent]:
        """Move the engine to `now` (resting fills, funding) and book what it reports."""
        self.engine.advance(now)
        return self.pump(now)

    def pump(self, now: int) -> list[VenueEvent]:
        """Book every user event the engine produced since the last pump."""
        out: list[VenueEvent] = []
        for event in self.engine.drain_events():
            if type(event) is OrderEvent:
                out.extend(self._on_report(execution_report(event)))
            elif type(event) is AccountEvent and event.reason == "FUNDING_FEE":
                self._book_funding()
        return out

    def _on_report(self, report: ExecutionReport) -> list[VenueEvent]:
        order = self.orders.get(report.client_order_id)
        if order is None:
            return []
        try:
            changed, fill = order.progress.on_report(report)
        except InvalidTransition:
            changed = order.progress.correct_to(OrderState(report.status.value))
            fill = Fill.from_report(report)
            if fill is not None and not order.progress.add_fill(fill):
                fill = None
        out: list[VenueEvent] = []
        if fill is not None:
            strategy = order.request.strategy
            before = self.position(fill.symbol)
            position, realized = apply_fill(
                before
                if before.strategy
                else Position(
                    fill.symbol,
                    before.quantity,
                    before.entry_price,
                    before.realized_pnl,
                    before.fees,
                    before.funding,
                    strategy,
                    before.opened_time,
                    before.updated_time,
                ),
                fill.side,
                fill.quantity,
                fill.price,
                commission=fill.commission,
                commission_asset=fill.commission_asset,
                time=fill.time,
            )
            self.positions[fill.symbol] = position
            self.fills.append((fill, strategy))
            out.append(order.update(report.event_time, fill=fill, realized=realized))
            out.append(
                PositionUpdate(
                    symbol=position.symbol,
                    quantity=position.quantity,
                    entry_price=position.entry_price,
                    realized_pnl=position.realized_pnl,
                    event_time=fill.time,
                    strategy=position.strategy or strategy,
                    fees=position.fees,
                    funding=position.funding,
                )
            )
        elif changed:
            out.append(order.update(report.event_time))
        if order.state.is_terminal:
            self.live.pop(order.cid, None)
        return out

    def _book_funding(self) -> None:
        # Cross margin reports only the wallet's change; the engine's income records say which
        # symbol paid what, as GET /fapi/v1/income tells the order manager.
        income = self.engine.account.income
        for record in income[self._income_seen :]:
            if record.income_type == "FUNDING_FEE":
                position = self.position(record.symbol)
                self.positions[record.symbol] = apply_funding(position, record.income, time=record.time)
                self.funding.append(FundingPayment(record.symbol, record.income, record.time))
        self._income_seen = len(income)


__all__ = ["BacktestVenue", "FundingPayment", "VenueEvent"]
