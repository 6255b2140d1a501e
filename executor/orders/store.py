"""Database reads and writes of the order path: orders, fills, positions, funding, order events.

Every function takes a SQLModel `Session` and runs on the database thread (`Database.run`). Writes
commit before returning: the order manager relies on "committed" meaning "survives a crash" (the
PENDING_NEW row must be durable before the first byte of the order is sent).

Callers see plain records (`StoredOrder`, `OrderSnapshot`, `executor.orders.positions.Position`), never
the table classes, so the order manager does not depend on column details.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from core.events import OrderRequest, OrderType, Side, TimeInForce
from core.order_state import OrderState
from database.models import FillRow, FundingPaymentRow, OrderEventRow, OrderRow, PositionRow
from executor.orders.positions import Position, apply_fill, apply_funding
from executor.orders.progress import Fill

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """The mutable columns of an order row, as the order manager last saw them."""

    client_order_id: str
    state: OrderState
    venue_order_id: int | None
    filled_qty: Decimal
    avg_price: Decimal
    cum_quote: Decimal
    reason: str
    send_attempts: int
    last_error: str
    updated_time: int


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order row with the trade ids already booked against it."""

    request: OrderRequest
    state: OrderState
    venue_order_id: int | None
    filled_qty: Decimal
    avg_price: Decimal
    reason: str
    send_attempts: int
    last_error: str
    created_time: int
    updated_time: int
    expire_time: int | None
    trade_ids: frozenset[int]
    booked_qty: Decimal
    booked_quote: Decimal


@dataclass(frozen=True, slots=True)
class BookedFill:
    """The result of booking one new fill: the position after it and the PnL it realized."""

    position: Position
    realized: Decimal


def _request_of(row: OrderRow) -> OrderRequest:
    return OrderRequest(
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        strategy=row.strategy or "",
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        quantity=Decimal(row.quantity),
        created_time=int(row.created_time),
        price=Decimal(row.price) if row.price is not None else None,
        time_in_force=TimeInForce(row.time_in_force) if row.time_in_force else None,
        reduce_only=bool(row.reduce_only),
        signal_id=row.signal_id,
    )


def _stored(session: Session, row: OrderRow) -> StoredOrder:
    fills = session.exec(select(FillRow).where(FillRow.client_order_id == row.client_order_id)).all()
    return StoredOrder(
        request=_request_of(row),
        state=OrderState(row.state),
        venue_order_id=row.venue_order_id,
        filled_qty=Decimal(row.filled_qty or 0),
        avg_price=Decimal(row.avg_price or 0),
        reason=row.reason or "",
        send_attempts=int(row.send_attempts or 0),
        last_error=row.last_error or "",
        created_time=int(row.created_time),
        updated_time=int(row.updated_time),
        expire_time=row.expire_time,
        trade_ids=frozenset(int(f.trade_id) for f in fills),
        booked_qty=sum((Decimal(f.quantity) for f in fills), _ZERO),
        booked_quote=sum((Decimal(f.quantity) * Decimal(f.price) for f in fills), _ZERO),
    )


def find_order(session: Session, client_order_id: str) -> StoredOrder | None:
    """The order with this client id, or None."""
    row = session.exec(select(OrderRow).where(OrderRow.client_order_id == client_order_id)).first()
    return _stored(session, row) if row is not None else None


def find_by_venue_id(session: Session, symbol: str, venue_order_id: int) -> StoredOrder | None:
    """The order the venue knows as `venue_order_id` on `symbol`, or None."""
    row = session.exec(
        select(OrderRow).where(OrderRow.symbol == symbol, OrderRow.venue_order_id == venue_order_id)
    ).first()
    return _stored(session, row) if row is not None else None


def orders_in_states(session: Session, states: Iterable[OrderState]) -> list[StoredOrder]:
    """Every order whose state is one of `states`, oldest first."""
    wanted = [s.value for s in states]
    rows = session.exec(
        select(OrderRow).where(col(OrderRow.state).in_(wanted)).order_by(col(OrderRow.created_time))
    ).all()
    return [_stored(session, r) for r in rows]


