"""The in-process venue: the real order path on the matching engine, with no HTTP and no JSON.

1. What the in-process gateway reports equals what the loopback simulator's wire answers decode to
   (same engine, same orders): the order path cannot tell the two venues apart.
2. The real OrderManager trades on it with a simulated clock that only moves when the test moves
   it: fills are booked, a TTL cancels on the simulated clock, and a retry waits for the simulated
   clock's backoff, not the wall clock's.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import select

from core import channels
from core.bus import Bus, Subscription
from core.errors import RetryableError
from core.events import (
    AccountUpdate,
    ExecutionReport,
    OrderRequest,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    UserStreamReset,
)
from database.engine import Database
from database.models import FillRow, PositionRow
from executor.binance.rest_decoding import order_from_rest, trade_from_rest
from executor.binance.stream_decoding import decode_user_payload
from executor.in_process.gateway import InProcessGateway
from executor.orders.manager import OrderManager
from executor.venue_api import VenueOrder
from simulator.exchange import SimulatedExchange
from simulator.exchange_core import USER_STREAM
from utils.clock import ManualClock

DATA = Path(__file__).resolve().parents[2] / "data"
SYMBOL = "ADAUSDT"
START = 1_700_000_040_000  # any minute: the replay is shifted onto it


def _exchange() -> SimulatedExchange:
    return SimulatedExchange.from_data(DATA, start_ms=START, symbols=[SYMBOL])


def _request(
    cid: str, side: Side, kind: OrderType, qty: str, price: str | None, now: int, **kw: Any
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=SYMBOL,
        strategy="t",
        side=side,
        order_type=kind,
        quantity=Decimal(qty),
        created_time=now,
        price=Decimal(price) if price is not None else None,
        time_in_force=TimeInForce.GTC if kind is OrderType.LIMIT else None,
        **kw,
    )


def _params(request: OrderRequest) -> dict[str, str]:
    params = {
        "symbol": request.symbol,
        "side": request.side.value,
        "type": request.order_type.value,
        "quantity": str(request.quantity),
        "newClientOrderId": request.client_order_id,
        "newOrderRespType": "RESULT",
    }
    if request.price is not None:
        params["price"] = str(request.price)
        params["timeInForce"] = "GTC"
    if request.reduce_only:
        params["reduceOnly"] = "true"
    return params


async def test_in_process_answers_equal_the_decoded_wire_answers() -> None:
    wire, local = _exchange(), _exchange()
    clock = ManualClock(START)
    reports: list[ExecutionReport | AccountUpdate | UserStreamReset] = []
    gateway = InProcessGateway(local.engine, clock, reports.append)
    price = wire.engine.mark_price(SYMBOL)
    tick = wire.instrument(SYMBOL).tick_size
    orders = [
        _request("c-market", Side.BUY, OrderType.MARKET, "100", None, START),
        _request(
            "c-rest", Side.SELL, OrderType.LIMIT, "100", str(price + 200 * tick), START, reduce_only=True
        ),
        _request("c-cancel", Side.BUY, OrderType.LIMIT, "50", str(price - 400 * tick), START),
    ]
    wire_answers = [order_from_rest(wire.new_order(_params(o), START)) for o in orders]
    local_answers = [await gateway.place_order(o) for o in orders]
    assert local_answers == wire_answers
    assert [o.status.value for o in local_answers] == ["FILLED", "NEW", "NEW"]

    wire_cancel = order_from_rest(
        wire.cancel_order({"symbol": SYMBOL, "origClientOrderId": "c-cancel"}, START)
    )
    assert await gateway.cancel_order(SYMBOL, "c-cancel") == wire_cancel
    # A day on: whatever the replay does to the resting order, both venues do the same.
    later = START + 86_400_000
    clock.set(later)
    wire_stream = [p for s, p in wire.advance_to(later, wanted=set()) if s == USER_STREAM]
    gateway.advance()
    decoded = [decode_user_payload(p) for p in wire_stream]
    assert [e for e in reports if not isinstance(e, UserStreamReset)] == [d for d in decoded if d is not None]
    for cid in ("c-market", "c-rest", "c-cancel", "never-sent"):
        found = (
            wire.query_order({"symbol": SYMBOL, "origClientOrderId": cid}, later)
            if cid != "never-sent"
            else None
        )
        assert await gateway.query_order(SYMBOL, cid) == (order_from_rest(found) if found else None)
    wire_trades = [trade_from_rest(t) for t in wire.user_trades({"symbol": SYMBOL}, later)]
    assert await gateway.user_trades(SYMBOL) == wire_trades and len(wire_trades) >= 1


class _FlakyGateway(InProcessGateway):
    """Fault injection around the real gateway: the first `failures` sends are refused (-1008)."""

    def __init__(self, *args: Any, failures: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failures = failures
        self.send_times: list[int] = []

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        self.send_times.append(self._clock.now_ms())
        if self.failures > 0:
            self.failures -= 1
            raise RetryableError("Server is currently overloaded", -1008)
        return await super().place_order(request)


@dataclass
class _Rig:
    clock: ManualClock
    gateway: _FlakyGateway
    manager: OrderManager
    db: Database
    updates: Subscription
    bus: Bus


@asynccontextmanager
async def _rig(db: Database, *, failures: int = 0, ttl_s: float = 90.0) -> AsyncIterator[_Rig]:
    exchange = _exchange()
    clock = ManualClock(START)
    bus = Bus()

    def sink(event: ExecutionReport | AccountUpdate | UserStreamReset) -> None:
        topic = channels.ACCOUNT_EXECUTION if type(event) is ExecutionReport else channels.ACCOUNT_UPDATE
        bus.publish(topic, event)

    gateway = _FlakyGateway(exchange.engine, clock, sink, failures=failures)
    manager = OrderManager(
        gateway,
        db,
        bus,
        clock,
        dict(exchange.engine.instruments),
        order_ttl_seconds=ttl_s,
        reprice_on_ttl=False,
        poll_seconds=30.0,
        ttl_check_seconds=1.0,
        backoff_base_s=2.0,
        backoff_max_s=4.0,
        rng=random.Random(7),
        entry_send_deadline_s=30.0,  # the retry test waits up to 6 s of backoff for its entry
        wall=clock,  # one simulated clock for the market and the network, as a backtest runs
    )
    rig = _Rig(clock, gateway, manager, db, bus.subscribe(channels.ORDER_UPDATE, name="test"), bus)
    task = asyncio.create_task(manager.run())
    try:
        await _settle(db)
        yield rig
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _settle(db: Database) -> None:
    """Let every task run until it waits on the simulated clock or a queue. The database thread is
    real: a no-op round trip through its FIFO means everything queued before it has finished."""
    for _ in range(6):
        for _ in range(20):
            await asyncio.sleep(0)
        await db.run(lambda s: None)


async def _until(
    rig: _Rig, done: Callable[[OrderUpdate], bool], *, step_ms: int = 500, max_ms: int = 600_000
) -> OrderUpdate:
    """Move the simulated clock in steps until an order update satisfies `done`."""
    waited = 0
    while waited <= max_ms:
        while len(rig.updates):
            update = rig.updates.get_nowait()
            if done(update):
                return update
        rig.clock.advance(step_ms)
        rig.gateway.advance()
        waited += step_ms
        await _settle(rig.db)
    raise AssertionError(f"no such order update within {max_ms} simulated ms")


async def test_the_order_manager_books_fills_from_the_engine(db: Database) -> None:
    async with _rig(db) as rig:
        rig.bus.publish(
            channels.ORDER_REQUEST, _request("ip-buy", Side.BUY, OrderType.MARKET, "100", None, START)
        )
        filled = await _until(rig, lambda u: u.client_order_id == "ip-buy" and u.state == "FILLED")
        assert filled.filled_qty == Decimal(100)
        trades = rig.gateway.engine.trades(SYMBOL)
        fills = await db.run(lambda s: s.exec(select(FillRow)).all())
        assert [(f.trade_id, Decimal(f.quantity), Decimal(f.price)) for f in fills] == [
            (t.trade_id, t.qty, t.price) for t in trades
        ]
        position = await db.run(lambda s: s.get(PositionRow, SYMBOL))
        assert (
            position is not None
            and Decimal(position.quantity) == rig.gateway.engine.account.position(SYMBOL).amount
        )


async def test_a_ttl_runs_on_the_simulated_clock(db: Database) -> None:
    async with _rig(db, ttl_s=90.0) as rig:
        price = rig.gateway.engine.mark_price(SYMBOL)
        low = str(price * Decimal("0.9") // Decimal("0.0001") * Decimal("0.0001"))
        rig.bus.publish(
            channels.ORDER_REQUEST, _request("ip-ttl", Side.BUY, OrderType.LIMIT, "100", low, START)
        )
        placed = await _until(rig, lambda u: u.client_order_id == "ip-ttl" and u.state == "NEW", max_ms=5_000)
        assert placed.state == "NEW"
        canceled = await _until(rig, lambda u: u.client_order_id == "ip-ttl" and u.state == "CANCELED")
        # Cancelled once 90 s of the simulated clock had passed, within a second of the TTL check.
        assert 90_000 <= rig.clock.now_ms() - START <= 92_000
        assert canceled.reason == "TTL 90s expired"


async def test_a_retry_waits_for_the_simulated_backoff(db: Database) -> None:
    async with _rig(db, failures=2) as rig:
        rig.bus.publish(
            channels.ORDER_REQUEST, _request("ip-retry", Side.BUY, OrderType.MARKET, "100", None, START)
        )
        await _until(rig, lambda u: u.client_order_id == "ip-retry" and u.state == "FILLED", step_ms=250)
        sends = rig.gateway.send_times
        assert len(sends) == 3
        gaps = [b - a for a, b in itertools.pairwise(sends)]
        # backoff 2 s then 4 s ceilings, half fixed: at least 1 s and 2 s of the simulated clock
        assert gaps[0] >= 1_000 and gaps[1] >= 2_000
