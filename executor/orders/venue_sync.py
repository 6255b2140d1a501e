"""Making our view of orders, fills and positions agree with the venue's; shared with reconciliation.

The pure pieces (`apply_venue_view`, `new_fills`, `position_differences`, `corrected_position`) are
used by the order manager's parts and by reconciliation (`executor/orders/reconcile.py`), so all of
them treat a contradiction, a missed fill and a drifted position the same way. `VenueSync` is the
order manager's part: it adopts REST answers, and polls live orders while the user stream is down
(or an order is UNKNOWN, or fills are missing), resending what provably never arrived and
back-filling fills from userTrades. Positions are reconciliation's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

import structlog

from core.alerts import AlertKind
from core.errors import FatalError, GatewayError, InvalidTransition
from core.order_state import OrderState
from executor.orders.context import OrderContext
from executor.orders.positions import Position
from executor.orders.progress import Fill
from executor.orders.registry import TrackedOrder
from executor.venue_api import VenueOrder, VenuePosition, VenueTrade
from utils.clock import Clock
from utils.crash_points import crash_point

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)
_T = TypeVar("_T")


# --- shared with reconciliation -----------------------------------------------------------------


async def with_retries(call: Callable[[], Awaitable[_T]], wall: Clock, attempts: int = 5) -> _T:
    """A read-only REST call with a few retries; the last failure propagates (nothing may proceed
    on a half-known venue). A FatalError is never retried."""
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
            await wall.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


def apply_venue_view(order: TrackedOrder, venue: VenueOrder) -> tuple[bool, str | None]:
    """Take the venue's view of the order (a REST answer): (state changed, the contradiction if any).

    When the venue contradicts our view (a move the state machine forbids), the venue is the truth:
    the order is corrected to the venue's state, loudly, with the reason recorded on the order.
    """
    progress = order.progress
    try:
        return progress.on_venue_order(venue), None
    except InvalidTransition as exc:
        changed = correct_to_venue(order, exc, venue.status.value)
        if progress.order_id is None:
            progress.order_id = venue.order_id
        progress.venue_cum_qty = max(progress.venue_cum_qty, venue.executed_qty)
        return changed, str(exc)


def correct_to_venue(order: TrackedOrder, exc: InvalidTransition, venue_status: str) -> bool:
    """The venue contradicts our view (`exc`): adopt its state, loudly; True when the state changed."""
    _log.error("orders.venue_contradiction", client_order_id=order.cid, error=str(exc))
    target = OrderState(venue_status) if venue_status in OrderState.__members__ else OrderState.EXPIRED
    changed = order.progress.correct_to(target)
    if changed:
        order.reason = f"venue contradicted local state: {exc}"
    return changed


def new_fills(
    trades: Iterable[VenueTrade], owner_of: Callable[[int], TrackedOrder | None]
) -> list[tuple[TrackedOrder, Fill]]:
    """The trades (userTrades) that are fills of our orders not counted yet, oldest first.

    Each returned fill is already added to its order's progress (so a second call skips it).
    """
    found: list[tuple[TrackedOrder, Fill]] = []
    for trade in sorted(trades, key=lambda t: t.trade_id):
        owner = owner_of(trade.order_id)
        if owner is None:
            continue
        fill = Fill.from_trade(trade, owner.cid)
        if owner.progress.add_fill(fill):
            found.append((owner, fill))
    return found


@dataclass(frozen=True, slots=True)
class PositionDifference:
    """A symbol whose booked position differs from the venue's."""

    symbol: str
    ours: Position
    venue: VenuePosition | None
    busy: bool  # an order of ours is live on the symbol: a fill in flight may explain it

    @property
    def venue_qty(self) -> Decimal:
        return self.venue.quantity if self.venue is not None else _ZERO


def position_differences(
    ours: Mapping[str, Position], venue: Iterable[VenuePosition], busy_symbols: set[str]
) -> list[PositionDifference]:
    """Every symbol where our quantity and the venue's differ (a missing position counts as flat)."""
    theirs = {p.symbol: p for p in venue}
    symbols = set(theirs) | {s for s, p in ours.items() if not p.is_flat}
    found = []
    for symbol in sorted(symbols):
        mine = ours.get(symbol) or Position(symbol)
        difference = PositionDifference(symbol, mine, theirs.get(symbol), symbol in busy_symbols)
        if mine.quantity != difference.venue_qty:
            found.append(difference)
    return found


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


# --- the order manager's part -------------------------------------------------------------------


