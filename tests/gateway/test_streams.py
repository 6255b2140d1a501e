"""Supervised streams against the real simulator (drop, stall, listenKey expiry, -1125) and
against a tiny loopback WebSocket server that sends malformed frames."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core.events import Candle, ExecutionReport, MarkPrice, UserStreamReset
from executor.binance.gateway import Gateway
from executor.binance.market_streams import MarketStreams
from executor.binance.user_stream import UserDataStream
from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

from .conftest import DATA, FIXTURES, SYMBOL
from .test_gateway_sim import market_buy

FAST: dict[str, Any] = {"backoff_initial_s": 0.05, "backoff_max_s": 0.5}


def executed(events: list[Any], cid: str) -> bool:
    return any(type(e) is ExecutionReport and e.client_order_id == cid for e in events)


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for a condition the streams make true (polling: the tests observe, never drive)."""
    for _ in range(int(timeout_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def market(server: SimulatorServer) -> AsyncIterator[tuple[MarketStreams, list[Any], list[Any]]]:
    events: list[Candle | MarkPrice] = []
    reconnected: list[frozenset[str]] = []
    streams = MarketStreams(server.stream_url, server.clock, events.append, watchdog_s=1.0, **FAST)
    streams.on_reconnect(reconnected.append)
    await streams.start([SYMBOL])
    try:
        yield streams, events, reconnected
    finally:
        await streams.stop()


async def test_market_data_flows_decoded(market: tuple[MarketStreams, list[Any], list[Any]]) -> None:
    streams, events, _ = market
    await until(lambda: {type(e) for e in events} == {Candle, MarkPrice})
    assert {e.symbol for e in events} == {SYMBOL}
    [status] = streams.status()
    assert status.connected and status.streams == 2 and status.malformed == 0 and status.messages > 0


async def test_ws_drop_reconnects_resubscribes_and_calls_back(
    server: SimulatorServer, market: tuple[MarketStreams, list[Any], list[Any]]
) -> None:
    streams, events, reconnected = market
    await until(lambda: len(events) > 0)
    server.inject("ws_drop")
    await until(lambda: streams.status()[0].reconnects >= 1)
    seen = len(events)
    await until(lambda: len(events) > seen + 2)  # data flows again on the new socket
    assert reconnected == [frozenset({SYMBOL})]


async def test_a_silent_socket_is_detected_by_the_watchdog(
    server: SimulatorServer, market: tuple[MarketStreams, list[Any], list[Any]]
) -> None:
    streams, events, reconnected = market
    await until(lambda: len(events) > 0)
    server.inject("ws_stall", 0)  # open, no close, no data, no pings: until cleared
    await until(lambda: streams.status()[0].reconnects >= 1, timeout_s=4.0)
    assert "silent" in streams.status()[0].last_error
    seen = len(events)
    await until(lambda: len(events) > seen)
    assert reconnected


async def test_symbols_are_packed_per_connection_and_edited_live() -> None:
    clock = ScaledClock(WallClock().now_ms())
    exchange = SimulatedExchange.from_data(Path(DATA), start_ms=clock.now_ms(), symbols=[SYMBOL],
                                           synthetic_symbols=["SYNAUSDT", "SYNBUSDT"])
    async with SimulatorServer(exchange, clock, tick_ms=20) as srv:
        events: list[Candle | MarkPrice] = []
        streams = MarketStreams(srv.stream_url, clock, events.append, streams_per_connection=4, **FAST)
        try:
            await streams.start([SYMBOL, "SYNAUSDT"])
            assert [s.streams for s in streams.status()] == [4]
            await streams.add_symbols(["SYNBUSDT"])
            assert [s.streams for s in streams.status()] == [4, 2]
            await until(lambda: {e.symbol for e in events} == {SYMBOL, "SYNAUSDT", "SYNBUSDT"})
            await streams.remove_symbols(["SYNBUSDT"])
            assert [s.streams for s in streams.status()] == [4]
            await asyncio.sleep(0.1)
            seen = len(events)
            await until(lambda: len(events) > seen + 4)
            assert "SYNBUSDT" not in {e.symbol for e in events[seen:]}
        finally:
            await streams.stop()


@pytest.fixture
async def junk_server() -> AsyncIterator[str]:
    """A loopback combined-stream server that answers SUBSCRIBE, then sends junk and good frames."""
    good = (FIXTURES / "kline_1m_real.jsonl").read_text().splitlines()[0]
    bad_price = json.loads(good)
    bad_price["data"]["k"]["c"] = 1.011  # a JSON number where Binance sends a string
    frames = ["not json {", "[1, 2, 3]", json.dumps(bad_price), '{"stream":"x","data":{"e":"kline"}}', good]

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            request_id = json.loads(msg.data)["id"]
            await ws.send_str(json.dumps({"result": None, "id": request_id}))
            for frame in frames:
                await ws.send_str(frame)
            await ws.send_bytes(b"\x00")
        return ws

    app = web.Application()
    app.router.add_get("/market/stream", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_malformed_frames_are_counted_and_skipped_never_fatal(junk_server: str) -> None:
    events: list[Candle | MarkPrice] = []
    streams = MarketStreams(junk_server, WallClock(), events.append, watchdog_s=5.0, **FAST)
    try:
        await streams.start(["CTKUSDT"])
        await until(lambda: len(events) == 1)
        await until(lambda: streams.status()[0].malformed == 5)
        [status] = streams.status()
        assert status.connected and status.reconnects == 0  # the socket survived all of it
        assert events[0].symbol == "CTKUSDT"
    finally:
        await streams.stop()


def test_a_failing_sink_is_not_malformed_and_not_fatal() -> None:
    def broken(event: Candle | MarkPrice) -> None:
        raise RuntimeError("consumer bug")

    streams = MarketStreams("ws://127.0.0.1:9", WallClock(), broken)
    frame = json.loads((FIXTURES / "kline_1m_real.jsonl").read_text().splitlines()[0])
    streams._handle(frame)
    assert streams.sink_failures == 1


# --- user-data stream -----------------------------------------------------------------------------


@pytest.fixture
async def user(
    server: SimulatorServer, gateway: Gateway
) -> AsyncIterator[tuple[UserDataStream, list[Any]]]:
    events: list[Any] = []
    stream = UserDataStream(gateway, server.stream_url, server.clock, events.append, keepalive_s=0.3,
                            watchdog_s=2.0, probe_s=0.5, retry_s=0.1, **FAST)
    await stream.start()
    try:
        yield stream, events
    finally:
        await stream.stop()


async def test_executions_arrive_on_the_user_stream(
    gateway: Gateway, user: tuple[UserDataStream, list[Any]]
) -> None:
    stream, events = user
    order = await gateway.place_order(market_buy("user-1"))
    await until(lambda: any(type(e) is ExecutionReport and e.trade_id is not None for e in events))
    fill = next(e for e in events if type(e) is ExecutionReport and e.trade_id is not None)
    assert fill.order_id == order.order_id and fill.client_order_id == "user-1"
    assert stream.status()[0].malformed == 0


async def test_listen_key_expired_gives_a_new_key_and_a_reset(
    server: SimulatorServer, gateway: Gateway, user: tuple[UserDataStream, list[Any]]
) -> None:
    stream, events = user
    old = stream.listen_key
    server.inject("listen_key_expire")
    await until(lambda: any(type(e) is UserStreamReset for e in events))
    assert [e.reason for e in events if type(e) is UserStreamReset] == ["listenKeyExpired"]
    assert stream.listen_key not in (None, old)
    await gateway.place_order(market_buy("after-expiry"))  # events flow on the new key
    await until(lambda: executed(events, "after-expiry"))


async def test_keepalive_1125_gives_a_new_key_and_a_reset(
    server: SimulatorServer, user: tuple[UserDataStream, list[Any]]
) -> None:
    stream, events = user
    old = stream.listen_key
    server.listen_keys.close()  # the venue forgot the key silently: only the keep-alive notices
    await until(lambda: any(type(e) is UserStreamReset for e in events))
    assert [e.reason for e in events if type(e) is UserStreamReset] == ["listenKey -1125"]
    assert stream.listen_key not in (None, old)


async def test_reconnect_resubscribes_and_resets(
    server: SimulatorServer, gateway: Gateway, user: tuple[UserDataStream, list[Any]]
) -> None:
    _, events = user
    server.inject("ws_drop")
    await until(lambda: any(type(e) is UserStreamReset for e in events))
    assert [e.reason for e in events if type(e) is UserStreamReset] == ["reconnect"]
    await gateway.place_order(market_buy("after-drop"))
    await until(lambda: executed(events, "after-drop"))


async def test_a_stalled_user_socket_is_probed_and_replaced(
    server: SimulatorServer, user: tuple[UserDataStream, list[Any]]
) -> None:
    stream, events = user
    server.inject("ws_stall", 0)
    await until(lambda: any(type(e) is UserStreamReset for e in events), timeout_s=6.0)
    assert "silent" in stream.status()[0].last_error
