"""A real order path on loopback for the order-manager integration tests.

Simulator server (short rate-limit windows so a 429's Retry-After is about a second), a Gateway
for the order manager (timeout and recvWindow chosen per test), a second Gateway for the test's
own look-ups, the UserDataStream feeding `account.execution` / `account.update` exactly as
trader/app.py does, the real Bus, a migrated SQLite Database and the real OrderManager.

`check_db_matches_venue` is the invariant every scenario ends with: exactly one venue order per
client id, and the database equal to the venue on orders, fills and positions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlmodel import select

from config.settings import Mode
from core.bus import Bus, Subscription
from core.events import (
    AccountUpdate,
    ExecutionReport,
    OrderRequest,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    Side,
    UserStreamReset,
)
from core.instruments import Instrument
from database.engine import Database
from database.models import FillRow, OrderRow, PositionRow
from executor.binance.endpoints import VenueEndpoints
from executor.binance.gateway import Gateway
from executor.binance.user_stream import UserDataStream
from executor.orders.manager import OrderManager
from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.engine_types import EngineConfig
from simulator.exchange import SimulatedExchange
from simulator.rate_limits import RateLimitRule
from simulator.server import SimulatorServer
from utils.clock import ScaledClock

DATA = Path(__file__).resolve().parents[2] / "data"
SYMBOL = "WLDUSDT"
# Short windows: a forced 429 says Retry-After 1 s, not "until the end of the minute".
LIMITS = [
    RateLimitRule("REQUEST_WEIGHT", "SECOND", 1, 100_000),
    RateLimitRule("ORDERS", "SECOND", 1, 1_000),
]
_VENUE_TO_DB = {"EXPIRED_IN_MATCH": "EXPIRED"}


@dataclass
class Rig:
    """Everything one scenario touches."""

    server: SimulatorServer
    clock: ScaledClock
    endpoints: VenueEndpoints
    gateway: Gateway  # the order manager's
    probe: Gateway  # the test's own look-ups at the venue
    db: Database
    bus: Bus
    manager: OrderManager
    stream: UserDataStream
    instruments: dict[str, Instrument]
    order_updates: Subscription
    position_updates: Subscription
    task: asyncio.Task[None] | None = None
    seen_orders: list[OrderUpdate] = field(default_factory=list)
    seen_positions: list[PositionUpdate] = field(default_factory=list)

    def mark(self, symbol: str = SYMBOL) -> Decimal:
        """The venue's current mark price."""
        return self.server.exchange.mark_price(symbol, self.clock.now_ms())

    def request(
        self,
        cid: str,
        side: Side = Side.BUY,
        quantity: str = "10",
        *,
        price: Decimal | None = None,
        symbol: str = SYMBOL,
        reduce_only: bool = False,
    ) -> OrderRequest:
        """An OrderRequest as the risk gate would publish it."""
        return OrderRequest(
            client_order_id=cid,
            symbol=symbol,
            strategy="itest",
            side=side,
            order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
            quantity=Decimal(quantity),
            created_time=self.clock.now_ms(),
            price=price,
            reduce_only=reduce_only,
        )

    def publish(self, request: OrderRequest) -> None:
        """Publish on order.request, as the risk gate does."""
        self.bus.publish("order.request", request)

    def drain(self) -> None:
        """Move what was published on order.update / position.update into the seen lists."""
        for sub, into in (
            (self.order_updates, self.seen_orders),
            (self.position_updates, self.seen_positions),
        ):
            while True:
                try:
                    into.append(sub.get_nowait())
                except Exception:
                    break

    def updates_for(self, cid: str) -> list[OrderUpdate]:
        """Every order.update published for `cid` so far."""
        self.drain()
        return [u for u in self.seen_orders if u.client_order_id == cid]

    def venue_orders(self, symbol: str = SYMBOL) -> list[dict[str, Any]]:
        """Every order the venue holds for `symbol` (allOrders), straight from the simulator."""
        result: list[dict[str, Any]] = self.server.exchange.all_orders(
            {"symbol": symbol, "limit": "1000"}, self.clock.now_ms()
        )
        return result

    def venue_orders_for(self, cid: str, symbol: str = SYMBOL) -> list[dict[str, Any]]:
        """The venue's orders carrying client id `cid`."""
        return [o for o in self.venue_orders(symbol) if o["clientOrderId"] == cid]

    async def order_row(self, cid: str) -> OrderRow | None:
        """The orders row of `cid` (a detached copy)."""

        def read(session: Any) -> OrderRow | None:
            row: OrderRow | None = session.exec(
                select(OrderRow).where(OrderRow.client_order_id == cid)
            ).first()
            if row is not None:
                session.expunge(row)
            return row

        return await self.db.run(read)

    async def fill_rows(self, cid: str | None = None) -> list[FillRow]:
        """Fills rows (of `cid`, or all)."""

        def read(session: Any) -> list[FillRow]:
            query = select(FillRow)
            if cid is not None:
                query = query.where(FillRow.client_order_id == cid)
            rows = list(session.exec(query).all())
            for row in rows:
                session.expunge(row)
            return rows

        return await self.db.run(read)

    async def position_row(self, symbol: str = SYMBOL) -> PositionRow | None:
        """The positions row of `symbol`."""

        def read(session: Any) -> PositionRow | None:
            row: PositionRow | None = session.get(PositionRow, symbol)
            if row is not None:
                session.expunge(row)
            return row

        return await self.db.run(read)

    async def wait_state(self, cid: str, *states: str, within: float = 5.0) -> OrderRow:
        """Wait until the DB row of `cid` is in one of `states`."""
        row: OrderRow | None = None

        async def reached() -> bool:
            nonlocal row
            row = await self.order_row(cid)
            return row is not None and row.state in states

        await wait_for(reached, within, f"{cid} in {states} (last: {row.state if row else None})")
        assert row is not None
        return row

    async def start_manager(self) -> None:
        """Run the order manager as the daemon does (a task), and wait for its start-up
        reconciliation, so a fault a test injects next hits the test's order, not that run."""
        runs = self.manager.reconciler.runs
        self.task = asyncio.create_task(self.manager.run(), name="itest.order_manager")

        async def reconciled() -> bool:
            if self.task is not None and self.task.done():
                self.task.result()  # raise what killed it
            return self.manager.reconciler.runs > runs

        await wait_for(reconciled, 15, "the order manager's start-up reconciliation")


