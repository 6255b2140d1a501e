"""Every injectable fault, each observed from the client's side: the official SDK for REST, a plain
aiohttp WebSocket client for the streams (the SDK hides what a socket does on purpose)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from binance_common.configuration import ConfigurationRestAPI
from binance_common.errors import (
    BadRequestError,
    NetworkError,
    RateLimitBanError,
    ServerError,
    TooManyRequestsError,
)
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
    DerivativesTradingUsdsFutures,
)

from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.exchange import SimulatedExchange
from simulator.faults import FaultError, FaultPlan
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

DATA = Path(__file__).resolve().parents[2] / "data"
SYMBOL = "ADAUSDT"


@pytest.fixture
async def server() -> AsyncIterator[SimulatorServer]:
    clock = ScaledClock(WallClock().now_ms(), speed=600)
    exchange = SimulatedExchange.from_data(DATA, start_ms=clock.now_ms(), symbols=[SYMBOL])
    async with SimulatorServer(exchange, clock, tick_ms=20) as srv:
        yield srv


def rest(server: SimulatorServer, timeout_ms: int = 5000) -> Any:
    config = ConfigurationRestAPI(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET,
                                  base_path=server.rest_url, retries=0, timeout=timeout_ms)
    return DerivativesTradingUsdsFutures(config_rest_api=config).rest_api


async def sdk(fn: Any, **kwargs: Any) -> Any:
    return (await asyncio.to_thread(fn, **kwargs)).data()


async def limit_buy(api: Any, client_id: str) -> Any:
    """A resting order far below the market: it only emits its NEW event."""
    mark = Decimal((await sdk(api.mark_price, symbol=SYMBOL)).actual_instance.mark_price)
    price = format((mark * Decimal("0.8")).quantize(Decimal("0.0001")).normalize(), "f")
    return await sdk(api.new_order, symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                     quantity="100", price=price, new_client_order_id=client_id)


async def frames(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[dict[str, Any]]:
    """Every JSON frame received within `seconds` (an empty list for a silent socket)."""
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        out.append(json.loads(msg.data))
    return out


async def user_events(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    """The next `count` ORDER_TRADE_UPDATE events (other user events are skipped)."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        while len(out) < count:
            data = json.loads((await ws.receive()).data).get("data", {})
            if data.get("e") == "ORDER_TRADE_UPDATE":
                out.append(data)
    return out


