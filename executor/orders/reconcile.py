"""Reconciliation: make the database agree with the venue before any new order is sent.

Run at start-up (and usable after a user-stream reset). Every order the database holds as
PENDING_NEW, SENT, UNKNOWN, NEW, PARTIALLY_FILLED or PENDING_CANCEL is looked up on the venue by its
client id:

- found: the venue's status is adopted (filled, cancelled, expired, still open);
- never arrived, for an order that was pending or unknown: it is marked CANCELED with the reason
  "never reached the venue" — but only once the original request can no longer land (its
  recvWindow has passed since we last touched the row), so a crash right after sending cannot
  produce a second order later;
- unknown to the venue although we saw it open: Binance drops cancelled/expired orders without
  fills after a few days, so it is marked CANCELED with that reason.

Fills are back-filled from userTrades (de-duplicated on symbol + trade id) for every order whose
venue quantity exceeds its booked fills. Finally positions are compared with the venue's
positionRisk and corrected to the venue's quantity, with a warning, for symbols where none of our
orders is still open (with an order open, a fill in flight would look like a disagreement).

Funding the venue charged while no FUNDING_FEE event reached us (the daemon was down, or the user
stream was) is back-filled from the income history for every position we hold open
(`backfill_funding`, also run by the order manager after a user-stream reset).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from functools import partial
from typing import Protocol, TypeVar

import structlog
from sqlmodel import Session

from core.errors import FatalError, GatewayError, InvalidTransition
from core.events import OrderRequest
from core.instruments import Instrument
from core.order_state import LIVE_STATES, OrderState
from executor.orders import store as order_store
from executor.orders.positions import Position
from executor.orders.progress import Fill, OrderProgress
from executor.venue_api import VenueIncome, VenueOrder, VenuePosition, VenueTrade
from utils.clock import Clock

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)
_T = TypeVar("_T")

NEVER_REACHED = "never reached the venue"
INCOME_PAGE = 1000  # GET /fapi/v1/income's largest page
FUNDING_LOOKBACK_MS = 7 * 24 * 3_600_000  # Binance's default income window


class OrderGateway(Protocol):
    """The part of executor.binance.gateway.Gateway the order path uses (structural, so the real
    gateway satisfies it without importing this module)."""

    async def place_order(self, request: OrderRequest) -> VenueOrder: ...
    async def query_order(self, symbol: str, client_order_id: str) -> VenueOrder | None: ...
    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder: ...
    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]: ...
    async def user_trades(
        self, symbol: str, start_time: int | None = None, from_id: int | None = None
    ) -> list[VenueTrade]: ...
    async def positions(self) -> list[VenuePosition]: ...
    async def income(
        self, income_type: str, start_time: int, end_time: int, symbol: str | None = None
    ) -> list[VenueIncome]: ...


class SessionRunner(Protocol):
    """The part of database.engine.Database the order path uses."""

    async def run(self, fn: Callable[[Session], _T]) -> _T: ...


@dataclass(slots=True)
class ReconcileReport:
    """What reconciliation found and changed."""

    checked: int = 0
    filled: int = 0
    canceled: int = 0
    expired: int = 0
    rejected: int = 0
    still_open: int = 0
    never_arrived: int = 0
    venue_missing: int = 0  # never_arrived and venue_missing are also counted in canceled
    fills_backfilled: int = 0
    funding_backfilled: int = 0
    positions_corrected: int = 0
    positions_mismatch_skipped: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


def corrected_position(ours: Position, theirs: VenuePosition | None, now: int) -> Position:
    """Our position with the venue's quantity and entry price (realized PnL, fees and funding kept)."""
    quantity = theirs.quantity if theirs is not None else _ZERO
    entry = theirs.entry_price if theirs is not None and quantity != _ZERO else _ZERO
    _log.warning(
        "reconcile.position_corrected",
        symbol=ours.symbol,
        ours=str(ours.quantity),
        venue=str(quantity),
        our_entry=str(ours.entry_price),
        venue_entry=str(entry),
    )
    opened = None if quantity == _ZERO else (ours.opened_time if not ours.is_flat else now)
    return replace(ours, quantity=quantity, entry_price=entry, opened_time=opened, updated_time=now)