class VenueSync:
    """Adopts REST answers, polls, back-fills fills and corrects positions while the daemon runs."""

    def __init__(
        self,
        ctx: OrderContext,
        *,
        poll_seconds: float,
        settle_seconds: float,
        resend: Callable[[TrackedOrder], Coroutine[Any, Any, None]],
        book: Callable[[TrackedOrder, Fill], Coroutine[Any, Any, None]],
    ) -> None:
        self._ctx = ctx
        self._poll_s = poll_seconds
        self._settle_s = settle_seconds
        self._resend = resend
        self._book = book  # FillBooker.book_backfilled

    async def adopt(self, order: TrackedOrder, venue: VenueOrder) -> None:
        """Take the venue's view of the order (a REST answer), persist it, publish a change."""
        ctx = self._ctx
        changed, contradiction = apply_venue_view(order, venue)
        if contradiction is not None:
            ctx.counters.invalid_transitions += 1
        ctx.registry.note_venue_id(order)
        if order.state is OrderState.REJECTED:
            order.reason = order.reason or "rejected by venue"
        order.note_shortfall(ctx.wall.monotonic())
        await ctx.persist(order)
        if order.state is OrderState.NEW:
            crash_point("after_order_accepted")
        if changed:
            ctx.publish_order(order)
        ctx.registry.retire_if_done(order)

    def needs_poll(self) -> bool:
        """Even with a live stream: orders in UNKNOWN, or fills the venue reported but we lack."""
        now = self._ctx.wall.monotonic()
        registry = self._ctx.registry
        for order in registry.live.values():
            if order.busy:
                continue
            if order.state in (OrderState.UNKNOWN, OrderState.PENDING_CANCEL):
                return True
            if order.shortfall_since is not None and now - order.shortfall_since >= self._poll_s:
                return True
        return any(
            o.shortfall_since is not None and now - o.shortfall_since >= self._poll_s
            for o in registry.finished.values()
        )

    async def poll_once(self) -> None:
        """Query every live order by client id, resend proven never-arrived ones, back-fill fills."""
        ctx = self._ctx
        ctx.counters.polls += 1
        for order in list(ctx.registry.live.values()):
            if order.busy or order.state.is_terminal:
                continue
            try:
                found = await ctx.gateway.query_order(order.symbol, order.cid)
            except FatalError:
                raise
            except GatewayError as exc:
                _log.warning("order_manager.poll_query_failed", client_order_id=order.cid, error=repr(exc))
                continue
            if found is not None:
                if order.state is OrderState.UNKNOWN:
                    ctx.counters.unknown_resolved += 1
                    ctx.alert(AlertKind.ORDER_UNKNOWN_RESOLVED, f"{order.cid}: the venue has it "
                              f"({found.status.value}); tracked from here", order.symbol)
                await self.adopt(order, found)
            elif order.state.is_unconfirmed:
                # Unknown outcome and no answer earlier: resend only once the original can no
                # longer reach the venue (recvWindow), and mark busy now so no other poll resends.
                if ctx.wall.monotonic() - order.last_sent_at < self._settle_s:
                    continue
                order.busy = True
                ctx.counters.unknown_resolved += 1
                ctx.counters.resent_after_unknown += 1
                ctx.alert(AlertKind.ORDER_UNKNOWN_RESOLVED, f"{order.cid}: the venue never got it; "
                          "sent again under the same client id", order.symbol)
                ctx.spawn(self._resend(order), name=f"om.resend.{order.cid}")
            else:
                _log.error(
                    "order_manager.open_order_missing", client_order_id=order.cid, state=order.state.value
                )
        await self.backfill()

    async def backfill(self) -> None:
        """Fetch userTrades for symbols whose orders show more filled quantity than booked fills."""
        ctx = self._ctx
        registry = ctx.registry
        wanted: dict[str, int] = {}
        live = [o for o in registry.live.values() if ctx.stream_down and o.progress.order_id is not None]
        short = [
            o for o in [*registry.live.values(), *registry.finished.values()] if o.shortfall_since is not None
        ]
        for order in [*live, *short]:
            if order.progress.order_id is not None:
                start = order.created_time - 60_000
                wanted[order.symbol] = min(start, wanted.get(order.symbol, start))
        for symbol, start in wanted.items():
            trades = await ctx.gateway.user_trades(symbol, start_time=start)
            for owner, fill in new_fills(trades, registry.by_venue_id):
                await self._book(owner, fill)
                registry.retire_if_done(owner)
