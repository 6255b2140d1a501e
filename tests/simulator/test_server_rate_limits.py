"""Rate limits on the loopback simulator, through the official SDK: weight headers, 429 with
Retry-After, escalation to a 418 ban that refuses everything until it ends, and the order counters.
The limiter runs on a manual wall clock so windows and bans can be crossed without waiting."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from binance_common.configuration import ConfigurationRestAPI
from binance_common.errors import RateLimitBanError, TooManyRequestsError
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
    DerivativesTradingUsdsFutures,
)

from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.exchange import SimulatedExchange
from simulator.rate_limits import RateLimitRule
from simulator.server import SimulatorServer
from utils.clock import ManualClock, ScaledClock, WallClock

DATA = Path(__file__).resolve().parents[2] / "data"
LIMITS = [
    RateLimitRule("REQUEST_WEIGHT", "MINUTE", 1, 4),
    RateLimitRule("ORDERS", "SECOND", 10, 2),
    RateLimitRule("ORDERS", "MINUTE", 1, 100),
]


@pytest.fixture
async def wall() -> ManualClock:
    # the start of a minute, so the whole test stays in one weight window
    now = WallClock().now_ms()
    return ManualClock(now - now % 60_000)


@pytest.fixture
async def server(wall: ManualClock) -> AsyncIterator[SimulatorServer]:
    clock = ScaledClock(WallClock().now_ms(), speed=60)
    exchange = SimulatedExchange.from_data(DATA, start_ms=clock.now_ms(), symbols=["ADAUSDT"])
    async with SimulatorServer(exchange, clock, wall_clock=wall, tick_ms=20, rate_limits=LIMITS,
                               ban_after=2, ban_ms=300_000) as srv:
        yield srv


def rest(server: SimulatorServer) -> Any:
    config = ConfigurationRestAPI(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET,
                                  base_path=server.rest_url, retries=0, timeout=5000)
    return DerivativesTradingUsdsFutures(config_rest_api=config).rest_api


async def test_weight_limit_429_then_418_ban_until_it_ends(
    server: SimulatorServer, wall: ManualClock
) -> None:
    client = rest(server)
    used = []
    for _ in range(4):
        used.append(int((await asyncio.to_thread(client.test_connectivity)).headers["X-MBX-USED-WEIGHT-1M"]))
    assert used == [1, 2, 3, 4]
    with pytest.raises(TooManyRequestsError) as limited:
        await asyncio.to_thread(client.test_connectivity)
    assert limited.value.status_code == -1003
    assert limited.value.error_message.startswith(
        "Too many requests; current limit is 4 requests per minute."
    )
    assert limited.value.retry_after == 60  # the rest of the fixed one-minute window
    for _ in range(2):  # ban_after=2 more requests while limited are tolerated ...
        with pytest.raises(TooManyRequestsError):
            await asyncio.to_thread(client.test_connectivity)
    with pytest.raises(RateLimitBanError) as banned:  # ... the next one is banned
        await asyncio.to_thread(client.test_connectivity)
    until = int(re.search(r"IP banned until (\d+)\.", banned.value.error_message).group(1))  # type: ignore[union-attr]
    assert banned.value.status_code == -1003
    assert until == wall.now_ms() + 300_000
    assert banned.value.retry_after == 300
    wall.advance(299_000)  # a new weight window, but still banned
    with pytest.raises(RateLimitBanError):
        await asyncio.to_thread(client.check_server_time)
    wall.advance(1_000)
    assert (await asyncio.to_thread(client.test_connectivity)).status == 200


async def test_order_count_limit_answers_1015(server: SimulatorServer, wall: ManualClock) -> None:
    client = rest(server)
    wall.set(WallClock().now_ms())  # signed requests: the server's time must be the real one

    async def order() -> Any:
        return await asyncio.to_thread(
            client.new_order, symbol="ADAUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
            quantity="100", price="0.2",
        )

    first = await order()
    assert first.headers["X-MBX-ORDER-COUNT-10S"] == "1"
    assert first.headers["X-MBX-ORDER-COUNT-1M"] == "1"
    await order()
    with pytest.raises(TooManyRequestsError) as limited:
        await order()
    assert limited.value.status_code == -1015
    assert "current limit is 2 orders per 10 seconds" in limited.value.error_message
    assert 1 <= (limited.value.retry_after or 0) <= 10