def orders_short_of_fills(session: Session, *, updated_since: int) -> list[StoredOrder]:
    """Finished orders (updated since `updated_since`) whose booked fills add up to less than the
    quantity the venue reported executed: fills that a crash or a lost event left unbooked."""
    terminal = [s.value for s in OrderState if s.is_terminal]
    rows = session.exec(
        select(OrderRow)
        .where(col(OrderRow.state).in_(terminal), col(OrderRow.updated_time) >= updated_since)
        .order_by(col(OrderRow.created_time))
    ).all()
    candidates = [r for r in rows if Decimal(r.filled_qty or 0) > _ZERO]
    if not candidates:
        return []
    booked: dict[str, Decimal] = {}
    ids = [r.client_order_id for r in candidates]
    for start in range(0, len(ids), 500):  # bounded IN lists
        fills = session.exec(
            select(col(FillRow.client_order_id), col(FillRow.quantity)).where(
                col(FillRow.client_order_id).in_(ids[start : start + 500])
            )
        ).all()
        for cid, quantity in fills:
            booked[cid] = booked.get(cid, _ZERO) + Decimal(quantity)
    short = [r for r in candidates if booked.get(r.client_order_id, _ZERO) < Decimal(r.filled_qty)]
    return [_stored(session, r) for r in short]


