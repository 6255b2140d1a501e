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
(`funding.backfill_funding`, also run by the order manager after a user-stream reset).

Rebuilding an order from its row, applying the venue's view (and a contradiction), finding missed
fills and correcting positions are the same functions the order manager uses (`registry.py`,
`venue_sync.py`). Waits (recvWindow, retries) are on the network clock `wall`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import partial

import structlog

from core.instruments import Instrument
from core.order_state import LIVE_STATES, OrderState
from executor.orders import store as order_store
from executor.orders.context import SessionRunner
from executor.orders.funding import backfill_funding
from executor.orders.registry import TrackedOrder
from executor.orders.venue_sync import (
    apply_venue_view,
    corrected_position,
    new_fills,
    position_differences,
    with_retries,
)
from executor.venue_api import OrderGateway, VenueOrder
from utils.clock import Clock, WallClock

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)

NEVER_REACHED = "never reached the venue"
SHORT_OF_FILLS_LOOKBACK_MS = 7 * 86_400_000  # finished orders this recent are checked for unbooked fills
VENUE_MISSING = "the venue has no record of this order (cancelled or expired without fills)"


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
    short_of_fills: int = 0  # finished orders found with unbooked fills
    fills_backfilled: int = 0
    funding_backfilled: int = 0
    positions_corrected: int = 0
    positions_mismatch_skipped: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


def _wall_age_s(clock: Clock, written_ms: int) -> float:
    """Wall seconds since `written_ms` (a time on `clock`).

    recvWindow follows the wall clock, but rows carry the market clock's time; in sim mode that
    clock runs `speed` times faster, so its age must be scaled back, or a request still in flight
    would be declared lost (and the order it becomes left unbooked).
    """
    factor = clock.speed if clock.speed >= 1 else 1.0
    return max(0.0, (clock.now_ms() - written_ms) / 1000 / factor)


async def reconcile(
    gateway: OrderGateway,
    db: SessionRunner,
    clock: Clock,
    instruments: Mapping[str, Instrument],
    *,
    settle_seconds: float = 6.0,
    wall: Clock | None = None,
) -> ReconcileReport:
    """Resolve every live order against the venue, back-fill fills, correct positions."""
    wall = wall or WallClock()
    report = ReconcileReport()
    stored = await db.run(lambda s: order_store.orders_in_states(s, LIVE_STATES))
    since = clock.now_ms() - SHORT_OF_FILLS_LOOKBACK_MS
    short = await db.run(lambda s: order_store.orders_short_of_fills(s, updated_since=since))
    still_open: set[str] = set()
    backfill: dict[str, list[TrackedOrder]] = {}
    for row in short:
        # Finished, but with fills the venue reported that were never booked (a crash between
        # the order's answer and its trades): back-fill them whatever the state.
        order = TrackedOrder.from_stored(row)
        report.short_of_fills += 1
        _log.warning("reconcile.order_short_of_fills", client_order_id=order.cid, state=row.state.value,
                     filled=str(row.filled_qty), booked=str(row.booked_qty))
        backfill.setdefault(order.symbol, []).append(order)

    async def query(symbol: str, cid: str) -> VenueOrder | None:
        return await with_retries(partial(gateway.query_order, symbol, cid), wall)

    for row in stored:
        report.checked += 1
        order = TrackedOrder.from_stored(row)
        venue = await query(order.symbol, order.cid)
        if venue is None and row.state.is_unconfirmed:
            # A request sent just before a crash may still be on its way; it is refused once its
            # recvWindow has passed, so wait that long after the row was last written.
            age_s = _wall_age_s(clock, row.updated_time)
            if age_s < settle_seconds:
                await wall.sleep(settle_seconds - max(age_s, 0.0))
                venue = await query(order.symbol, order.cid)

        if venue is None:
            if row.state.is_unconfirmed:
                report.never_arrived += 1
                order.reason = NEVER_REACHED
            else:
                report.venue_missing += 1
                order.reason = VENUE_MISSING
                _log.error(
                    "reconcile.order_missing_on_venue", client_order_id=order.cid, state=row.state.value
                )
            order.progress.move_to(OrderState.CANCELED)
            report.canceled += 1
        else:
            apply_venue_view(order, venue)
            if order.state.is_unconfirmed:
                order.progress.move_to(OrderState.NEW)
            _count(report, order.state)
        if not order.state.is_terminal:
            still_open.add(order.symbol)
        snapshot = order.snapshot(clock.now_ms())
        await db.run(partial(order_store.save_order, snapshot=snapshot))
        _log.info("reconcile.order", client_order_id=order.cid, was=row.state.value, now=order.state.value)
        if order.progress.order_id is not None and order.progress.venue_cum_qty > order.progress.booked_qty:
            backfill.setdefault(order.symbol, []).append(order)

    for symbol, orders in backfill.items():
        start = min(o.created_time for o in orders) - 60_000
        trades = await with_retries(partial(gateway.user_trades, symbol, start_time=start), wall)
        by_id = {o.progress.order_id: o for o in orders}
        for owner, fill in new_fills(trades, by_id.get):
            # The order's row goes with its fill: its state becomes final with the last one.
            snapshot = owner.snapshot(clock.now_ms())
            booked = await db.run(
                partial(order_store.book_fill, fill=fill, strategy=owner.request.strategy, snapshot=snapshot)
            )
            if booked is not None:
                report.fills_backfilled += 1

    report.funding_backfilled = len(await backfill_funding(gateway, db, clock, wall=wall))
    venue_positions = await with_retries(gateway.positions, wall)
    ours = await db.run(order_store.load_positions)
    for difference in position_differences(ours, venue_positions, still_open):
        if difference.busy:
            report.positions_mismatch_skipped += 1
            _log.warning(
                "reconcile.position_mismatch_with_open_orders",
                symbol=difference.symbol,
                ours=str(difference.ours.quantity),
                venue=str(difference.venue_qty),
            )
            continue
        fixed = corrected_position(difference.ours, difference.venue, clock.now_ms())
        await db.run(partial(order_store.save_position, position=fixed))
        report.positions_corrected += 1

    _log.info("reconcile.done", report=str(report))
    return report


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
