"""The order manager: from an OrderRequest to a booked fill, exactly once. A short coordinator.

It owns the subscriptions and the housekeeping loop and hands each event to one part. The parts,
each in its own module and sharing one `OrderContext` (`context.py`):

| part | module | reads |
|---|---|---|
| requests: replays, validation, PENDING_NEW written before sending | `intake.py` | `order.request` |
| sending, retries, unknown outcomes resolved by client id | `sender.py` | |
| live and finished orders by client and venue id | `registry.py` | |
| execution reports drive states; fills booked once | `booking.py` | `account.execution` |
| FUNDING_FEE and the funding back-fill | `funding.py` | `account.update` |
| polling, fill back-fill, position correction | `venue_sync.py` (shared with reconciliation) | |
| TTL cancels and the one re-price | `ttl.py` | |
| reconciliation: at start, every `reconcile_interval_s`, after a stream reset | `reconcile.py` | |
| bulk cancels: volatility guard (its symbol's entries), flatten, shutdown | `cancels.py` | `strategy.event` |

After a UserStreamReset the manager first books any funding the stream lost, then polls live
orders over REST every `poll_seconds` and back-fills fills from userTrades until the stream
delivers again; it also polls whenever an order is UNKNOWN or the venue reports more filled
quantity than the fills we hold. TTLs are checked once per `ttl_check_seconds` of the network
clock (the daemon passes one market second: 1 / speed).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from core import channels
from core.bus import Bus, Subscription
from core.errors import FatalError, GatewayError
from core.events import (
    AccountUpdate,
    ExecutionReport,
    MarkPrice,
    OrderRequest,
    UserStreamReset,
    VolatilityGuardTriggered,
)
from core.instruments import Instrument
from core.order_state import LIVE_STATES, OrderState
from core.reconciliation import ReconcileResult
from executor.orders import store as order_store
from executor.orders.adoption import UnknownOrders
from executor.orders.booking import FillBooker
from executor.orders.cancels import OrderCancels
from executor.orders.context import OrderContext, OrderCounters, SessionRunner
from executor.orders.flatten import Flattener
from executor.orders.funding import FundingBooker
from executor.orders.intake import OrderIntake
from executor.orders.positions import Position
from executor.orders.reconcile import Reconciler, ReconcileReport
from executor.orders.registry import TrackedOrder
from executor.orders.sender import OrderSender
from executor.orders.takeover import take_over
from executor.orders.ttl import TtlKeeper
from executor.orders.venue_sync import VenueSync
from executor.venue_api import OrderGateway
from utils.clock import Clock, WallClock

_log = structlog.get_logger(__name__)


class OrderManager:
    """Consumes `order.request`, `account.execution` and `account.update`; see the module docstring.

    `run()` is the task; `status()` gives the heartbeat counters. `instruments` is read live, so
    symbols added at run time are picked up. `wall` is the network clock (default: the real one).
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
        wall: Clock | None = None,
        reconcile_interval_s: float = 60.0,
        reconcile_on_start: bool = True,
        unknown_orders: UnknownOrders = "adopt",
        strategy_for: Mapping[str, str] | None = None,
        entry_send_deadline_s: float = 5.0,
    ) -> None:
        self._ctx = ctx = OrderContext(gateway, db, bus, clock, wall or WallClock(), instruments)
        self.counters: OrderCounters = ctx.counters
        self._poll_s = poll_seconds
        self._ttl_check_s = ttl_check_seconds
        self._loaded = False
        self._booker = FillBooker(ctx, adopt_unknown=self._adopt_unknown)
        self._funding = FundingBooker(ctx)
        self._sync = VenueSync(
            ctx,
            poll_seconds=poll_seconds,
            settle_seconds=unknown_settle_s,
            resend=self._resend,
            book=self._booker.book_backfilled,
        )
        self._sender = OrderSender(
            ctx,
            self._sync,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            settle_seconds=unknown_settle_s,
            max_queries=unknown_max_queries,
            rng=rng or random.Random(),
            entry_send_deadline_s=entry_send_deadline_s,
        )
        ttl_ms = int(order_ttl_seconds * 1000)
        self._intake = OrderIntake(ctx, self._sender, ttl_ms=ttl_ms)
        self._ttl = TtlKeeper(ctx, self._sync, self._intake.submit, ttl_ms=ttl_ms, reprice=reprice_on_ttl)
        self._cancels = OrderCancels(ctx, self._ttl)
        self.reconciler = Reconciler(
            ctx,
            self._booker,
            settle_seconds=unknown_settle_s,
            unknown_orders=unknown_orders,
            strategy_for=strategy_for,
        )
        self._reconcile_interval_s = reconcile_interval_s
        self._reconcile_on_start = reconcile_on_start
        self._reconciling = asyncio.Lock()
        self._next_reconcile = 0.0  # network-clock time of the next periodic run
        self._reconcile_failures = 0
        # Subscribe now, so nothing published before run() starts is missed.
        self._requests = bus.subscribe(channels.ORDER_REQUEST, name="order_manager.requests")
        self._executions = bus.subscribe(channels.ACCOUNT_EXECUTION, name="order_manager.executions")
        self._account = bus.subscribe(channels.ACCOUNT_UPDATE, name="order_manager.account")
        self._market = bus.subscribe(channels.ALL_MARKETS, name="order_manager.marks")
        self._guards = bus.subscribe(channels.STRATEGY_EVENT, name="order_manager.guards")

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled; raises the FatalError that halted trading, if one did."""
        ctx = self._ctx
        ctx.fatal = asyncio.Event()
        await self.load()
        if self._reconcile_on_start:
            # Before the first request is taken: the venue's view of every order we hold.
            await self.reconcile_now("startup")
        else:
            self._next_reconcile = ctx.wall.monotonic() + self._reconcile_interval_s
        loops = [
            asyncio.create_task(self._consume(self._requests, self._on_request_event), name="om.requests"),
            asyncio.create_task(self._consume(self._executions, self._on_execution), name="om.executions"),
            asyncio.create_task(self._consume(self._account, self._on_account_event), name="om.account"),
            asyncio.create_task(self._consume(self._market, self._on_market), name="om.marks"),
            asyncio.create_task(self._consume(self._guards, self._on_guard), name="om.guards"),
            asyncio.create_task(self._housekeeping(), name="om.housekeeping"),
        ]
        fatal_wait = asyncio.create_task(ctx.fatal.wait(), name="om.fatal")
        try:
            done, _ = await asyncio.wait([*loops, fatal_wait], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not fatal_wait and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if ctx.halted is not None:
                raise ctx.halted
        finally:
            for task in [*loops, fatal_wait, *ctx.tasks]:
                task.cancel()
            for task in [*loops, fatal_wait, *ctx.tasks]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for sub in (self._requests, self._executions, self._account, self._market, self._guards):
                sub.close()

    async def load(self) -> None:
        """Load live orders and positions from the database (run() does this first)."""
        if self._loaded:
            return
        stored = await self._ctx.db.run(lambda s: order_store.orders_in_states(s, LIVE_STATES))
        for row in stored:
            if self._ctx.in_scope(row.request.symbol):
                self._ctx.registry.register(TrackedOrder.from_stored(row))
        self._ctx.positions = await self._ctx.db.run(order_store.load_positions)
        self._loaded = True

    def status(self) -> dict[str, Any]:
        """Counters and open orders for the heartbeat."""
        ctx = self._ctx
        return {
            **{name: getattr(self.counters, name) for name in OrderCounters.__slots__},
            "open_orders": len(ctx.registry.live),
            "orders_by_state": ctx.registry.by_state(),
            "user_stream_down": ctx.stream_down,
            "halted": str(ctx.halted) if ctx.halted else "",
        }

    def position(self, symbol: str) -> Position:
        """The booked position of `symbol`."""
        return self._ctx.position(symbol)

    async def cancel_entries(self, reason: str, symbol: str | None = None) -> int:
        """Cancel every resting entry order (of one symbol, or all); exits stand; how many."""
        return await self._cancels.cancel_entries(reason, symbol)

    async def cancel_all(self, symbol: str | None = None, reason: str = "cancelled by flatten") -> int:
        """Cancel every resting order of ours (entries and exits), of one symbol or all; how many."""
        return await self._cancels.cancel_all(symbol, reason)

    async def close_entries(self, cancel_reason: str | None, settle_s: float) -> int:
        """Shutdown: no new entries; with a reason, every entry cancelled once sent (`cancels.py`)."""
        return await self._cancels.close_entries(cancel_reason, settle_s)

    def flattener(self) -> Flattener:
        """The flatten procedure on this order path (orders written before they are sent)."""
        ctx = self._ctx
        return Flattener(
            ctx.gateway,
            ctx.instruments,
            submit=self.submit,
            cancel_all=self.cancel_all,
            live_orders=lambda: list(ctx.registry.live.values()),
            now_ms=ctx.clock.now_ms,
        )

    def open_orders(self, symbol: str | None = None) -> list[TrackedOrder]:
        """The orders this manager holds as live (of one symbol, or all), oldest first."""
        return self._cancels.live(symbol)

    def expire_due(self) -> None:
        """Start the cancel of every entry whose TTL has passed now. The housekeeping tick does
        this on the wall clock; a driver of a step clock calls it at each deadline it steps to."""
        self._ttl.expire_orders()

    def positions(self) -> dict[str, Position]:
        """Every booked position by symbol."""
        return dict(self._ctx.positions)

    def order_state(self, client_order_id: str) -> OrderState | None:
        """The state of an order this manager holds in memory (None if unknown to it)."""
        order = self._ctx.registry.get(client_order_id)
        return order.state if order else None

    async def _consume(self, sub: Subscription, handler: Callable[[Any], Any]) -> None:
        async for event in sub:  # ends when the subscription is closed
            try:
                await handler(event)
            except FatalError as exc:
                self._ctx.halt(exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad event must not stop the order path; it is logged with its traceback.
                _log.exception("order_manager.handler_failed", event=type(event).__name__)

    # --- requests -------------------------------------------------------------------------------

    async def _on_request_event(self, event: object) -> None:
        if isinstance(event, OrderRequest):
            self._intake.accept(event)

    async def submit(self, request: OrderRequest) -> OrderState:
        """Handle one request end to end (validate, persist, send); returns the state it reached."""
        return await self._intake.submit(request)

    async def reconcile_now(self, trigger: str = "manual") -> ReconcileReport:
        """Reconcile with the venue now (one run at a time) and schedule the next periodic run."""
        ctx = self._ctx
        async with self._reconciling:
            report = await self.reconciler.run(trigger)
        if report.result is ReconcileResult.FAILED:
            # Entries stay paused until a run succeeds: retry sooner than the interval.
            self._reconcile_failures += 1
            delay = min(self._reconcile_interval_s, 5.0 * 2 ** (self._reconcile_failures - 1))
        else:
            self._reconcile_failures = 0
            delay = self._reconcile_interval_s
        self._next_reconcile = ctx.wall.monotonic() + delay
        return report

    def reconciliation_status(self) -> dict[str, Any]:
        """The last reconciliation for the heartbeat."""
        last = self.reconciler.last
        return {
            "last_run_ms": self.reconciler.last_time,
            "result": last.result.value if last is not None else "never",
            "differences": len(last.differences) if last is not None else 0,
            "runs": self.reconciler.runs,
            "detail": (last.error or str(last)) if last is not None else None,
        }

    def set_scope(self, in_scope: Callable[[str], bool], instance_id: str = "") -> None:
        """Track, book and reconcile only symbols for which `in_scope` is true (set before `run`)."""
        self._ctx.in_scope, self._ctx.instance_id = in_scope, instance_id

    async def take_over(self, symbols: set[str]) -> ReconcileReport:
        """Symbols that came into scope (their daemon died): see `takeover.py`."""
        return await take_over(self._ctx, self.reconcile_now, symbols)

    async def _adopt_unknown(self, symbol: str, client_order_id: str) -> TrackedOrder | None:
        """A report for an order of ours the database does not know: adopt it from the venue."""
        venue = await self._ctx.gateway.query_order(symbol, client_order_id)
        if venue is None:
            return None
        _log.warning("order_manager.adopting_unknown_order", client_order_id=client_order_id, symbol=symbol)
        return await self.reconciler.adopt(venue)

    async def _resend(self, order: TrackedOrder) -> None:
        """A poll proved the venue never saw the order: send it again (the sender needs the sync
        part, and the sync part needs to resend, so this method breaks the cycle)."""
        await self._sender.send(order)

    # --- venue events ---------------------------------------------------------------------------

    async def _on_execution(self, report: object) -> None:
        if not isinstance(report, ExecutionReport) or not self._ctx.in_scope(report.symbol):
            return  # another daemon's symbol: its report is that daemon's to book
        if self._ctx.stream_down:
            # The stream is back; one more poll catches anything that happened in between.
            self._ctx.stream_down = False
            _log.info("order_manager.user_stream_resumed")
            self._ctx.spawn(self._sync.poll_once(), name="om.poll.resume")
        await self._booker.on_execution(report)

    async def _on_account_event(self, event: object) -> None:
        if isinstance(event, UserStreamReset):
            _log.warning("order_manager.user_stream_reset", reason=event.reason)
            self._ctx.stream_down = True
            self._ctx.spawn(self._catch_up_after_reset(), name="om.poll.reset")
        elif isinstance(event, AccountUpdate) and event.reason == "FUNDING_FEE":
            await self._funding.on_funding(event)

    async def _catch_up_after_reset(self) -> None:
        """Events may have been lost with the stream: reconcile (orders, fills, funding, then
        positions, so a position check sees the funding booked), then poll until it is back."""
        await self.reconcile_now("stream_reset")
        await self._sync.poll_once()

    async def _on_market(self, event: object) -> None:
        if isinstance(event, MarkPrice):
            self._ctx.marks[event.symbol] = event.mark_price

    async def _on_guard(self, event: object) -> None:
        if isinstance(event, VolatilityGuardTriggered):
            self._cancels.on_guard(event)

    # --- housekeeping ---------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        ctx = self._ctx
        last_poll = ctx.wall.monotonic()
        tick = max(0.01, min(self._ttl_check_s, self._poll_s))
        while True:
            await ctx.wall.sleep(tick)
            try:
                self._ttl.expire_orders()
                if ctx.wall.monotonic() >= self._next_reconcile and not self._reconciling.locked():
                    ctx.spawn(self.reconcile_now("periodic"), name="om.reconcile")
                    self._next_reconcile = ctx.wall.monotonic() + self._reconcile_interval_s
                due = ctx.wall.monotonic() - last_poll >= self._poll_s
                if due and (ctx.stream_down or self._sync.needs_poll()):
                    last_poll = ctx.wall.monotonic()
                    await self._sync.poll_once()
            except FatalError as exc:
                ctx.halt(exc)
                return
            except GatewayError as exc:
                _log.warning("order_manager.poll_failed", error=repr(exc))


__all__ = ["OrderCounters", "OrderManager"]
