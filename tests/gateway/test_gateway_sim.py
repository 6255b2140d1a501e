"""The gateway against the real simulator over loopback, through the official SDK: every REST
fault the simulator injects ends as the contract says. Server-side spies only record and call
through (the simulator still does all the work)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from core.errors import (
    FatalError,
    IpBannedError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    TimestampRejectedError,
)
from core.events import OrderRequest, OrderType, Side, TimeInForce, VenueOrderStatus
from executor.binance.gateway import Gateway
from simulator.rate_limits import RateLimitRule
from simulator.server import SimulatorServer

from .conftest import SYMBOL, endpoints


def limit_buy(cid: str, price: Decimal = Decimal("0.1") * 3, qty: Decimal = Decimal("30.0")) -> OrderRequest:
    return OrderRequest(cid, SYMBOL, "test", Side.BUY, OrderType.LIMIT, qty, 0, price=price,
                        time_in_force=TimeInForce.GTC)


def market_buy(cid: str, qty: Decimal = Decimal("100")) -> OrderRequest:
    return OrderRequest(cid, SYMBOL, "test", Side.BUY, OrderType.MARKET, qty, 0)


class WallMs:
    @staticmethod
    def now() -> int:
        return time.time_ns() // 1_000_000


def spy(obj: Any, name: str) -> list[Any]:
    """Record the first argument of every call of obj.name, then call the real method."""
    calls: list[Any] = []
    real: Callable[..., Any] = getattr(obj, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else None)
        return real(*args, **kwargs)

    setattr(obj, name, recording)
    return calls


async def test_orders_arrive_with_exact_decimal_strings_and_the_callers_id(
    server: SimulatorServer, gateway: Gateway
) -> None:
    received = spy(server.exchange, "new_order")
    order = await gateway.place_order(limit_buy("exact-1"))
    params = received[0]
    assert params["price"] == "0.3" and params["quantity"] == "30"
    assert params["newClientOrderId"] == "exact-1" and params["timeInForce"] == "GTC"
    assert order.client_order_id == "exact-1" and order.status is VenueOrderStatus.NEW
    assert order.price == Decimal("0.3") and order.orig_qty == Decimal("30")
    assert [o.client_order_id for o in await gateway.open_orders(SYMBOL)] == ["exact-1"]
    cancelled = await gateway.cancel_order(SYMBOL, "exact-1")
    assert cancelled.status is VenueOrderStatus.CANCELED


async def test_query_of_an_unknown_order_is_none_and_cancel_is_rejected(gateway: Gateway) -> None:
    assert await gateway.query_order(SYMBOL, "never-sent") is None
    with pytest.raises(RejectedError) as err:
        await gateway.cancel_order(SYMBOL, "never-sent")
    assert err.value.code == -2011


async def test_market_order_fill_position_balance_and_trades(gateway: Gateway) -> None:
    order = await gateway.place_order(market_buy("mkt-1"))
    assert order.status is VenueOrderStatus.FILLED and order.executed_qty == Decimal("100")
    assert (await gateway.query_order(SYMBOL, "mkt-1")) == order
    trades = await gateway.user_trades(SYMBOL)
    assert [t.order_id for t in trades] == [order.order_id] and trades[0].quantity == Decimal("100")
    [position] = await gateway.positions()
    assert position.symbol == SYMBOL and position.quantity == Decimal("100")
    usdt = next(b for b in await gateway.balances() if b.asset == "USDT")
    assert usdt.wallet_balance < Decimal("10000")  # the taker fee
    assert await gateway.dual_side_position() is False
    await gateway.set_leverage(SYMBOL, 3)


async def test_rest_klines_mark_only_finished_bars_closed(gateway: Gateway) -> None:
    candles = await gateway.klines(SYMBOL, limit=5)
    assert len(candles) == 5
    assert [c.closed for c in candles] == [True, True, True, True, False]
    assert all(b.open_time - a.open_time == 60_000 for a, b in itertools.pairwise(candles))


async def test_5xx_before_and_after_execution_are_both_outcome_unknown(
    server: SimulatorServer, gateway: Gateway
) -> None:
    server.inject("rest_error", "order", when="before", method="POST")
    with pytest.raises(OutcomeUnknownError) as err:
        await gateway.place_order(market_buy("5xx-before"))
    assert err.value.http_status == 503
    assert await gateway.query_order(SYMBOL, "5xx-before") is None  # resolved: never executed

    server.inject("rest_error", "order", when="after", method="POST")
    with pytest.raises(OutcomeUnknownError):
        await gateway.place_order(market_buy("5xx-after"))
    found = await gateway.query_order(SYMBOL, "5xx-after")  # resolved: it did execute
    assert found is not None and found.status is VenueOrderStatus.FILLED


async def test_a_timeout_is_outcome_unknown_for_an_order_and_retryable_for_a_query(
    server: SimulatorServer,
) -> None:
    gw = Gateway(endpoints(server), server.clock, timeout_s=0.5)
    await gw.start()
    try:
        server.inject("rest_delay", "order", seconds=1.5, method="POST")
        with pytest.raises(OutcomeUnknownError):
            await gw.place_order(market_buy("slow-1"))
        server.inject("rest_delay", "openOrders", seconds=1.5)
        with pytest.raises(RetryableError):
            await gw.open_orders(SYMBOL)
        # The order executed before its answer was held back: once the venue answers again
        # (the held answers gone by), a query finds it.
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            try:
                found = await gw.query_order(SYMBOL, "slow-1")
                break
            except RetryableError:
                assert asyncio.get_running_loop().time() < deadline, "the venue never answered again"
        assert found is not None
    finally:
        await gw.close()


async def test_connection_refused_is_retryable_even_for_an_order(server: SimulatorServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    venue = endpoints(server)
    dead = type(venue)(venue.mode, f"http://127.0.0.1:{port}", venue.stream_url, None, venue.api_key,
                       venue.api_secret)
    gw = Gateway(dead, server.clock, timeout_s=2.0)
    gw.time_sync.record(WallMs.now(), WallMs.now(), WallMs.now())  # pretend synced: reach the send
    try:
        with pytest.raises(RetryableError) as err:
            await gw.place_order(market_buy("refused-1"))
        assert type(err.value) is RetryableError and "before sending" in err.value.msg
    finally:
        await gw.close()


async def test_429_gives_retry_after_and_the_gateway_backs_off(server: SimulatorServer) -> None:
    gw = Gateway(endpoints(server), server.clock, timeout_s=3.0, rate_limit_max_wait_s=0.2)
    await gw.start()
    admitted = spy(server.limiter, "admit")
    try:
        server.inject("force_429", 1)
        with pytest.raises(RateLimitedError) as err:
            await gw.open_orders(SYMBOL)
        assert err.value.retry_after >= 1 and err.value.code == -1003
        sent = len(admitted)
        with pytest.raises(RateLimitedError):  # backing off: refused locally, nothing sent
            await gw.ping()
        assert len(admitted) == sent
    finally:
        await gw.close()


async def test_418_ban_stops_every_rest_call_until_it_ends(server: SimulatorServer, gateway: Gateway) -> None:
    admitted = spy(server.limiter, "admit")
    server.inject("force_418", 1.5)
    with pytest.raises(IpBannedError) as err:
        await gateway.ping()
    until = err.value.until_ms
    assert until > WallMs.now() and until == server.limiter.banned_until
    sent = len(admitted)
    for call in (gateway.ping(), gateway.balances(), gateway.place_order(market_buy("banned-1"))):
        with pytest.raises(IpBannedError):
            await call
    assert len(admitted) == sent  # no request reached the venue during the ban
    await asyncio.sleep((until - WallMs.now()) / 1000 + 0.05)
    await gateway.ping()
    assert len(admitted) == sent + 1


async def test_clock_skew_gives_1021_then_the_offset_is_corrected(
    server: SimulatorServer, gateway: Gateway
) -> None:
    assert abs(gateway.time_sync.offset_ms or 0) < 500
    server.inject("clock_skew", 8000)  # venue 8 s ahead: our timestamp falls outside recvWindow
    with pytest.raises(TimestampRejectedError) as err:
        await gateway.balances()
    assert err.value.code == -1021
    assert 7500 < (gateway.time_sync.offset_ms or 0) < 8500  # resynced
    assert await gateway.balances()  # the next signed call succeeds


async def test_wrong_secret_is_fatal_and_leaks_nothing(server: SimulatorServer) -> None:
    gw = Gateway(endpoints(server, secret="w" * 64), server.clock, timeout_s=3.0)
    await gw.start()
    try:
        with pytest.raises(FatalError) as err:
            await gw.balances()
        assert err.value.code == -1022
        text = f"{err.value} {err.value!r} {gw!r}"
        assert "w" * 16 not in text and "signature=" not in text
    finally:
        await gw.close()


async def test_limits_from_exchange_info_are_respected_before_the_venue_enforces_them() -> None:
    from pathlib import Path

    from simulator.exchange import SimulatedExchange
    from utils.clock import ScaledClock, WallClock

    from .conftest import DATA

    clock = ScaledClock(WallClock().now_ms())
    exchange = SimulatedExchange.from_data(Path(DATA), start_ms=clock.now_ms(), symbols=[SYMBOL])
    rules = [RateLimitRule("REQUEST_WEIGHT", "SECOND", 1, 6)]
    async with SimulatorServer(exchange, clock, rate_limits=rules, tick_ms=20) as srv:
        gw = Gateway(endpoints(srv), srv.clock, timeout_s=3.0)
        await gw.start()  # 2 weight: time + exchangeInfo
        try:
            limits = [(r.kind, r.interval, r.limit) for r in gw.limiter.limits]
            assert limits == [("REQUEST_WEIGHT", "SECOND", 6)]
            for _ in range(8):
                await gw.ping()  # 2 + 8 > 6: the gateway waits for the next second instead of a 429
            assert gw.limiter.waits >= 1  # it paced itself, and no call was refused
        finally:
            await gw.close()
