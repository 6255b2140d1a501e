"""The order manager: from an OrderRequest to a booked fill, exactly once.

For each request on `order.request`:

1. a client id already known (in memory or in the database) is a replay: it is never sent again;
2. validation (executor/orders/filters.py): an order that cannot be made valid is stored as
   REJECTED with the reason, published, and never sent;
3. the row is inserted as PENDING_NEW and committed BEFORE anything is sent;
4. the send: a RetryableError (the venue certainly did nothing) is retried up to `max_retries`
   times with exponential backoff and jitter (a 429 waits at least its Retry-After); an
   OutcomeUnknownError (timeout, 5xx) marks the order UNKNOWN and is resolved by querying the
   client id. Only when the venue says it never saw the order, and only after the original request
   can no longer arrive (its recvWindow has passed), is the same client id sent again. If the
   query itself cannot get an answer, the order stays UNKNOWN and is queried again on every poll:
   no path sends a second order for one intent. RejectedError -> REJECTED with code and message
   (a -4116 duplicate id means the order is live on the venue: it is adopted). FatalError -> the
   order is marked, published, and the manager stops (the daemon halts).

ExecutionReports (`account.execution`) drive the state machine (core/order_state.py); each
new fill is inserted into `fills` (unique on symbol + trade_id), booked into the position and
persisted in one transaction, then published on `order.update` and `position.update`. An
ACCOUNT_UPDATE with reason FUNDING_FEE books funding: to the one open position, or, with several
open (cross margin reports only the summed balance change), per symbol from the venue's income
history. After a UserStreamReset the manager first books any funding the stream lost (income
history), then polls open orders over REST every `poll_seconds` and back-fills fills from
userTrades until the stream delivers again; it also back-fills whenever the venue reports more
filled quantity than the fills we hold. Unfilled entry orders are cancelled after
`order_ttl_seconds` (on the clock's timeline) and, with `reprice_on_ttl`, re-sent once at the
current mark under a derived client id.

Network waits (backoff, Retry-After, recvWindow settling, poll cadence) use real time: rate limits
and recvWindow follow the wall clock even when the market runs on a simulated one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

import structlog

from core import channels
from core.binance_codes import BinanceCode
from core.bus import Bus, Subscription
from core.decimals import PriceIntent, quantize_price
from core.errors import (
    FatalError,
    GatewayError,
    InvalidTransition,
    OrderValidationError,
    RateLimitedError,
    RejectedError,
    RetryableError,
)
from core.events import (
    AccountUpdate,
    ExecutionReport,
    MarkPrice,
    OrderRequest,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    UserStreamReset,
)
from core.instruments import Instrument
from core.order_state import (
    LIVE_STATES,
    OrderState,
)
from executor.orders import store as order_store
from executor.orders.filters import REPRICE_SUFFIX, reprice_client_id, validate_order
from executor.orders.positions import Position
from executor.orders.progress import Fill, OrderProgress
from executor.orders.reconcile import OrderGateway, SessionRunner, backfill_funding, corrected_position
from executor.venue_api import VenueOrder
from utils.clock import Clock

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)



@dataclass(slots=True)
class OrderCounters:
    """Counters for the heartbeat."""

    requests: int = 0
    duplicates: int = 0
    orders_sent: int = 0
    send_attempts: int = 0
    retries: int = 0
    unknown_outcomes: int = 0
    unknown_resolved: int = 0
    resent_after_unknown: int = 0
    rejects_local: int = 0
    rejects_venue: int = 0
    fills_booked: int = 0
    fills_backfilled: int = 0
    duplicate_events: int = 0
    foreign_reports: int = 0
    invalid_transitions: int = 0
    ttl_cancels: int = 0
    reprices: int = 0
    polls: int = 0
    funding_payments: int = 0
    funding_backfill_failures: int = 0
    position_corrections: int = 0


@dataclass(slots=True)
class _Order:
    request: OrderRequest
    progress: OrderProgress
    created_time: int
    expire_time: int | None
    reason: str = ""
    send_attempts: int = 0
    last_error: str = ""
    busy: bool = False  # a send or cancel is in progress: the poll leaves it alone
    shortfall_since: float | None = None  # monotonic time the venue first showed unbooked fills
    last_sent_at: float = 0.0  # monotonic time of the last send attempt

    @property
    def cid(self) -> str:
        return self.request.client_order_id

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def state(self) -> OrderState:
        return self.progress.state


class _Unresolved:
    """The venue could not be asked whether it has the order; it stays UNKNOWN."""


_UNRESOLVED = _Unresolved()


class OrderManager:
    """Consumes `order.request`, `account.execution` and `account.update`; see the module docstring.

    `run()` is the task; `status()` gives the heartbeat counters. `instruments` is read live, so
    symbols added at run time are picked up.
    """

    def __init__(
        self,
        gateway: OrderGateway,
        db: SessionRunner,
        bus: Bus,
        clock: Clock,
        instruments: Mapping[str, Instrument],
        *,
        order_ttl_seconds: float,
        reprice_on_ttl: bool,
        poll_seconds: float,
        ttl_check_seconds: float = 1.0,
        max_retries: int = 5,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 5.0,
        unknown_settle_s: float = 6.0,
        unknown_max_queries: int = 5,
        rng: random.Random | None = None,
    ) -> None:
        self._gateway = gateway
        self._db = db
        self._bus = bus
        self._clock = clock
        self._instruments = instruments
        self._ttl_ms = int(order_ttl_seconds * 1000)
        self._reprice = reprice_on_ttl
        self._poll_s = poll_seconds
        # Real seconds between TTL checks: TTLs run on the market clock, which a simulator may run
        # hundreds of times faster than the wall clock (the daemon passes 1 / speed).
        self._ttl_check_s = ttl_check_seconds
        self._max_retries = max_retries
        self._backoff_base = backoff_base_s
        self._backoff_max = backoff_max_s
        # A request reaching the venue later than its timestamp + recvWindow (5 s by default) is
        # refused, so after this long "the venue never saw it" is final and a resend is safe.
        self._settle_s = unknown_settle_s
        self._max_queries = unknown_max_queries
        self._rng = rng or random.Random()
        self.counters = OrderCounters()
        self._orders: dict[str, _Order] = {}  # not terminal
        self._finished: OrderedDict[str, _Order] = OrderedDict()  # recent terminal ones, for late fills
        self._by_venue_id: dict[int, _Order] = {}
        self._claimed: set[str] = set()  # client ids whose request is being handled
        self._positions: dict[str, Position] = {}
        self._marks: dict[str, Decimal] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stream_down = False
        self._halted: FatalError | None = None
        self._fatal: asyncio.Event | None = None
        self._loaded = False
        # Subscribe now, so nothing published before run() starts is missed.
        self._requests = bus.subscribe(channels.ORDER_REQUEST, name="order_manager.requests")
        self._executions = bus.subscribe(channels.ACCOUNT_EXECUTION, name="order_manager.executions")
        self._account = bus.subscribe(channels.ACCOUNT_UPDATE, name="order_manager.account")
        self._market = bus.subscribe(channels.ALL_MARKETS, name="order_manager.marks")

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled; raises the FatalError that halted trading, if one did."""
        self._fatal = asyncio.Event()
        await self.load()
        loops = [
            asyncio.create_task(self._consume(self._requests, self._on_request_event), name="om.requests"),
            asyncio.create_task(self._consume(self._executions, self._on_execution), name="om.executions"),
            asyncio.create_task(self._consume(self._account, self._on_account_event), name="om.account"),
            asyncio.create_task(self._consume(self._market, self._on_market), name="om.marks"),
            asyncio.create_task(self._housekeeping(), name="om.housekeeping"),
        ]
        fatal_wait = asyncio.create_task(self._fatal.wait(), name="om.fatal")
        try:
            done, _ = await asyncio.wait([*loops, fatal_wait], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not fatal_wait and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if self._halted is not None:
                raise self._halted
        finally:
            for task in [*loops, fatal_wait, *self._tasks]:
                task.cancel()
            for task in [*loops, fatal_wait, *self._tasks]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for sub in (self._requests, self._executions, self._account, self._market):
                sub.close()

    async def load(self) -> None:
        """Load live orders and positions from the database (run() does this first)."""
        if self._loaded:
            return
        stored = await self._db.run(lambda s: order_store.orders_in_states(s, LIVE_STATES))
        for row in stored:
            self._register(self._from_stored(row))
        self._positions = await self._db.run(order_store.load_positions)
        self._loaded = True

    def status(self) -> dict[str, Any]:
        """Counters and open orders for the heartbeat."""
        by_state: dict[str, int] = {}
        for order in self._orders.values():
            by_state[order.state.value] = by_state.get(order.state.value, 0) + 1
        return {
            **{name: getattr(self.counters, name) for name in OrderCounters.__slots__},
            "open_orders": len(self._orders),
            "orders_by_state": by_state,
            "user_stream_down": self._stream_down,
            "halted": str(self._halted) if self._halted else "",
        }

    def position(self, symbol: str) -> Position:
        """The booked position of `symbol`."""
        return self._positions.get(symbol) or Position(symbol)

    def order_state(self, client_order_id: str) -> OrderState | None:
        """The state of an order this manager holds in memory (None if unknown to it)."""
        order = self._orders.get(client_order_id) or self._finished.get(client_order_id)
        return order.state if order else None

    async def _consume(self, sub: Subscription, handler: Callable[[Any], Any]) -> None:
        async for event in sub:  # ends when the subscription is closed
            try:
                await handler(event)
            except FatalError as exc:
                self._halt(exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad event must not stop the order path; it is logged with its traceback.
                _log.exception("order_manager.handler_failed", event=type(event).__name__)

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, FatalError):
            self._halt(exc)
        elif exc is not None:
            _log.error("order_manager.task_failed", task=task.get_name(), error=repr(exc), exc_info=exc)

    def _halt(self, exc: FatalError) -> None:
        if self._halted is None:
            _log.critical("order_manager.halted", error=repr(exc))
            self._halted = exc
        if self._fatal is not None:
            self._fatal.set()

    # --- requests -------------------------------------------------------------------------------

    async def _on_request_event(self, event: object) -> None:
        if isinstance(event, OrderRequest):
            self.counters.requests += 1
            cid = event.client_order_id
            if cid in self._claimed or cid in self._orders or cid in self._finished:
                self.counters.duplicates += 1
                _log.info("order_manager.duplicate_request", client_order_id=cid)
                return
            self._claimed.add(cid)
            self._spawn(self.submit(event), name=f"om.submit.{cid}")

    async def submit(self, request: OrderRequest) -> OrderState:
        """Handle one request end to end (validate, persist, send); returns the state it reached."""
        cid = request.client_order_id
        self._claimed.add(cid)
        try:
            return await self._submit(request)
        finally:
            self._claimed.discard(cid)

    async def _submit(self, request: OrderRequest) -> OrderState:
        cid = request.client_order_id
        known = self._orders.get(cid) or self._finished.get(cid)
        if known is None:
            stored = await self._db.run(lambda s: order_store.find_order(s, cid))
            if stored is not None:
                known = self._from_stored(stored)
                if not known.state.is_terminal:
                    self._register(known)
        if known is not None:
            # A replay of an intent we already hold: never send it twice.
            self.counters.duplicates += 1
            _log.info("order_manager.replayed_request", client_order_id=cid, state=known.state.value)
            return known.state

        now = self._clock.now_ms()
        if self._halted is not None:
            return await self._reject_locally(request, f"trading halted: {self._halted}", now)
        instrument = self._instruments.get(request.symbol)
        if instrument is None:
            return await self._reject_locally(request, f"{request.symbol} is not a known instrument", now)
        try:
            valid = validate_order(
                request,
                instrument,
                mark_price=self._marks.get(request.symbol),
                open_order_count=sum(1 for o in self._orders.values() if o.symbol == request.symbol),
                position_qty=self.position(request.symbol).quantity,
            )
        except OrderValidationError as exc:
            return await self._reject_locally(request, exc.reason, now)

        expire = None if valid.reduce_only else valid.created_time + self._ttl_ms
        order = _Order(
            request=valid,
            progress=OrderProgress(OrderState.PENDING_NEW, valid.quantity),
            created_time=valid.created_time,
            expire_time=expire,
            busy=True,  # the poll must not touch it until the first send has finished
        )
        # Registered before the insert, so a user-stream report that beats the REST answer finds it.
        self._register(order)
        try:
            inserted = await self._db.run(
                lambda s: order_store.insert_order(
                    s, valid, OrderState.PENDING_NEW, now=now, expire_time=expire
                )
            )
        except BaseException:
            # Not in the database means never sent: forget it (the error is logged by the caller).
            self._unregister(order)
            raise
        if not inserted:
            # Another path inserted this client id between our lookup and now: a replay.
            self._unregister(order)
            self.counters.duplicates += 1
            return OrderState.PENDING_NEW
        self.counters.orders_sent += 1
        await self._send(order)
        return order.state

    async def _reject_locally(self, request: OrderRequest, reason: str, now: int) -> OrderState:
        self.counters.rejects_local += 1
        _log.warning("order_manager.rejected_locally", client_order_id=request.client_order_id, reason=reason)
        inserted = await self._db.run(
            lambda s: order_store.insert_order(s, request, OrderState.REJECTED, now=now, reason=reason)
        )
        order = _Order(
            request=request,
            progress=OrderProgress(OrderState.REJECTED, request.quantity),
            created_time=request.created_time,
            expire_time=None,
            reason=reason,
        )
        self._remember_finished(order)
        if inserted:
            self._publish_order(order)
        return OrderState.REJECTED

    # --- sending --------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, capped."""
        ceiling = min(self._backoff_max, self._backoff_base * (2 ** max(0, attempt - 1)))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    async def _send(self, order: _Order) -> None:
        """Send until the venue has the order, refuses it, or its outcome cannot be learned."""
        order.busy = True
        try:
            await self._send_loop(order)
        finally:
            order.busy = False

    async def _send_loop(self, order: _Order) -> None:
        retries = 0
        while True:
            if not order.state.is_unconfirmed:
                return  # the user stream already showed the order on the venue: never resend
            if self._halted is not None:
                await self._finish(order, OrderState.REJECTED, f"not sent: trading halted ({self._halted})")
                return
            resend = order.send_attempts > 0
            order.send_attempts += 1
            self.counters.send_attempts += 1
            order.progress.move_to(OrderState.SENT)
            if resend:
                # The row's updated_time must be the time of the latest send: reconciliation after
                # a crash waits a recvWindow from it before concluding "never arrived".
                await self._persist(order)
            sent_at = order.last_sent_at = time.monotonic()
            delay = 0.0
            unknown: GatewayError | None = None
            try:
                venue = await self._gateway.place_order(order.request)
            except RateLimitedError as exc:
                retries += 1
                delay = max(float(exc.retry_after), self._backoff(retries))
                order.last_error = f"429 rate limited: {exc}"
            except RetryableError as exc:
                retries += 1
                delay = self._backoff(retries)
                order.last_error = f"retryable: {exc}"
            except RejectedError as exc:
                if exc.code != BinanceCode.DUPLICATE_CLIENT_ORDER_ID:
                    self.counters.rejects_venue += 1
                    await self._finish(
                        order, OrderState.REJECTED, f"rejected by venue: {exc.code}: {exc.msg}"
                    )
                    return
                # The venue already holds an open order with this id: find it and adopt it.
                unknown = exc
            except FatalError as exc:
                await self._finish(order, OrderState.REJECTED, f"not sent: fatal gateway error: {exc}")
                self._halt(exc)
                return
            except GatewayError as exc:
                # OutcomeUnknownError, or any unclassified failure that might have reached the venue.
                unknown = exc
            else:
                await self._adopt(order, venue)
                return

            if not order.state.is_unconfirmed:
                # The answer was lost, but the user stream has already reported the order (it can
                # beat the REST answer): the venue has it, so the outcome is known. Never resend.
                if unknown is not None:
                    self.counters.unknown_outcomes += 1
                    self.counters.unknown_resolved += 1
                if unknown is not None:
                    order.last_error = f"outcome unknown, order reported by the user stream: {unknown}"
                _log.info(
                    "order_manager.send_answer_lost", client_order_id=order.cid, state=order.state.value
                )
                await self._persist(order)
                return

            if unknown is not None:
                order.last_error = f"outcome unknown: {unknown}"
                outcome = await self._resolve(order, sent_at, unknown)
                if outcome is not None or not order.state.is_unconfirmed:
                    return  # adopted, or left UNKNOWN for the poll: never resend blindly
                # The venue never saw it and the old request can no longer land: resend.
                retries += 1
                if retries > self._max_retries:
                    await self._finish(
                        order,
                        OrderState.CANCELED,
                        f"never reached the venue after {order.send_attempts} attempts: {order.last_error}",
                    )
                    return
                self.counters.resent_after_unknown += 1
                continue

            # Retryable: the venue did nothing with this request.
            if retries > self._max_retries:
                self.counters.rejects_venue += 1
                await self._finish(
                    order,
                    OrderState.REJECTED,
                    f"not sent: gave up after {retries} attempts: {order.last_error}",
                )
                return
            self.counters.retries += 1
            _log.warning(
                "order_manager.retry",
                client_order_id=order.cid,
                attempt=retries,
                delay_s=round(delay, 3),
                error=order.last_error,
            )
            await self._persist(order)
            await asyncio.sleep(delay)

    async def _resolve(
        self, order: _Order, sent_at: float, exc: GatewayError
    ) -> VenueOrder | _Unresolved | None:
        """Mark UNKNOWN and ask the venue. Returns the adopted VenueOrder, _UNRESOLVED when no answer
        could be had (the order stays UNKNOWN for the poll), or None when it is safe to resend."""
        self.counters.unknown_outcomes += 1
        order.progress.move_to(OrderState.UNKNOWN)
        _log.warning("order_manager.outcome_unknown", client_order_id=order.cid, error=repr(exc))
        await self._persist(order)
        outcome = await self._query_until_settled(order, sent_at)
        if isinstance(outcome, VenueOrder):
            self.counters.unknown_resolved += 1
            await self._adopt(order, outcome)
            return outcome
        if outcome is None:
            self.counters.unknown_resolved += 1
            return None
        return _UNRESOLVED

    async def _query_until_settled(self, order: _Order, sent_at: float) -> VenueOrder | _Unresolved | None:
        """Query by client id; believe "never saw it" only once the original can no longer land."""
        for attempt in range(1, self._max_queries + 1):
            try:
                found = await self._gateway.query_order(order.symbol, order.cid)
            except FatalError as exc:
                self._halt(exc)
                return _UNRESOLVED
            except GatewayError as exc:
                order.last_error = f"query failed: {exc}"
                await asyncio.sleep(self._backoff(attempt))
                continue
            if found is not None:
                return found
            remaining = self._settle_s - (time.monotonic() - sent_at)
            if remaining <= 0:
                return None
            await asyncio.sleep(remaining)
        return _UNRESOLVED

    async def _adopt(self, order: _Order, venue: VenueOrder) -> None:
        """Take the venue's view of the order (a REST answer)."""
        try:
            changed = order.progress.on_venue_order(venue)
        except InvalidTransition as exc:
            changed = self._contradiction(order, exc, venue.status.value)
            order.progress.venue_cum_qty = max(order.progress.venue_cum_qty, venue.executed_qty)
        if order.progress.order_id is not None:
            self._by_venue_id[order.progress.order_id] = order
        if order.state is OrderState.REJECTED:
            order.reason = order.reason or "rejected by venue"
        self._note_shortfall(order)
        await self._persist(order)
        if changed:
            self._publish_order(order)
        self._retire_if_done(order)

    def _contradiction(self, order: _Order, exc: InvalidTransition, venue_state: str) -> bool:
        """The venue contradicts our terminal view: the venue is the truth, loudly."""
        self.counters.invalid_transitions += 1
        _log.error("order_manager.invalid_transition", client_order_id=order.cid, error=str(exc))
        target = OrderState(venue_state) if venue_state in OrderState.__members__ else OrderState.EXPIRED
        if not order.progress.correct_to(target):
            return False
        order.reason = f"venue contradicted local state: {exc}"
        return True

    async def _finish(self, order: _Order, state: OrderState, reason: str) -> None:
        """A local terminal decision (rejected, never reached the venue)."""
        order.progress.move_to(state)
        order.reason = reason
        _log.warning(
            "order_manager.order_finished", client_order_id=order.cid, state=state.value, reason=reason
        )
        await self._persist(order)
        self._publish_order(order)
        self._retire_if_done(order)

    # --- venue events ---------------------------------------------------------------------------

    async def _on_execution(self, report: object) -> None:
        if not isinstance(report, ExecutionReport):
            return
        if self._stream_down:
            # The stream is back; one more poll catches anything that happened in between.
            self._stream_down = False
            _log.info("order_manager.user_stream_resumed")
            self._spawn(self._poll_once(), name="om.poll.resume")
        order = await self._lookup(report.client_order_id)
        if order is None:
            self.counters.foreign_reports += 1
            _log.warning(
                "order_manager.foreign_report", client_order_id=report.client_order_id, symbol=report.symbol
            )
            return
        try:
            changed, fill = order.progress.on_report(report)
        except InvalidTransition as exc:
            changed = self._contradiction(order, exc, report.status.value)
            fill = Fill.from_report(report)
            if fill is not None and not order.progress.add_fill(fill):
                fill = None
        if order.progress.order_id is not None:
            self._by_venue_id[order.progress.order_id] = order
        if fill is None and Fill.from_report(report) is not None:
            self.counters.duplicate_events += 1
        if fill is not None:
            await self._book(order, fill)
        elif changed:
            await self._persist(order)
            self._publish_order(order)
        else:
            self._note_shortfall(order)
        self._retire_if_done(order)

    async def _book(self, order: _Order, fill: Fill, *, backfilled: bool = False) -> None:
        """Persist a fill (deduped in the database), the position and the order; publish both."""
        snapshot = self._snapshot(order)
        booked = await self._db.run(
            lambda s: order_store.book_fill(s, fill, strategy=order.request.strategy, snapshot=snapshot)
        )
        self._note_shortfall(order)
        if booked is None:
            self.counters.duplicate_events += 1
            await self._persist(order)
            return
        self.counters.fills_booked += 1
        if backfilled:
            self.counters.fills_backfilled += 1
        self._positions[fill.symbol] = booked.position
        self._publish_order(order, fill=fill, realized=booked.realized)
        self._publish_position(booked.position, fill.time, strategy=order.request.strategy)

    async def _lookup(self, cid: str) -> _Order | None:
        order = self._orders.get(cid) or self._finished.get(cid)
        if order is not None:
            return order
        stored = await self._db.run(lambda s: order_store.find_order(s, cid))
        if stored is None:
            return None
        order = self._from_stored(stored)
        if order.state.is_terminal:
            self._remember_finished(order)
        else:
            self._register(order)
        return order

    async def _on_account_event(self, event: object) -> None:
        if isinstance(event, UserStreamReset):
            _log.warning("order_manager.user_stream_reset", reason=event.reason)
            self._stream_down = True
            self._spawn(self._catch_up_after_reset(), name="om.poll.reset")
        elif isinstance(event, AccountUpdate) and event.reason == "FUNDING_FEE":
            await self._book_funding(event)

    async def _catch_up_after_reset(self) -> None:
        """Events may have been lost with the stream: funding from the income history first, then
        orders, fills and positions (in that order, so a position check sees the funding booked)."""
        await self._backfill_funding()
        await self._poll_once(check_positions=True)

    async def _book_funding(self, event: AccountUpdate) -> None:
        # Binance names the position only for isolated margin; in cross margin the balance change
        # is the sum over every position, so it is that position's only when one is open.
        changes = [c for c in event.balances if c.balance_change != _ZERO]
        symbols = [p.symbol for p in event.positions]
        if not symbols:
            symbols = [s for s, p in self._positions.items() if not p.is_flat]
        if not changes:
            return
        if len(symbols) == 1:
            for change in changes:
                await self._record_funding(
                    symbols[0], change.asset, change.balance_change, event.transaction_time, event.event_time
                )
            return
        # Several positions: the income history has each symbol's share. The query (weight 30)
        # must not hold up the account events queued behind this one.
        self._spawn(self._backfill_funding(), name="om.funding")

    async def _backfill_funding(self) -> None:
        """Book the funding the venue charged our open positions that is not booked yet."""
        try:
            changed = await backfill_funding(self._gateway, self._db, self._clock)
        except FatalError as exc:
            self._halt(exc)
            return
        except GatewayError as exc:  # already retried; the next funding event, reset or restart tries again
            self.counters.funding_backfill_failures += 1
            _log.error("order_manager.funding_backfill_failed", error=repr(exc))
            return
        for position in changed:
            self.counters.funding_payments += 1
            self._positions[position.symbol] = position
            self._publish_position(position, self._clock.now_ms())

    async def _record_funding(
        self, symbol: str, asset: str, amount: Decimal, at: int, event_time: int
    ) -> None:
        """Book one funding payment into the position, once per symbol and funding time."""
        position = await self._db.run(
            partial(order_store.book_funding, symbol=symbol, asset=asset, amount=amount, time=at)
        )
        if position is None:
            return
        self.counters.funding_payments += 1
        self._positions[symbol] = position
        self._publish_position(position, event_time)

    def _publish_position(self, position: Position, event_time: int, *, strategy: str = "") -> None:
        """Tell the strategies and the risk gate what the position is now."""
        self._bus.publish(
            "position.update",
            PositionUpdate(
                symbol=position.symbol,
                quantity=position.quantity,
                entry_price=position.entry_price,
                realized_pnl=position.realized_pnl,
                event_time=event_time,
                strategy=position.strategy or strategy,
            ),
        )

    async def _on_market(self, event: object) -> None:
        if isinstance(event, MarkPrice):
            self._marks[event.symbol] = event.mark_price

    # --- polling, back-fill, TTL ----------------------------------------------------------------

    async def _housekeeping(self) -> None:
        last_poll = time.monotonic()
        tick = max(0.01, min(self._ttl_check_s, self._poll_s))
        while True:
            await asyncio.sleep(tick)
            try:
                await self._expire_orders()
                due = time.monotonic() - last_poll >= self._poll_s
                if due and (self._stream_down or self._needs_poll()):
                    last_poll = time.monotonic()
                    await self._poll_once()
            except FatalError as exc:
                self._halt(exc)
                return
            except GatewayError as exc:
                _log.warning("order_manager.poll_failed", error=repr(exc))

    def _needs_poll(self) -> bool:
        """Even with a live stream: orders in UNKNOWN, or fills the venue reported but we lack."""
        now = time.monotonic()
        for order in self._orders.values():
            if order.busy:
                continue
            if order.state in (OrderState.UNKNOWN, OrderState.PENDING_CANCEL):
                return True
            if order.shortfall_since is not None and now - order.shortfall_since >= self._poll_s:
                return True
        return any(
            o.shortfall_since is not None and now - o.shortfall_since >= self._poll_s
            for o in self._finished.values()
        )

    def _note_shortfall(self, order: _Order) -> None:
        p = order.progress
        if p.venue_cum_qty > p.booked_qty:
            if order.shortfall_since is None:
                order.shortfall_since = time.monotonic()
        else:
            order.shortfall_since = None

    async def _poll_once(self, *, check_positions: bool = False) -> None:
        """Query every live order by client id, resend proven never-arrived ones, back-fill fills."""
        self.counters.polls += 1
        for order in list(self._orders.values()):
            if order.busy or order.state.is_terminal:
                continue
            try:
                found = await self._gateway.query_order(order.symbol, order.cid)
            except FatalError:
                raise
            except GatewayError as exc:
                _log.warning("order_manager.poll_query_failed", client_order_id=order.cid, error=repr(exc))
                continue
            if found is not None:
                if order.state is OrderState.UNKNOWN:
                    self.counters.unknown_resolved += 1
                await self._adopt(order, found)
            elif order.state.is_unconfirmed:
                # Unknown outcome and no answer earlier: resend only once the original can no
                # longer reach the venue (recvWindow), and mark busy now so no other poll resends.
                if time.monotonic() - order.last_sent_at < self._settle_s:
                    continue
                order.busy = True
                self.counters.unknown_resolved += 1
                self.counters.resent_after_unknown += 1
                self._spawn(self._send(order), name=f"om.resend.{order.cid}")
            else:
                _log.error(
                    "order_manager.open_order_missing", client_order_id=order.cid, state=order.state.value
                )
        await self._backfill()
        if check_positions:
            await self._check_positions()

    async def _backfill(self) -> None:
        """Fetch userTrades for symbols whose orders show more filled quantity than booked fills."""
        wanted: dict[str, int] = {}
        live = [o for o in self._orders.values() if self._stream_down and o.progress.order_id is not None]
        short = [
            o for o in [*self._orders.values(), *self._finished.values()] if o.shortfall_since is not None
        ]
        for order in [*live, *short]:
            p = order.progress
            if p.order_id is not None:
                start = order.created_time - 60_000
                wanted[order.symbol] = min(start, wanted.get(order.symbol, start))
        for symbol, start in wanted.items():
            trades = await self._gateway.user_trades(symbol, start_time=start)
            for trade in sorted(trades, key=lambda t: t.trade_id):
                owner = self._by_venue_id.get(trade.order_id)
                if owner is None:
                    continue
                fill = Fill.from_trade(trade, owner.cid)
                if owner.progress.add_fill(fill):
                    await self._book(owner, fill, backfilled=True)
                    self._retire_if_done(owner)

    async def _check_positions(self) -> None:
        """Correct a symbol's position to the venue's, but only with none of our orders live on it
        (otherwise a fill in flight would look like a disagreement)."""
        venue = await self._gateway.positions()
        live = {o.symbol for o in self._orders.values()}
        by_symbol = {p.symbol: p for p in venue}
        for symbol in set(by_symbol) | {s for s, p in self._positions.items() if not p.is_flat}:
            if symbol in live:
                continue
            theirs = by_symbol.get(symbol)
            quantity = theirs.quantity if theirs else _ZERO
            ours = self.position(symbol)
            if ours.quantity == quantity:
                continue
            fixed = corrected_position(ours, theirs, self._clock.now_ms())
            await self._db.run(partial(order_store.save_position, position=fixed))
            self._positions[symbol] = fixed
            self.counters.position_corrections += 1
            self._publish_position(fixed, fixed.updated_time)

    async def _expire_orders(self) -> None:
        now = self._clock.now_ms()
        for order in list(self._orders.values()):
            if (
                order.expire_time is not None
                and now >= order.expire_time
                and not order.busy
                and not order.request.reduce_only
                and order.state in (OrderState.NEW, OrderState.PARTIALLY_FILLED)
            ):
                order.busy = True
                self._spawn(self._cancel_for_ttl(order), name=f"om.ttl.{order.cid}")

    async def _cancel_for_ttl(self, order: _Order) -> None:
        try:
            previous = order.state
            if previous not in (OrderState.NEW, OrderState.PARTIALLY_FILLED):
                return  # filled or cancelled since the TTL check
            order.progress.move_to(OrderState.PENDING_CANCEL)
            order.reason = f"TTL {self._ttl_ms // 1000}s expired"
            await self._persist(order)
            try:
                venue: VenueOrder | None = await self._gateway.cancel_order(order.symbol, order.cid)
            except FatalError:
                raise
            except GatewayError as exc:
                # Already filled / cancelled (-2011), or the cancel's outcome is unknown: ask.
                _log.warning("order_manager.cancel_failed", client_order_id=order.cid, error=repr(exc))
                venue = await self._gateway.query_order(order.symbol, order.cid)
            if venue is None:
                return
            if venue.is_open:
                # The cancel did not take; back to the open state, retried on the next tick.
                order.progress.move_to(OrderState(venue.status.value))
                await self._adopt(order, venue)
                return
            self.counters.ttl_cancels += 1
            await self._adopt(order, venue)
        finally:
            order.busy = False
        if self._reprice and order.state in (OrderState.CANCELED, OrderState.EXPIRED):
            await self._reprice_order(order)

    async def _reprice_order(self, order: _Order) -> None:
        request = order.request
        if request.client_order_id.endswith(REPRICE_SUFFIX) or request.order_type is not OrderType.LIMIT:
            return
        remaining = request.quantity - order.progress.filled_qty
        mark = self._marks.get(request.symbol)
        instrument = self._instruments.get(request.symbol)
        if remaining <= _ZERO or mark is None or instrument is None:
            return
        price = quantize_price(mark, instrument.tick_size, request.side, PriceIntent.PASSIVE)
        new = replace(
            request,
            client_order_id=reprice_client_id(request.client_order_id),
            quantity=remaining,
            price=price,
            created_time=self._clock.now_ms(),
        )
        self.counters.reprices += 1
        _log.info("order_manager.reprice", client_order_id=order.cid, new_client_order_id=new.client_order_id)
        self._claimed.add(new.client_order_id)
        await self.submit(new)

    # --- bookkeeping ----------------------------------------------------------------------------

    def _register(self, order: _Order) -> None:
        self._orders[order.cid] = order
        if order.progress.order_id is not None:
            self._by_venue_id[order.progress.order_id] = order

    def _unregister(self, order: _Order) -> None:
        self._orders.pop(order.cid, None)

    def _remember_finished(self, order: _Order) -> None:
        self._finished[order.cid] = order
        self._finished.move_to_end(order.cid)
        while len(self._finished) > 2000:
            _, old = self._finished.popitem(last=False)
            if old.progress.order_id is not None and self._by_venue_id.get(old.progress.order_id) is old:
                del self._by_venue_id[old.progress.order_id]

    def _retire_if_done(self, order: _Order) -> None:
        if order.state.is_terminal and self._orders.get(order.cid) is order:
            del self._orders[order.cid]
            self._remember_finished(order)

    def _from_stored(self, stored: order_store.StoredOrder) -> _Order:
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
        return _Order(
            request=stored.request,
            progress=progress,
            created_time=stored.created_time,
            expire_time=stored.expire_time,
            reason=stored.reason,
            send_attempts=stored.send_attempts,
            last_error=stored.last_error,
        )

    def _snapshot(self, order: _Order) -> order_store.OrderSnapshot:
        p = order.progress
        return order_store.OrderSnapshot(
            client_order_id=order.cid,
            state=p.state,
            venue_order_id=p.order_id,
            filled_qty=p.filled_qty,
            avg_price=p.avg_price,
            cum_quote=p.cum_quote,
            reason=order.reason,
            send_attempts=order.send_attempts,
            last_error=order.last_error,
            updated_time=self._clock.now_ms(),
        )

    async def _persist(self, order: _Order) -> None:
        snapshot = self._snapshot(order)
        await self._db.run(lambda s: order_store.save_order(s, snapshot))

    def _publish_order(self, order: _Order, *, fill: Fill | None = None, realized: Decimal = _ZERO) -> None:
        p = order.progress
        r = order.request
        self._bus.publish(
            "order.update",
            OrderUpdate(
                client_order_id=r.client_order_id,
                symbol=r.symbol,
                strategy=r.strategy,
                side=r.side,
                state=p.state.value,
                quantity=r.quantity,
                filled_qty=p.filled_qty,
                avg_price=p.avg_price,
                event_time=fill.time if fill else self._clock.now_ms(),
                order_id=p.order_id,
                reduce_only=r.reduce_only,
                last_fill_qty=fill.quantity if fill else None,
                last_fill_price=fill.price if fill else None,
                trade_id=fill.trade_id if fill else None,
                commission=fill.commission if fill else _ZERO,
                realized_pnl=realized,
                reason=order.reason,
            ),
        )


__all__ = ["OrderCounters", "OrderManager"]
