"""Sending an order that is already in the database, until the venue has it, refuses it, or its
outcome cannot be learned; never twice for one intent.

- RetryableError (the venue certainly did nothing): sent again up to `max_retries` times with
  exponential backoff and jitter; a 429 waits at least its Retry-After. An entry that could not
  leave within `entry_send_deadline_s` is dropped (EXPIRED, with the reason), never sent late at a
  stale price; an exit waits as long as it takes.
- OutcomeUnknownError (timeout, 5xx): the order becomes UNKNOWN and is resolved by querying its
  client id. Only when the venue says it never saw the order, and only after the original request
  can no longer arrive (its recvWindow has passed), is the same client id sent again. If the query
  itself gets no answer, the order stays UNKNOWN for the poll (`venue_sync.py`): no path sends a
  second order for one intent.
- RejectedError: REJECTED with Binance's code and message, except -4116 (the id is already open on
  the venue), which is resolved like an unknown outcome and adopted.
- FatalError: the order is marked, published, and trading halts.

If the user stream reports the order while its REST answer is lost, the venue has it: never resend.
Every wait here is on the network clock (`OrderContext.wall`).
"""

from __future__ import annotations

import random

import structlog

from core.alerts import AlertKind
from core.binance_codes import BinanceCode
from core.errors import FatalError, GatewayError, RateLimitedError, RejectedError, RetryableError
from core.order_state import OrderState
from executor.orders.context import OrderContext
from executor.orders.registry import TrackedOrder
from executor.orders.venue_sync import VenueSync
from executor.venue_api import VenueOrder
from utils.crash_points import crash_point

_log = structlog.get_logger(__name__)


class _Unresolved:
    """The venue could not be asked whether it has the order; it stays UNKNOWN."""


_UNRESOLVED = _Unresolved()


