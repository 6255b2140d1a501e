"""Fixtures: a real loopback simulator and a gateway pointed at it through the official SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import Mode
from executor.binance.endpoints import VenueEndpoints
from executor.binance.gateway import Gateway
from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SYMBOL = "ADAUSDT"


def endpoints(server: SimulatorServer, *, secret: str = DEFAULT_API_SECRET) -> VenueEndpoints:
    """The simulator's URLs with its credentials (or a wrong secret)."""
    return VenueEndpoints(
        mode=Mode.SIM,
        rest_url=server.rest_url,
        stream_url=server.stream_url,
        ws_api_url=server.ws_api_url,
        api_key=SecretStr(DEFAULT_API_KEY),
        api_secret=SecretStr(secret),
    )


@pytest.fixture
async def server() -> AsyncIterator[SimulatorServer]:
    clock = ScaledClock(WallClock().now_ms(), speed=1)
    exchange = SimulatedExchange.from_data(DATA, start_ms=clock.now_ms(), symbols=[SYMBOL])
    async with SimulatorServer(exchange, clock, tick_ms=20) as srv:
        yield srv


@pytest.fixture
async def gateway(server: SimulatorServer) -> AsyncIterator[Gateway]:
    gw = Gateway(endpoints(server), server.clock, timeout_s=3.0)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.close()
