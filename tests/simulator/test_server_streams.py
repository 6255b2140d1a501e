"""The WebSocket side of the simulator with a plain client: every URL form, the SUBSCRIBE protocol,
errors for bad requests, the stream limit, server pings, slow clients and a clean shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

DATA = Path(__file__).resolve().parents[2] / "data"


async def start(**options: Any) -> SimulatorServer:
    clock = ScaledClock(WallClock().now_ms(), speed=options.pop("speed", 600))
    exchange = SimulatedExchange.from_data(DATA, start_ms=clock.now_ms(), symbols=["ADAUSDT"])
    server = SimulatorServer(exchange, clock, tick_ms=20, **options)
    await server.start()
    return server


@pytest.fixture
async def server() -> AsyncIterator[SimulatorServer]:
    srv = await start(max_streams=3)
    yield srv
    await srv.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def receive(ws: aiohttp.ClientWebSocketResponse, seconds: float = 3.0) -> Any:
    msg = await ws.receive(timeout=seconds)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def reply(ws: aiohttp.ClientWebSocketResponse, req_id: Any) -> Any:
    """Skip data frames until the reply to request `req_id`."""
    while True:
        frame = await receive(ws)
        if "id" in frame and frame["id"] == req_id:
            return frame


async def silent(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> bool:
    try:
        msg = await ws.receive(timeout=seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"expected silence, got {msg}")


async def test_raw_and_combined_url_forms(server: SimulatorServer, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(f"{server.stream_url}/ws/adausdt@kline_1m") as ws:
        frame = await receive(ws)
        assert frame["e"] == "kline" and frame["s"] == "ADAUSDT" and "stream" not in frame
    url = f"{server.stream_url}/stream?streams=adausdt@kline_1m/adausdt@markPrice@1s"
    async with session.ws_connect(url) as ws:
        seen = set()
        async with asyncio.timeout(3):
            while len(seen) < 2:
                frame = await receive(ws)
                assert set(frame) == {"stream", "data"}
                seen.add(frame["stream"])
        assert seen == {"adausdt@kline_1m", "adausdt@markPrice@1s"}


async def test_subscribe_protocol_echoes_ids(server: SimulatorServer, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(f"{server.stream_url}/market/stream") as ws:
        assert await silent(ws, 0.2)  # nothing before a subscription
        await ws.send_json({"method": "SUBSCRIBE", "params": ["adausdt@markPrice@1s"], "id": 7})
        assert await reply(ws, 7) == {"result": None, "id": 7}
        assert (await receive(ws))["stream"] == "adausdt@markPrice@1s"
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": "a-uuid"})
        assert await reply(ws, "a-uuid") == {"result": ["adausdt@markPrice@1s"], "id": "a-uuid"}
        await ws.send_json({"method": "UNSUBSCRIBE", "params": ["adausdt@markPrice@1s"], "id": 8})
        assert await reply(ws, 8) == {"result": None, "id": 8}
        async with asyncio.timeout(2):  # frames queued before the unsubscribe may still come, then none
            while True:
                try:
                    await ws.receive(timeout=0.3)
                except TimeoutError:
                    break


async def test_bad_requests_get_error_replies_and_the_socket_survives(
    server: SimulatorServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(f"{server.stream_url}/market/stream") as ws:
        await ws.send_str("this is not json")
        assert (await receive(ws))["error"]["code"] == 3
        await ws.send_json({"method": "SUBSCRIBE", "params": ["nosuchcoin@kline_1m"], "id": 1})
        assert (await reply(ws, 1))["error"]["code"] == 2
        await ws.send_json({"method": "FLY", "id": 2})
        assert (await reply(ws, 2))["error"]["code"] == 2
        too_many = ["adausdt@kline_1m", "adausdt@markPrice@1s", "adausdt@markPrice", "a" * 64]
        await ws.send_json({"method": "SUBSCRIBE", "params": too_many, "id": 3})
        assert "at most 3" in (await reply(ws, 3))["error"]["msg"]
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 4})
        assert await reply(ws, 4) == {"result": [], "id": 4}


async def test_market_stream_on_the_private_path_is_accepted_but_silent(
    server: SimulatorServer, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(f"{server.stream_url}/private/stream") as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["adausdt@kline_1m"], "id": 1})
        assert await reply(ws, 1) == {"result": None, "id": 1}
        assert await silent(ws, 0.4)


async def test_server_pings_and_closes_a_client_that_never_pongs(session: aiohttp.ClientSession) -> None:
    server = await start(ping_interval_s=0.1, pong_timeout_s=0.2)
    try:
        async with session.ws_connect(f"{server.stream_url}/ws", autoping=False) as ws:
            first = await ws.receive(timeout=2)
            assert first.type == aiohttp.WSMsgType.PING
            await ws.pong(first.data)  # answered: the socket stays
            async with asyncio.timeout(3):
                while (msg := await ws.receive()).type == aiohttp.WSMsgType.PING:
                    pass  # not answered any more
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    finally:
        await server.stop()


async def test_a_client_that_cannot_keep_up_is_disconnected(session: aiohttp.ClientSession) -> None:
    server = await start(speed=6000, send_queue_size=2)
    try:
        async with session.ws_connect(f"{server.stream_url}/ws/adausdt@kline_1m") as ws:
            async with asyncio.timeout(3):
                while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                    pass
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1008
        assert server.hub.slow_disconnects >= 1
    finally:
        await server.stop()


async def test_stop_closes_sockets_cleanly(session: aiohttp.ClientSession) -> None:
    server = await start()
    async with session.ws_connect(f"{server.stream_url}/ws/adausdt@kline_1m") as ws:
        await receive(ws)
        await server.stop()
        async with asyncio.timeout(3):
            while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                pass
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)