def insert_order(
    session: Session,
    request: OrderRequest,
    state: OrderState,
    *,
    now: int,
    reason: str = "",
    expire_time: int | None = None,
    instance_id: str = "",
) -> bool:
    """Insert and commit a new order row; False when the client id already exists (a replay).
    `instance_id` names the daemon that wrote it (several daemons on one database)."""
    row = OrderRow(
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        strategy=request.strategy,
        side=request.side.value,
        order_type=request.order_type.value,
        time_in_force=request.time_in_force.value if request.time_in_force else None,
        quantity=request.quantity,
        price=request.price,
        reduce_only=request.reduce_only,
        state=state.value,
        venue_order_id=None,
        filled_qty=_ZERO,
        avg_price=_ZERO,
        cum_quote=_ZERO,
        signal_id=request.signal_id,
        intent="exit" if request.reduce_only else "entry",
        reason=reason,
        send_attempts=0,
        last_error="",
        created_time=request.created_time,
        updated_time=now,
        expire_time=expire_time,
        instance_id=instance_id,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    _event(session, request.client_order_id, state.value, reason, now)
    session.commit()
    return True


def _apply_snapshot(session: Session, snapshot: OrderSnapshot) -> OrderRow | None:
    row = session.exec(select(OrderRow).where(OrderRow.client_order_id == snapshot.client_order_id)).first()
    if row is None:
        return None
    changed_state = row.state != snapshot.state.value
    row.state = snapshot.state.value
    if snapshot.venue_order_id is not None:
        row.venue_order_id = snapshot.venue_order_id
    row.filled_qty = snapshot.filled_qty
    row.avg_price = snapshot.avg_price
    row.cum_quote = snapshot.cum_quote
    row.reason = snapshot.reason
    row.send_attempts = snapshot.send_attempts
    row.last_error = snapshot.last_error[:500]
    row.updated_time = snapshot.updated_time
    session.add(row)
    if changed_state:
        _event(
            session, snapshot.client_order_id, snapshot.state.value, snapshot.reason, snapshot.updated_time
        )
    return row


def save_order(session: Session, snapshot: OrderSnapshot) -> None:
    """Write an order's current state and progress (and an audit event if the state changed)."""
    _apply_snapshot(session, snapshot)
    session.commit()


def _event(session: Session, client_order_id: str, kind: str, detail: str, time: int) -> None:
    session.add(
        OrderEventRow(client_order_id=client_order_id, event=kind, detail=detail[:500], event_time=time)
    )


def _position_of(row: PositionRow | None, symbol: str) -> Position:
    if row is None:
        return Position(symbol)
    return Position(
        symbol=row.symbol,
        quantity=Decimal(row.quantity),
        entry_price=Decimal(row.entry_price),
        realized_pnl=Decimal(row.realized_pnl),
        fees=Decimal(row.fees),
        funding=Decimal(row.funding),
        strategy=row.strategy or "",
        opened_time=row.opened_time,
        updated_time=int(row.updated_time or 0),
    )


def _write_position(session: Session, row: PositionRow | None, position: Position, instance_id: str) -> None:
    if row is None:
        row = PositionRow(symbol=position.symbol)
    row.instance_id = instance_id
    row.strategy = position.strategy
    row.quantity = position.quantity
    row.entry_price = position.entry_price
    row.realized_pnl = position.realized_pnl
    row.fees = position.fees
    row.funding = position.funding
    row.opened_time = position.opened_time
    row.updated_time = position.updated_time
    session.add(row)


def load_position(session: Session, symbol: str) -> Position:
    """The stored position of `symbol` (flat when none is stored)."""
    return _position_of(session.get(PositionRow, symbol), symbol)


def load_positions(session: Session) -> dict[str, Position]:
    """Every stored position by symbol."""
    return {r.symbol: _position_of(r, r.symbol) for r in session.exec(select(PositionRow)).all()}


def save_position(session: Session, position: Position, instance_id: str = "") -> None:
    """Overwrite a symbol's position (used when correcting to the venue's)."""
    _write_position(session, session.get(PositionRow, position.symbol), position, instance_id)
    session.commit()


def fill_exists(session: Session, symbol: str, trade_id: int) -> bool:
    """True when (symbol, trade_id) is already booked."""
    found = session.exec(
        select(FillRow.trade_id).where(FillRow.symbol == symbol, FillRow.trade_id == trade_id)
    ).first()
    return found is not None


def book_fill(
    session: Session, fill: Fill, *, strategy: str, snapshot: OrderSnapshot | None, instance_id: str = ""
) -> BookedFill | None:
    """Insert a fill, update the position and the order row in one transaction; `instance_id` (the
    daemon booking it) goes on the fill and the position.

    Returns None (and changes nothing) when (symbol, trade_id) is already booked, so a repeated
    event or a REST back-fill of a streamed fill is harmless.
    """
    if fill_exists(session, fill.symbol, fill.trade_id):
        return None
    row = session.get(PositionRow, fill.symbol)
    before = _position_of(row, fill.symbol)
    position, realized = apply_fill(
        before,
        fill.side,
        fill.quantity,
        fill.price,
        commission=fill.commission,
        commission_asset=fill.commission_asset,
        time=fill.time,
    )
    if strategy and not position.strategy:
        position = replace(position, strategy=strategy)
    session.add(
        FillRow(
            symbol=fill.symbol,
            trade_id=fill.trade_id,
            order_id=fill.order_id,
            client_order_id=fill.client_order_id,
            side=fill.side.value,
            quantity=fill.quantity,
            price=fill.price,
            commission=fill.commission,
            commission_asset=fill.commission_asset,
            realized_pnl=realized,
            is_maker=fill.is_maker,
            time=fill.time,
            instance_id=instance_id,
        )
    )
    _write_position(session, row, position, instance_id)
    if snapshot is not None:
        _apply_snapshot(session, snapshot)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent writer booked the same trade first.
        session.rollback()
        return None
    return BookedFill(position, realized)


# Funding intervals are 1 hour or more, so two records of one symbol within a minute are one payment
# (the stream's transaction time and the income history's time need not be the same millisecond).
SAME_FUNDING_MS = 60_000


def book_funding(
    session: Session, symbol: str, asset: str, amount: Decimal, *, time: int, instance_id: str = ""
) -> Position | None:
    """Record a funding payment and add it to the position; None when already recorded."""
    exists = session.exec(
        select(FundingPaymentRow).where(
            FundingPaymentRow.symbol == symbol,
            col(FundingPaymentRow.time).between(time - SAME_FUNDING_MS, time + SAME_FUNDING_MS),
        )
    ).first()
    if exists is not None:
        return None
    row = session.get(PositionRow, symbol)
    position = apply_funding(_position_of(row, symbol), amount, time=time)
    session.add(FundingPaymentRow(symbol=symbol, asset=asset, amount=amount, time=time))
    _write_position(session, row, position, instance_id)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return position


def last_funding_times(session: Session) -> dict[str, int]:
    """The time of the newest funding payment booked, by symbol."""
    rows = session.exec(
        select(FundingPaymentRow.symbol, func.max(FundingPaymentRow.time)).group_by(FundingPaymentRow.symbol)
    ).all()
    return {symbol: int(latest) for symbol, latest in rows if latest is not None}


def booked_trade_ids(session: Session, symbol: str, trade_ids: Sequence[int]) -> set[int]:
    """Which of `trade_ids` are already booked for `symbol`."""
    if not trade_ids:
        return set()
    rows = session.exec(
        select(FillRow.trade_id).where(FillRow.symbol == symbol, col(FillRow.trade_id).in_(list(trade_ids)))
    ).all()
    return {int(t) for t in rows}
