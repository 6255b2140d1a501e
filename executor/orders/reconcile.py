"""Reconciliation: make our records agree with the venue's, at start-up and while running.

Run at start-up before any new order is sent, every `interval` while running, and after every
user-stream reset. One run, in this order:

1. every order we hold as live is looked up by client id and the venue's status adopted. An order
   the venue cannot find becomes LOST (never a silent CANCELED): an unconfirmed one only once its
   request can no longer land (its recvWindow has passed since the row was written, so a crash
   right after sending cannot produce a second order later); an open one at once (Binance drops
   orders without fills after a few days). While running, unconfirmed orders belong to the sender
   and the poll, which resend what provably never arrived: the run leaves them alone;
2. the venue's open orders that we do not know: ours (this daemon's client-id prefix, e.g. after the
   database was lost or restored from an old backup) are adopted with their fills, or cancelled
   (`unknown_orders`); other clients' are reported and never touched;
3. fills are back-filled from userTrades, by trade id, for every order whose venue quantity exceeds
   its booked fills (finished orders included), then funding from the income history;
4. positions are compared with the venue's. A symbol with an order of ours live is skipped (a fill
   in flight would look like a difference); any other difference is corrected to the venue's (it is
   the truth) and, being unexplained, pauses that symbol's entries until a later run is clean.

Every run and every difference is stored (`reconcile_store.py`) and published as a
`ReconciliationFinished` event; a run that cannot reach the venue is `failed` (entries stay paused)
and retried by the caller. Waits are on the network clock.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from functools import partial

import structlog

from core import channels
from core.alerts import AlertKind
from core.bus import Bus
from core.errors import FatalError, GatewayError
from core.instruments import Instrument
from core.order_state import LIVE_STATES, OrderState
from core.reconciliation import ReconcileResult, ReconciliationFinished
from executor.orders import store as order_store
from executor.orders.adoption import OrderAdoption, UnknownOrders
from executor.orders.booking import FillBooker
from executor.orders.context import OrderContext, SessionRunner
from executor.orders.funding import backfill_funding
from executor.orders.reconcile_store import Difference, record_run
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
from utils.crash_points import crash_point

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)

NEVER_REACHED = "never reached the venue"
VENUE_MISSING = "the venue no longer knows this order"
SHORT_OF_FILLS_LOOKBACK_MS = 7 * 86_400_000  # finished orders this recent are checked for unbooked fills


@dataclass(slots=True)
class ReconcileReport:
    """What one reconciliation found and changed."""

    trigger: str = "startup"
    result: ReconcileResult = ReconcileResult.OK
    checked: int = 0
    filled: int = 0
    canceled: int = 0
    expired: int = 0
    rejected: int = 0
    still_open: int = 0
    lost: int = 0
    never_arrived: int = 0  # also counted in lost
    venue_missing: int = 0  # also counted in lost
    adopted: int = 0
    cancelled_unknown: int = 0
    foreign: int = 0
    short_of_fills: int = 0
    fills_backfilled: int = 0
    funding_backfilled: int = 0
    positions_corrected: int = 0
    positions_mismatch_skipped: int = 0
    error: str = ""
    differences: list[Difference] = field(default_factory=list)

    def __str__(self) -> str:
        shown = (f for f in fields(self) if f.name not in ("differences", "error") and getattr(self, f.name))
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in shown) or "nothing to do"

    @property
    def mismatched_symbols(self) -> tuple[str, ...]:
        return tuple(sorted({d.symbol for d in self.differences if not d.explained}))


def _wall_age_s(clock: Clock, written_ms: int) -> float:
    """Wall seconds since `written_ms` (a time on `clock`).

    recvWindow follows the wall clock, but rows carry the market clock's time; in sim mode that
    clock runs `speed` times faster, so its age must be scaled back, or a request still in flight
    would be declared lost (and the order it becomes left unbooked).
    """
    factor = clock.speed if clock.speed >= 1 else 1.0
    return max(0.0, (clock.now_ms() - written_ms) / 1000 / factor)


class Reconciler:
    """Runs reconciliations over an order context (see the module docstring)."""

    def __init__(
        self,
        ctx: OrderContext,
        booker: FillBooker,
        *,
        settle_seconds: float = 6.0,
        unknown_orders: UnknownOrders = "adopt",
        strategy_for: Mapping[str, str] | None = None,
    ) -> None:
        self._ctx = ctx
        self._booker = booker
        self._settle_s = settle_seconds
        self.adoption = OrderAdoption(ctx, booker, unknown_orders=unknown_orders, strategy_for=strategy_for)
        self.runs = 0
        self.last: ReconcileReport | None = None
        self.last_time: int | None = None

    async def run(self, trigger: str) -> ReconcileReport:
        """One reconciliation; never raises a GatewayError (the report says `failed`)."""
        ctx = self._ctx
        started_wall = time.monotonic()
        report = ReconcileReport(trigger=trigger)
        try:
            await self._live_orders(report, at_startup=trigger == "startup")
            crash_point("during_reconciliation")
            await self._unknown_open_orders(report)
            await self._backfill(report)
            report.funding_backfilled = await self._funding()
            await self._positions(report)
        except FatalError:
            raise
        except GatewayError as exc:
            report.result = ReconcileResult.FAILED
            report.error = f"the venue could not be asked: {exc}"
            _log.error("reconcile.failed", trigger=trigger, error=repr(exc))
        else:
            if report.mismatched_symbols:
                report.result = ReconcileResult.MISMATCH
            elif report.differences:
                report.result = ReconcileResult.REPAIRED
        now = ctx.clock.now_ms()
        duration_ms = int((time.monotonic() - started_wall) * 1000)
        detail = report.error or str(report)
        await ctx.db.run(
            partial(
                record_run,
                time=now,
                trigger=trigger,
                result=report.result.value,
                duration_ms=duration_ms,
                detail=detail,
                differences=report.differences,
                instance_id=ctx.instance_id,
            )
        )
        self.runs += 1
        self.last, self.last_time = report, now
        log = _log.warning if report.result is not ReconcileResult.OK else _log.info
        log("reconcile.done", trigger=trigger, result=report.result.value, report=detail)
        ctx.bus.publish(
            channels.RECONCILIATION,
            ReconciliationFinished(
                trigger, report.result, len(report.differences), report.mismatched_symbols, now, detail
            ),
        )
        return report

    # --- 1. our live orders ----------------------------------------------------------------------

    async def _live_orders(self, report: ReconcileReport, *, at_startup: bool) -> None:
        ctx = self._ctx
        for order in list(ctx.registry.live.values()):
            if order.busy or (order.state.is_unconfirmed and not at_startup):
                continue  # the sender or the poll owns it right now
            report.checked += 1
            was = order.state
            venue = await self._query(order)
            if venue is None and order.state.is_unconfirmed:
                # A request sent just before a crash may still be on its way; it is refused once
                # its recvWindow has passed, so wait that long after the row was last written.
                age_s = _wall_age_s(ctx.clock, order.updated_time)
                if age_s < self._settle_s:
                    await ctx.wall.sleep(self._settle_s - age_s)
                    venue = await self._query(order)
            if venue is None:
                await self._lost(order, report)
            else:
                changed, _ = apply_venue_view(order, venue)
                if order.state.is_unconfirmed:
                    order.progress.move_to(OrderState.NEW)
                ctx.registry.note_venue_id(order)
                _count(report, order.state)
                if changed or was is not order.state:
                    report.differences.append(
                        Difference(
                            "order_status",
                            order.symbol,
                            order.cid,
                            was.value,
                            venue.status.value,
                            "adopted the venue's status",
                        )
                    )
                await ctx.persist(order)
                if changed:
                    ctx.publish_order(order)
                ctx.registry.retire_if_done(order)
            _log.info("reconcile.order", client_order_id=order.cid, was=was.value, now=order.state.value)

    async def _query(self, order: TrackedOrder) -> VenueOrder | None:
        return await with_retries(
            partial(self._ctx.gateway.query_order, order.symbol, order.cid), self._ctx.wall
        )

    async def _lost(self, order: TrackedOrder, report: ReconcileReport) -> None:
        ctx = self._ctx
        was = order.state
        report.lost += 1
        if was.is_unconfirmed:
            report.never_arrived += 1
            order.reason = NEVER_REACHED
        else:
            report.venue_missing += 1
            order.reason = VENUE_MISSING
        order.progress.move_to(OrderState.LOST)
        _log.error("reconcile.order_lost", client_order_id=order.cid, was=was.value, reason=order.reason)
        report.differences.append(
            Difference("order_lost", order.symbol, order.cid, was.value, "not found", "LOST")
        )
        await ctx.persist(order)
        ctx.publish_order(order)
        ctx.registry.retire_if_done(order)
        ctx.alert(AlertKind.ORDER_LOST, f"{order.cid} (was {was.value}): {order.reason}", order.symbol)

    # --- 2. the venue's open orders we do not know ------------------------------------------------

    async def _unknown_open_orders(self, report: ReconcileReport) -> None:
        ctx = self._ctx
        for venue in await with_retries(ctx.gateway.open_orders, ctx.wall):
            if not ctx.in_scope(venue.symbol):
                continue  # another daemon's
            found = await self.adoption.check(venue)
            if found is None:
                continue
            kind, action = found
            if kind == "order_foreign":
                report.foreign += 1
            elif kind == "order_unknown" and "cancelled" in action:
                report.cancelled_unknown += 1
            elif kind == "order_unknown":
                report.adopted += 1
            report.differences.append(
                Difference(kind, venue.symbol, venue.client_order_id, "", venue.status.value, action)
            )

    async def adopt(self, venue: VenueOrder) -> TrackedOrder:
        """Store and track an order of ours that the venue has and the database does not."""
        return await self.adoption.adopt(venue)

    # --- 3. fills and funding ---------------------------------------------------------------------

    async def _backfill(self, report: ReconcileReport) -> None:
        ctx = self._ctx
        registry = ctx.registry
        since = ctx.clock.now_ms() - SHORT_OF_FILLS_LOOKBACK_MS
        for stored in await ctx.db.run(lambda s: order_store.orders_short_of_fills(s, updated_since=since)):
            if registry.get(stored.request.client_order_id) is None and ctx.in_scope(stored.request.symbol):
                report.short_of_fills += 1
                registry.remember_finished(TrackedOrder.from_stored(stored))
        wanted: dict[str, int] = {}
        for order in [*registry.live.values(), *registry.finished.values()]:
            p = order.progress
            if p.order_id is not None and p.venue_cum_qty > p.booked_qty:
                start = order.created_time - 60_000
                wanted[order.symbol] = min(start, wanted.get(order.symbol, start))
        for symbol, start in wanted.items():
            trades = await with_retries(partial(ctx.gateway.user_trades, symbol, start_time=start), ctx.wall)
            for owner, fill in new_fills(trades, registry.by_venue_id):
                await self._booker.book(owner, fill, backfilled=True)
                report.fills_backfilled += 1
                report.differences.append(
                    Difference(
                        "fill_missing", owner.symbol, owner.cid, "", f"trade {fill.trade_id}", "booked"
                    )
                )
                registry.retire_if_done(owner)

    async def _funding(self) -> int:
        ctx = self._ctx
        changed = await backfill_funding(
            ctx.gateway, ctx.db, ctx.clock, wall=ctx.wall, instance_id=ctx.instance_id
        )
        for position in changed:
            ctx.counters.funding_payments += 1
            ctx.positions[position.symbol] = position
            ctx.publish_position(position, ctx.clock.now_ms())
        return len(changed)

    # --- 4. positions -----------------------------------------------------------------------------

    async def _positions(self, report: ReconcileReport) -> None:
        ctx = self._ctx
        venue = await with_retries(ctx.gateway.positions, ctx.wall)
        before, ctx.positions = ctx.positions, await ctx.db.run(order_store.load_positions)
        for symbol, stored in ctx.positions.items():
            # Another daemon's position, as it last stored it: the risk gate's total exposure
            # counts every daemon's (docs/scaling.md).
            if not ctx.in_scope(symbol) and before.get(symbol) != stored:
                ctx.publish_position(stored, ctx.clock.now_ms(), strategy=stored.strategy)
        busy = {o.symbol for o in ctx.registry.live.values()}
        for difference in position_differences(ctx.positions, venue, busy):
            if not ctx.in_scope(difference.symbol):
                continue  # another daemon's position
            ours, theirs = str(difference.ours.quantity), str(difference.venue_qty)
            if difference.busy:
                report.positions_mismatch_skipped += 1
                _log.warning(
                    "reconcile.position_mismatch_with_open_orders",
                    symbol=difference.symbol,
                    ours=ours,
                    venue=theirs,
                )
                continue
            fixed = corrected_position(difference.ours, difference.venue, ctx.clock.now_ms())
            await ctx.db.run(partial(order_store.save_position, position=fixed, instance_id=ctx.instance_id))
            ctx.positions[difference.symbol] = fixed
            ctx.counters.position_corrections += 1
            ctx.publish_position(fixed, fixed.updated_time)
            report.positions_corrected += 1
            report.differences.append(
                Difference(
                    "position",
                    difference.symbol,
                    "",
                    ours,
                    theirs,
                    "corrected to the venue's; entries paused until a clean run",
                    explained=False,
                )
            )


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


async def reconcile(
    gateway: OrderGateway,
    db: SessionRunner,
    clock: Clock,
    instruments: Mapping[str, Instrument],
    *,
    settle_seconds: float = 6.0,
    wall: Clock | None = None,
    bus: Bus | None = None,
    unknown_orders: UnknownOrders = "adopt",
) -> ReconcileReport:
    """A start-up reconciliation on its own (no order manager running): loads the live orders and
    positions from the database and runs once."""
    ctx = OrderContext(gateway, db, bus or Bus(), clock, wall or WallClock(), instruments)
    for row in await db.run(lambda s: order_store.orders_in_states(s, LIVE_STATES)):
        ctx.registry.register(TrackedOrder.from_stored(row))
    ctx.positions = await db.run(order_store.load_positions)
    reconciler = Reconciler(
        ctx, FillBooker(ctx), settle_seconds=settle_seconds, unknown_orders=unknown_orders
    )
    return await reconciler.run("startup")


__all__ = ["NEVER_REACHED", "VENUE_MISSING", "ReconcileReport", "Reconciler", "reconcile"]
