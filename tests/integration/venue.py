"""A running simulator plus a gateway connected to it, for tests that need a real venue."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from config.settings import Mode
from executor.binance.endpoints import VenueEndpoints
from executor.binance.gateway import Gateway
from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.engine_types import EngineConfig
from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from utils.clock import ScaledClock

DATA = Path(__file__).resolve().parents[2] / "data"


@dataclass
class Venue:
    """A simulator on loopback, its clock, and a started gateway talking to it."""

    server: SimulatorServer
    clock: ScaledClock
    gateway: Gateway
    endpoints: VenueEndpoints


@asynccontextmanager
async def simulated_venue(
    *,
    speed: float = 60.0,
    symbols: tuple[str, ...] = ("WLDUSDT", "ADAUSDT"),
    start_ms: int | None = None,
    fill_parts: int = 1,
    count: int | None = None,
) -> AsyncIterator[Venue]:
    """Start a simulator on a free port and a gateway against it; stop both afterwards."""
    now = start_ms if start_ms is not None else time.time_ns() // 1_000_000
    exchange = SimulatedExchange.from_data(
        DATA, start_ms=now, symbols=list(symbols), seed=7, config=EngineConfig(fill_parts=fill_parts),
        count=count,  # `count` perpetuals with real rules instead of `symbols` (many-symbol tests)
    )
    clock = ScaledClock(now, speed)
    server = SimulatorServer(exchange, clock)
    await server.start()
    endpoints = VenueEndpoints(
        Mode.SIM,
        server.rest_url,
        server.stream_url,
        api_key=SecretStr(DEFAULT_API_KEY),
        api_secret=SecretStr(DEFAULT_API_SECRET),
    )
    gateway = Gateway(endpoints, clock)
    try:
        await gateway.start()
        yield Venue(server, clock, gateway, endpoints)
    finally:
        await gateway.close()
        await server.stop()
