"""Many symbols within Binance's stream limits (issue 19), against the simulator, which enforces them
as Binance does: at most 200 streams on each of the daemon's sockets (ceil(streams / 200) sockets),
and never more than 10 messages a second sent on one (the simulator closes a socket that does)."""

from __future__ import annotations

import math
from pathlib import Path

from core.events import Candle, MarkPrice
from executor.binance.market_streams import MarketStreams
from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

from .conftest import DATA
from .test_streams import FAST, until


def _venue(count: int) -> tuple[SimulatedExchange, ScaledClock]:
    clock = ScaledClock(WallClock().now_ms())
    return SimulatedExchange.from_data(Path(DATA), start_ms=clock.now_ms(), count=count), clock


async def test_streams_of_250_symbols_take_ceil_streams_over_200_sockets() -> None:
    exchange, clock = _venue(250)
    symbols = exchange.symbols()
    async with SimulatorServer(exchange, clock, tick_ms=50) as srv:
        events: list[Candle | MarkPrice] = []
        streams = MarketStreams(srv.stream_url, clock, events.append, **FAST)
        try:
            await streams.start(symbols)
            assert await streams.wait_connected(20)
            wanted = 2 * len(symbols)
            assert len(streams.status()) == math.ceil(wanted / 200) == 3
            assert all(s.streams <= 200 for s in streams.status())
            await until(lambda: {e.symbol for e in events} == set(symbols), timeout_s=20)
            market_sockets = [c for c in srv.hub.connections if c.path == "market"]
            assert len(market_sockets) == 3 and sum(len(c.subs) for c in market_sockets) == wanted
        finally:
            await streams.stop()


async def test_symbols_added_one_by_one_are_paced_under_10_messages_a_second() -> None:
    exchange, clock = _venue(120)
    symbols = exchange.symbols()
    async with SimulatorServer(exchange, clock, tick_ms=50) as srv:
        events: list[Candle | MarkPrice] = []
        streams = MarketStreams(srv.stream_url, clock, events.append, **FAST)
        try:
            await streams.start(symbols[:10])
            assert await streams.wait_connected(20)
            for symbol in symbols[10:]:  # as a live config edit or a strategy adding symbols would
                await streams.add_symbols([symbol])
            await until(lambda: {e.symbol for e in events} == set(symbols), timeout_s=20)
            assert srv.hub.rate_disconnects == 0 and srv.hub.peak_incoming_per_s <= 10
            assert [s.reconnects for s in streams.status()] == [0, 0]
        finally:
            await streams.stop()