class Sockets:
    """Opens client WebSockets and closes every one of them at the end of the test."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.opened: list[aiohttp.ClientWebSocketResponse] = []

    async def ws_connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self.session.ws_connect(url)
        self.opened.append(ws)
        return ws


@pytest.fixture
async def session() -> AsyncIterator[Sockets]:
    async with aiohttp.ClientSession() as s:
        sockets = Sockets(s)
        yield sockets
        for ws in sockets.opened:
            await ws.close()


async def test_ws_drop_closes_every_socket_abnormally(server: SimulatorServer,
                                                     session: Sockets) -> None:
    sockets = [await session.ws_connect(f"{server.stream_url}/market/stream?streams=adausdt@kline_1m"),
               await session.ws_connect(f"{server.stream_url}/ws/adausdt@markPrice@1s")]
    for ws in sockets:
        assert await frames(ws, 0.3)
    server.inject("ws_drop")
    for ws in sockets:
        async with asyncio.timeout(3):
            while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                pass
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)  # no close frame
        assert ws.close_code != 1000
    assert server.faults.fired["ws_drop"] == 1


async def test_ws_drop_every_keeps_dropping(server: SimulatorServer, session: Sockets) -> None:
    server.inject("ws_drop_every", 0.3)
    for _ in range(2):
        ws = await session.ws_connect(f"{server.stream_url}/ws/adausdt@kline_1m")
        async with asyncio.timeout(3):
            while (await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                pass
        assert ws.closed
    assert server.faults.fired["ws_drop_every"] >= 2


async def test_ws_stall_goes_silent_without_closing(server: SimulatorServer,
                                                   session: Sockets) -> None:
    ws = await session.ws_connect(f"{server.stream_url}/market/stream?streams=adausdt@kline_1m")
    assert await frames(ws, 0.2)
    server.inject("ws_stall", 0.8)
    await frames(ws, 0.1)  # frames already on the wire
    assert await frames(ws, 0.5) == []
    assert not ws.closed
    assert await frames(ws, 0.6)  # the link comes back after the stall
    fresh = await session.ws_connect(f"{server.stream_url}/ws/adausdt@kline_1m")
    assert await frames(fresh, 0.3)  # a new connection is not stalled


async def test_kline_gap_loses_a_closed_candle(server: SimulatorServer, session: Sockets) -> None:
    ws = await session.ws_connect(f"{server.stream_url}/ws/adausdt@kline_1m")
    before = [f["k"]["t"] for f in await frames(ws, 0.2) if f["k"]["x"]]  # 2 simulated minutes
    server.inject("kline_gap", 1)
    closed = before[-1:] + [f["k"]["t"] for f in await frames(ws, 0.6) if f["k"]["x"]]
    gaps = [b - a for a, b in itertools.pairwise(closed)]
    assert 120_000 in gaps and set(gaps) <= {60_000, 120_000}
    assert server.faults.fired["kline_gap"] > 0


async def test_rest_error_before_and_after_execution(server: SimulatorServer) -> None:
    api = rest(server)
    server.inject("rest_error", "order", when="before", method="POST")
    with pytest.raises(ServerError) as err:
        await limit_buy(api, "fault-before")
    assert err.value.status_code == 503
    with pytest.raises(BadRequestError) as missing:
        await sdk(api.query_order, symbol=SYMBOL, orig_client_order_id="fault-before")
    assert missing.value.status_code == -2013  # never executed
    server.inject("rest_error", "order", when="after", method="POST", status=502)
    with pytest.raises(ServerError) as err:
        await limit_buy(api, "fault-after")
    assert err.value.status_code == 502
    order = await sdk(api.query_order, symbol=SYMBOL, orig_client_order_id="fault-after")
    assert order.status == "NEW"  # it exists despite the 5xx
    assert server.faults.fired["rest_error"] == 2


async def test_rest_delay_times_the_client_out_after_executing(server: SimulatorServer) -> None:
    server.inject("rest_delay", "order", seconds=1.0)
    with pytest.raises(NetworkError):
        await limit_buy(rest(server, timeout_ms=300), "fault-delay")
    order = await sdk(rest(server).query_order, symbol=SYMBOL, orig_client_order_id="fault-delay")
    assert order.status == "NEW"


async def test_forced_429_and_418(server: SimulatorServer) -> None:
    api = rest(server)
    server.inject("force_429", 1)
    with pytest.raises(TooManyRequestsError) as limited:
        await asyncio.to_thread(api.test_connectivity)
    assert limited.value.status_code == -1003 and (limited.value.retry_after or 0) >= 1
    assert (await asyncio.to_thread(api.test_connectivity)).status == 200
    server.inject("force_418", 1)
    with pytest.raises(RateLimitBanError) as banned:
        await asyncio.to_thread(api.check_server_time)
    assert banned.value.retry_after == 1 and "IP banned until" in banned.value.error_message
    await asyncio.sleep(1.05)
    assert (await asyncio.to_thread(api.test_connectivity)).status == 200


async def test_clock_skew_moves_server_time_and_fails_unsynced_clients(server: SimulatorServer) -> None:
    api = rest(server)
    server.inject("clock_skew", 10_000)
    server_time = (await sdk(api.check_server_time)).server_time
    assert server_time - WallClock().now_ms() > 9_000
    with pytest.raises(BadRequestError) as err:
        await sdk(api.get_current_position_mode)
    assert err.value.status_code == -1021


async def test_reject_orders_then_accept(server: SimulatorServer) -> None:
    api = rest(server)
    server.inject("reject_orders", 1, code=-2019)
    with pytest.raises(BadRequestError) as err:
        await limit_buy(api, "fault-reject")
    assert (err.value.status_code, err.value.error_message) == (-2019, "Margin is insufficient.")
    assert (await limit_buy(api, "fault-accept")).status == "NEW"


async def private_socket(server: SimulatorServer, session: Sockets
                         ) -> tuple[str, aiohttp.ClientWebSocketResponse]:
    key = (await sdk(rest(server).start_user_data_stream)).listen_key
    ws = await session.ws_connect(f"{server.stream_url}/private/stream")
    await ws.send_json({"method": "SUBSCRIBE", "params": [key], "id": 1})
    assert json.loads((await ws.receive()).data) == {"result": None, "id": 1}
    return key, ws


async def test_listen_key_expire(server: SimulatorServer, session: Sockets) -> None:
    key, ws = await private_socket(server, session)
    server.inject("listen_key_expire")
    async with asyncio.timeout(3):
        message = json.loads((await ws.receive()).data)
    assert message["stream"] == key
    assert message["data"]["e"] == "listenKeyExpired" and message["data"]["listenKey"] == key
    assert isinstance(message["data"]["E"], int)
    with pytest.raises(BadRequestError) as err:
        await sdk(rest(server).keepalive_user_data_stream)
    assert err.value.status_code == -1125


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("user_drop", ["u-2"]), ("user_dup", ["u-1", "u-1", "u-2"]), ("user_reorder", ["u-2", "u-1"])],
)
async def test_user_event_drop_dup_reorder(server: SimulatorServer, session: Sockets,
                                           fault: str, expected: list[str]) -> None:
    _, ws = await private_socket(server, session)
    server.inject(fault, 1, event="ORDER_TRADE_UPDATE")
    api = rest(server)
    await limit_buy(api, "u-1")
    await limit_buy(api, "u-2")
    events = await user_events(ws, len(expected))
    assert [e["o"]["c"] for e in events] == expected
    assert await frames(ws, 0.2) == []  # nothing else follows
    assert server.faults.fired[fault] == 1


async def test_control_endpoint(server: SimulatorServer, session: Sockets) -> None:
    url = f"{server.rest_url}/_sim/faults"
    async with session.session.post(url, json={"name": "force_429", "value": 1}) as resp:
        assert resp.status == 200
        assert (await resp.json())["active"] == [{"name": "force_429", "value": "1", "remaining": 1}]
    async with session.session.get(f"{server.rest_url}/fapi/v1/ping") as resp:
        assert resp.status == 429 and resp.headers["Retry-After"]
    async with session.session.post(url, json=[{"spec": "clock_skew=-5000"}]) as resp:
        assert resp.status == 200
    async with session.session.get(url) as resp:
        report = await resp.json()
    assert report["fired"] == {"force_429": 1, "clock_skew": 1}
    async with session.session.post(url, json={"name": "no_such_fault"}) as resp:
        assert resp.status == 400 and "unknown fault" in (await resp.json())["msg"]
    async with session.session.delete(url) as resp:
        assert (await resp.json())["active"] == []


def test_fault_specs_are_parsed_and_bad_ones_named() -> None:
    plan = FaultPlan(["ws_drop_every=30", "rest_error=order,when=after,status=504,count=2"])
    assert [f["name"] for f in plan.report()["active"]] == ["ws_drop_every", "rest_error"]
    for bad, words in [("nope=1", "unknown fault"), ("rest_error=order,when=later", "before or after"),
                       ("ws_drop_every", "value is required"), ("user_dup=1,colour=red", "unknown option")]:
        with pytest.raises(FaultError, match=words):
            FaultPlan([bad])