async def wait_for(predicate: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll `predicate` every 50 ms; AssertionError naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def order_rig(
    db: Database,
    *,
    speed: float = 60.0,
    timeout_s: float = 5.0,
    recv_window_ms: int = 1_000,
    settle_s: float = 1.5,
    poll_s: float = 0.3,
    ttl_s: float = 3600.0,
    ttl_check_s: float = 1.0,
    reprice: bool = False,
    start_manager: bool = True,
    start_stream: bool = True,
    start_ms: int | None = None,
    fill_parts: int = 1,
    data_dir: Path = DATA,
) -> AsyncIterator[Rig]:
    """Start the whole order path on loopback (simulated time from `start_ms`); stop it afterwards.

    `data_dir` holds the simulator's exchange_info.json and klines/ (a test may change a filter)."""
    now = start_ms if start_ms is not None else time.time_ns() // 1_000_000
    exchange = SimulatedExchange.from_data(
        data_dir,
        start_ms=now,
        symbols=[SYMBOL, "ADAUSDT"],
        seed=7,
        config=EngineConfig(fill_parts=fill_parts),
    )
    clock = ScaledClock(now, speed)
    server = SimulatorServer(exchange, clock, rate_limits=LIMITS, tick_ms=20)
    await server.start()
    endpoints = VenueEndpoints(
        Mode.SIM,
        server.rest_url,
        server.stream_url,
        api_key=SecretStr(DEFAULT_API_KEY),
        api_secret=SecretStr(DEFAULT_API_SECRET),
    )
    gateway = Gateway(endpoints, clock, timeout_s=timeout_s, recv_window_ms=recv_window_ms)
    probe = Gateway(endpoints, clock)
    bus = Bus()
    stream: UserDataStream | None = None
    rig: Rig | None = None
    try:
        await gateway.start()
        await probe.start()
        info = await gateway.exchange_info()
        instruments = dict(info.instruments)

        def sink(event: ExecutionReport | AccountUpdate | UserStreamReset) -> None:
            # trader/app.py Daemon._on_account_event
            if type(event) is ExecutionReport:
                bus.publish("account.execution", event)
            else:
                bus.publish("account.update", event)

        stream = UserDataStream(gateway, endpoints.stream_url, clock, sink, backoff_initial_s=0.1)
        manager = OrderManager(
            gateway,
            db,
            bus,
            clock,
            instruments,
            order_ttl_seconds=ttl_s,
            reprice_on_ttl=reprice,
            poll_seconds=poll_s,
            ttl_check_seconds=ttl_check_s,
            backoff_base_s=0.05,
            backoff_max_s=0.5,
            unknown_settle_s=settle_s,
        )
        rig = Rig(
            server=server,
            clock=clock,
            endpoints=endpoints,
            gateway=gateway,
            probe=probe,
            db=db,
            bus=bus,
            manager=manager,
            stream=stream,
            instruments=instruments,
            order_updates=bus.subscribe("order.update", name="itest.orders"),
            position_updates=bus.subscribe("position.update", name="itest.positions"),
        )
        if start_stream:
            await stream.start(wait_s=5.0)
        if start_manager:
            await rig.start_manager()
        yield rig
    finally:
        if rig is not None and rig.task is not None:
            rig.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rig.task
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.stop()
        await gateway.close()
        await probe.close()
        await server.stop()


async def check_db_matches_venue(
    rig: Rig, symbols: tuple[str, ...] = (SYMBOL,), *, within: float = 3.0
) -> None:
    """The invariant: one venue order per client id; DB == venue on orders, fills and positions.

    Streamed fills may land a moment after the REST answer, so the check is retried for `within`
    seconds; the last disagreement is raised.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            await _check_once(rig, symbols)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _check_once(rig: Rig, symbols: tuple[str, ...]) -> None:
    rows = {r.client_order_id: r for r in await _all(rig.db, OrderRow)}
    fills = await _all(rig.db, FillRow)
    for symbol in symbols:
        venue = rig.venue_orders(symbol)
        per_cid = Counter(o["clientOrderId"] for o in venue)
        duplicated = {cid: n for cid, n in per_cid.items() if n > 1}
        assert not duplicated, f"{symbol}: more than one venue order per client id: {duplicated}"
        for order in venue:
            cid = order["clientOrderId"]
            row = rows.get(cid)
            assert row is not None, f"venue order {cid} is not in the database"
            status = _VENUE_TO_DB.get(order["status"], order["status"])
            assert row.state == status, f"{cid}: database {row.state}, venue {order['status']}"
            assert row.venue_order_id == order["orderId"], f"{cid}: venue order id"
            assert Decimal(row.filled_qty) == Decimal(order["executedQty"]), f"{cid}: filled quantity"
        on_venue = {o["clientOrderId"] for o in venue}
        for cid, row in rows.items():
            if row.symbol == symbol and cid not in on_venue:
                assert row.state in ("CANCELED", "REJECTED", "LOST"), f"{cid}: {row.state}, not on the venue"

        trades = await rig.probe.user_trades(symbol, start_time=0)
        venue_fills = sorted(
            (t.trade_id, t.order_id, t.side.value, t.quantity, t.price, t.commission) for t in trades
        )
        db_fills = sorted(
            (f.trade_id, f.order_id, f.side, Decimal(f.quantity), Decimal(f.price), Decimal(f.commission))
            for f in fills
            if f.symbol == symbol
        )
        assert db_fills == venue_fills, f"{symbol}: fills differ\n db   {db_fills}\n venue {venue_fills}"

        positions = {p.symbol: p for p in await rig.probe.positions()}
        theirs = positions.get(symbol)
        ours = await rig.position_row(symbol)
        venue_qty = theirs.quantity if theirs is not None else Decimal(0)
        our_qty = Decimal(ours.quantity) if ours is not None else Decimal(0)
        assert our_qty == venue_qty, f"{symbol}: position {our_qty} in the database, {venue_qty} on the venue"
        if theirs is not None and venue_qty != 0:
            assert ours is not None
            assert Decimal(ours.entry_price) == theirs.entry_price, f"{symbol}: entry price"


async def _all(db: Database, table: Any) -> list[Any]:
    def read(session: Any) -> list[Any]:
        rows = list(session.exec(select(table)).all())
        for row in rows:
            session.expunge(row)
        return rows

    return await db.run(read)