class OrderSender:
    """Sends orders and resolves unknown outcomes (see the module docstring)."""

    def __init__(
        self,
        ctx: OrderContext,
        sync: VenueSync,
        *,
        max_retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
        settle_seconds: float,
        max_queries: int,
        rng: random.Random,
        entry_send_deadline_s: float = 5.0,
    ) -> None:
        self._ctx = ctx
        self._sync = sync
        self._max_retries = max_retries
        self._backoff_base = backoff_base_s
        self._backoff_max = backoff_max_s
        # A request reaching the venue later than its timestamp + recvWindow (5 s by default) is
        # refused, so after this long "the venue never saw it" is final and a resend is safe.
        self._settle_s = settle_seconds
        self._max_queries = max_queries
        self._rng = rng
        # An entry is a price decision of a moment: one that cannot leave within this many seconds
        # (a 429 pause, a venue refusing) is dropped, never sent late. Exits wait as long as it takes.
        self._entry_deadline_s = entry_send_deadline_s

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, capped."""
        ceiling = min(self._backoff_max, self._backoff_base * (2 ** max(0, attempt - 1)))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    async def send(self, order: TrackedOrder) -> None:
        """Send until the venue has the order, refuses it, or its outcome cannot be learned."""
        order.busy = True
        try:
            await self._send_loop(order)
        finally:
            order.busy = False

    async def _send_loop(self, order: TrackedOrder) -> None:
        ctx = self._ctx
        retries = 0
        started = ctx.wall.monotonic()
        while True:
            if not order.state.is_unconfirmed:
                return  # the user stream already showed the order on the venue: never resend
            if ctx.halted is not None:
                await self.finish(order, OrderState.REJECTED, f"not sent: trading halted ({ctx.halted})")
                return
            resend = order.send_attempts > 0
            order.send_attempts += 1
            ctx.counters.send_attempts += 1
            order.progress.move_to(OrderState.SENT)
            if resend:
                # The row's updated_time must be the time of the latest send: reconciliation after
                # a crash waits a recvWindow from it before concluding "never arrived".
                await ctx.persist(order)
            sent_at = order.last_sent_at = ctx.wall.monotonic()
            delay = 0.0
            unknown: GatewayError | None = None
            try:
                venue = await ctx.gateway.place_order(order.request)
                crash_point("after_order_sent")
            except RateLimitedError as exc:
                retries += 1
                delay = max(float(exc.retry_after), self.backoff(retries))
                order.last_error = f"429 rate limited: {exc}"
            except RetryableError as exc:
                retries += 1
                delay = self.backoff(retries)
                order.last_error = f"retryable: {exc}"
            except RejectedError as exc:
                if exc.code != BinanceCode.DUPLICATE_CLIENT_ORDER_ID:
                    ctx.counters.rejects_venue += 1
                    await self.finish(order, OrderState.REJECTED, f"rejected by venue: {exc.code}: {exc.msg}")
                    ctx.alert(AlertKind.ORDER_REJECTED, f"{_describe(order)}: Binance {exc.code}: {exc.msg}",
                              order.symbol)
                    return
                # The venue already holds an open order with this id: find it and adopt it.
                unknown = exc
            except FatalError as exc:
                await self.finish(order, OrderState.REJECTED, f"not sent: fatal gateway error: {exc}")
                ctx.halt(exc)
                return
            except GatewayError as exc:
                # OutcomeUnknownError, or any unclassified failure that might have reached the venue.
                unknown = exc
            else:
                await self._sync.adopt(order, venue)
                return

            if not order.state.is_unconfirmed:
                await self._answer_lost(order, unknown)
                return

            if unknown is not None:
                order.last_error = f"outcome unknown: {unknown}"
                outcome = await self._resolve(order, sent_at, unknown)
                if outcome is not None or not order.state.is_unconfirmed:
                    return  # adopted, or left UNKNOWN for the poll: never resend blindly
                # The venue never saw it and the old request can no longer land: resend.
                retries += 1
                if retries > self._max_retries:
                    # Proven never to have arrived, every time: not placed, and not silently
                    # CANCELED either: LOST is shown and alerted.
                    attempts = order.send_attempts
                    reason = f"never reached the venue after {attempts} attempts: {order.last_error}"
                    await self.finish(order, OrderState.LOST, reason)
                    ctx.alert(AlertKind.ORDER_LOST, f"{_describe(order)}: {reason}", order.symbol)
                    return
                ctx.counters.resent_after_unknown += 1
                continue

            # Retryable: the venue did nothing with this request.
            late = ctx.wall.monotonic() + delay - started
            if not order.request.reduce_only and late > self._entry_deadline_s:
                await self.finish(
                    order,
                    OrderState.EXPIRED,
                    f"not sent: an entry cannot leave within {self._entry_deadline_s:g} s "
                    f"(next attempt in {delay:.0f} s: {order.last_error})",
                )
                return
            if retries > self._max_retries:
                ctx.counters.rejects_venue += 1
                reason = f"not sent: gave up after {retries} attempts: {order.last_error}"
                await self.finish(order, OrderState.REJECTED, reason)
                ctx.alert(AlertKind.ORDER_REJECTED, f"{_describe(order)}: {reason}", order.symbol)
                return
            ctx.counters.retries += 1
            _log.warning(
                "order_manager.retry",
                client_order_id=order.cid,
                attempt=retries,
                delay_s=round(delay, 3),
                error=order.last_error,
            )
            await ctx.persist(order)
            await ctx.wall.sleep(delay)

    async def _answer_lost(self, order: TrackedOrder, unknown: GatewayError | None) -> None:
        """The answer was lost, but the user stream has already reported the order (it can beat
        the REST answer): the venue has it, so the outcome is known. Never resend."""
        ctx = self._ctx
        if unknown is not None:
            ctx.counters.unknown_outcomes += 1
            ctx.counters.unknown_resolved += 1
            order.last_error = f"outcome unknown, order reported by the user stream: {unknown}"
        _log.info("order_manager.send_answer_lost", client_order_id=order.cid, state=order.state.value)
        await ctx.persist(order)

    async def _resolve(
        self, order: TrackedOrder, sent_at: float, exc: GatewayError
    ) -> VenueOrder | _Unresolved | None:
        """Mark UNKNOWN and ask the venue. Returns the adopted VenueOrder, _UNRESOLVED when no answer
        could be had (the order stays UNKNOWN for the poll), or None when it is safe to resend."""
        ctx = self._ctx
        ctx.counters.unknown_outcomes += 1
        order.progress.move_to(OrderState.UNKNOWN)
        _log.warning("order_manager.outcome_unknown", client_order_id=order.cid, error=repr(exc))
        await ctx.persist(order)
        outcome = await self._query_until_settled(order, sent_at)
        if isinstance(outcome, VenueOrder):
            ctx.counters.unknown_resolved += 1
            await self._sync.adopt(order, outcome)
            return outcome
        if outcome is None:
            ctx.counters.unknown_resolved += 1
            return None
        ctx.alert(
            AlertKind.ORDER_UNKNOWN,
            f"{_describe(order)}: sent, but the venue could not be asked whether it has it "
            f"({order.last_error}); it stays UNKNOWN and is never sent again until the poll learns "
            "the outcome",
            order.symbol,
        )
        return _UNRESOLVED

    async def _query_until_settled(
        self, order: TrackedOrder, sent_at: float
    ) -> VenueOrder | _Unresolved | None:
        """Query by client id; believe "never saw it" only once the original can no longer land."""
        ctx = self._ctx
        for attempt in range(1, self._max_queries + 1):
            try:
                found = await ctx.gateway.query_order(order.symbol, order.cid)
            except FatalError as exc:
                ctx.halt(exc)
                return _UNRESOLVED
            except GatewayError as exc:
                order.last_error = f"query failed: {exc}"
                await ctx.wall.sleep(self.backoff(attempt))
                continue
            if found is not None:
                return found
            remaining = self._settle_s - (ctx.wall.monotonic() - sent_at)
            if remaining <= 0:
                return None
            await ctx.wall.sleep(remaining)
        return _UNRESOLVED

    async def finish(self, order: TrackedOrder, state: OrderState, reason: str) -> None:
        """A local terminal decision (rejected, never reached the venue)."""
        ctx = self._ctx
        order.progress.move_to(state)
        order.reason = reason
        _log.warning(
            "order_manager.order_finished", client_order_id=order.cid, state=state.value, reason=reason
        )
        await ctx.persist(order)
        ctx.publish_order(order)
        ctx.registry.retire_if_done(order)


def _describe(order: TrackedOrder) -> str:
    """`BUY 10 LIMIT @ 2.1 (client id)` for alerts."""
    request = order.request
    price = f" @ {request.price}" if request.price is not None else ""
    return f"{request.side.value} {request.quantity} {request.order_type.value}{price} ({order.cid})"