async def _with_retries(call: Callable[[], Awaitable[_T]], attempts: int = 5) -> _T:
    """A read-only REST call with a few retries; the last failure propagates (start-up must not
    proceed on a half-known venue)."""
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except FatalError:
            raise
        except GatewayError as exc:
            if attempt == attempts:
                raise
            _log.warning("reconcile.retry", attempt=attempt, error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


def _wall_age_s(clock: Clock, written_ms: int) -> float:
    """Wall seconds since `written_ms` (a time on `clock`).

    recvWindow follows the wall clock, but rows carry the market clock's time; in sim mode that
    clock runs `speed` times faster, so its age must be scaled back, or a request still in flight
    would be declared lost (and the order it becomes left unbooked).
    """
    speed = getattr(clock, "speed", 1.0)
    factor = float(speed) if isinstance(speed, int | float) and speed >= 1 else 1.0
    return max(0.0, (clock.now_ms() - written_ms) / 1000 / factor)


async def _query(gateway: OrderGateway, symbol: str, cid: str) -> VenueOrder | None:
    return await _with_retries(partial(gateway.query_order, symbol, cid))


async def reconcile(
    gateway: OrderGateway,
    db: SessionRunner,
    clock: Clock,
    instruments: Mapping[str, Instrument],
    *,
    settle_seconds: float = 6.0,
) -> ReconcileReport:
    """Resolve every live order against the venue, back-fill fills, correct positions."""
    report = ReconcileReport()
    stored = await db.run(lambda s: order_store.orders_in_states(s, LIVE_STATES))
    still_open: set[str] = set()
    backfill: dict[str, list[tuple[order_store.StoredOrder, OrderProgress]]] = {}

    for row in stored:
        report.checked += 1
        request = row.request
        cid = request.client_order_id
        venue = await _query(gateway, request.symbol, cid)
        if venue is None and row.state.is_unconfirmed:
            # A request sent just before a crash may still be on its way; it is refused once its
            # recvWindow has passed, so wait that long after the row was last written.
            age_s = _wall_age_s(clock, row.updated_time)
            if age_s < settle_seconds:
                await asyncio.sleep(settle_seconds - max(age_s, 0.0))
                venue = await _query(gateway, request.symbol, cid)

        progress = OrderProgress(
            state=row.state,
            quantity=request.quantity,
            order_id=row.venue_order_id,
            trade_ids=set(row.trade_ids),
            booked_qty=row.booked_qty,
            booked_quote=row.booked_quote,
            venue_cum_qty=row.filled_qty,
            venue_avg_price=row.avg_price,
        )
        reason = row.reason
        if venue is None:
            if row.state.is_unconfirmed:
                report.never_arrived += 1
                reason = NEVER_REACHED
            else:
                report.venue_missing += 1
                reason = "the venue has no record of this order (cancelled or expired without fills)"
                _log.error("reconcile.order_missing_on_venue", client_order_id=cid, state=row.state.value)
            progress.move_to(OrderState.CANCELED)
            report.canceled += 1
        else:
            try:
                progress.on_venue_order(venue)
            except InvalidTransition as exc:
                _log.error("reconcile.invalid_transition", client_order_id=cid, error=str(exc))
                progress.correct_to(
                    OrderState(venue.status.value)
                    if venue.status.value in OrderState.__members__
                    else (OrderState.EXPIRED)
                )
                progress.order_id = venue.order_id
                progress.venue_cum_qty = max(progress.venue_cum_qty, venue.executed_qty)
            if progress.state.is_unconfirmed:
                progress.move_to(OrderState.NEW)
            _count(report, progress.state)
        if not progress.state.is_terminal:
            still_open.add(request.symbol)
        snapshot = order_store.OrderSnapshot(
            client_order_id=cid,
            state=progress.state,
            venue_order_id=progress.order_id,
            filled_qty=progress.filled_qty,
            avg_price=progress.avg_price,
            cum_quote=progress.cum_quote,
            reason=reason,
            send_attempts=row.send_attempts,
            last_error=row.last_error,
            updated_time=clock.now_ms(),
        )
        await db.run(partial(order_store.save_order, snapshot=snapshot))
        _log.info("reconcile.order", client_order_id=cid, was=row.state.value, now=progress.state.value)
        if progress.order_id is not None and progress.venue_cum_qty > progress.booked_qty:
            backfill.setdefault(request.symbol, []).append((row, progress))

    for symbol, orders in backfill.items():
        start = min(row.created_time for row, _ in orders) - 60_000
        trades = await _with_retries(partial(gateway.user_trades, symbol, start_time=start))
        by_id = {p.order_id: (row, p) for row, p in orders}
        for trade in sorted(trades, key=lambda t: t.trade_id):
            match = by_id.get(trade.order_id)
            if match is None:
                continue
            row, progress = match
            fill = Fill.from_trade(trade, row.request.client_order_id)
            if not progress.add_fill(fill):
                continue
            booked = await db.run(
                partial(order_store.book_fill, fill=fill, strategy=row.request.strategy, snapshot=None)
            )
            if booked is not None:
                report.fills_backfilled += 1

    report.funding_backfilled = len(await backfill_funding(gateway, db, clock))
    venue_positions = await _with_retries(gateway.positions)
    ours = await db.run(order_store.load_positions)
    theirs = {p.symbol: p for p in venue_positions}
    for symbol in sorted(set(theirs) | {s for s, p in ours.items() if not p.is_flat}):
        venue_position = theirs.get(symbol)
        venue_qty = venue_position.quantity if venue_position is not None else _ZERO
        mine = ours.get(symbol) or Position(symbol)
        if mine.quantity == venue_qty:
            continue
        if symbol in still_open:
            report.positions_mismatch_skipped += 1
            _log.warning(
                "reconcile.position_mismatch_with_open_orders",
                symbol=symbol,
                ours=str(mine.quantity),
                venue=str(venue_qty),
            )
            continue
        fixed = corrected_position(mine, venue_position, clock.now_ms())
        await db.run(partial(order_store.save_position, position=fixed))
        report.positions_corrected += 1

    _log.info("reconcile.done", report=str(report), started=time.strftime("%H:%M:%S"))
    return report


async def backfill_funding(
    gateway: OrderGateway, db: SessionRunner, clock: Clock, *, lookback_ms: int = FUNDING_LOOKBACK_MS
) -> list[Position]:
    """Book the funding fees the venue charged our open positions that are not booked yet.

    Looks back from the newest payment booked for each symbol (else from when the position was
    opened), at most `lookback_ms`. Returns the positions it changed.
    """
    positions = {s: p for s, p in (await db.run(order_store.load_positions)).items() if not p.is_flat}
    if not positions:
        return []
    booked_until = await db.run(order_store.last_funding_times)
    now = clock.now_ms()
    since = {
        symbol: max(booked_until.get(symbol, 0), position.opened_time or 0, now - lookback_ms)
        for symbol, position in positions.items()
    }
    start = min(since.values())
    changed: list[Position] = []
    while True:
        page = await _with_retries(partial(gateway.income, "FUNDING_FEE", start, now))
        for record in sorted(page, key=lambda r: r.time):
            if record.symbol not in since or record.time <= since[record.symbol] or record.amount == _ZERO:
                continue
            position = await db.run(
                partial(
                    order_store.book_funding,
                    symbol=record.symbol,
                    asset=record.asset,
                    amount=record.amount,
                    time=record.time,
                )
            )
            if position is not None:
                changed.append(position)
                _log.info(
                    "reconcile.funding_backfilled",
                    symbol=record.symbol,
                    amount=str(record.amount),
                    time=record.time,
                )
        if len(page) < INCOME_PAGE:
            return changed
        start = max(r.time for r in page) + 1


def _count(report: ReconcileReport, state: OrderState) -> None:
    if state is OrderState.FILLED:
        report.filled += 1
    elif state is OrderState.CANCELED:
        report.canceled += 1
    elif state is OrderState.EXPIRED:
        report.expired += 1
    elif state is OrderState.REJECTED:
        report.rejected += 1
    else:
        report.still_open += 1
