"""Simulator A plays "Binance's public market"; the paper venue reads it and fills orders locally.

A records every REST request, every stream socket and every stream command it receives, so a
test can prove that nothing but public market data was ever asked of it, and every kline close it
published, so a test can compare fills with the public prices.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from config.loader import load_config
from config.models import TraderConfig
from config.settings import Mode
from executor.binance.endpoints import VenueEndpoints
from executor.binance.gateway import Gateway
from simulator.engine_types import EngineConfig
from simulator.exchange import SimulatedExchange
from simulator.exchange_market import paced_update_intervals
from simulator.server import SimulatorServer
from simulator.streams import StreamConnection
from trader.paper_venue import PaperVenue, start_paper_venue
from utils.clock import ScaledClock

ROOT = Path(__file__).resolve().parents[2]
SLIPPAGE_BPS = Decimal("5")
SYMBOL = "ADAUSDT"


@dataclass
class PublicVenue:
    """Simulator A and what reached it."""

    server: SimulatorServer
    clock: ScaledClock
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # method, path, key or signature
    sockets: list[str] = field(default_factory=list)
    commands: list[tuple[str, list[str]]] = field(default_factory=list)
    closes: list[tuple[str, Decimal]] = field(default_factory=list)  # kline stream, close, in order

    def closes_of(self, symbol: str) -> list[Decimal]:
        stream = f"{symbol.lower()}@kline_1m"
        return [c for s, c in self.closes if s == stream]


def _record(public: PublicVenue) -> None:
    server, hub = public.server, public.server.hub
    rest, handle, command, publish = server._rest, hub.handle, hub._command, hub.publish_market

    async def recording_rest(request: web.Request) -> web.Response:
        signed = "X-MBX-APIKEY" in request.headers or "signature" in request.rel_url.query
        public.requests.append((request.method, request.path, signed))
        return await rest(request)

    async def recording_handle(request: web.Request) -> web.WebSocketResponse:
        public.sockets.append(request.path_qs)
        return await handle(request)

    def recording_command(conn: StreamConnection, text: str) -> None:
        req = json.loads(text)
        public.commands.append((str(req.get("method")), [str(p) for p in req.get("params", [])]))
        command(conn, text)

    def recording_publish(stream: str, data_json: str) -> None:
        if stream.endswith("@kline_1m") and hub.wanted_market():
            public.closes.append((stream, Decimal(json.loads(data_json)["k"]["c"])))
        publish(stream, data_json)

    server._rest = recording_rest  # type: ignore[method-assign]
    hub.handle = recording_handle  # type: ignore[method-assign]
    hub._command = recording_command  # type: ignore[method-assign]
    hub.publish_market = recording_publish  # type: ignore[method-assign]


@asynccontextmanager
async def public_market(speed: float) -> AsyncIterator[PublicVenue]:
    """Simulator A replaying the real ADAUSDT/WLDUSDT data at `speed`, recording what reaches it."""
    now = time.time_ns() // 1_000_000
    kline_ms, mark_ms = paced_update_intervals(speed)
    exchange = SimulatedExchange.from_data(
        ROOT / "data",
        start_ms=now,
        symbols=["ADAUSDT", "WLDUSDT"],
        seed=7,
        kline_update_ms=kline_ms,
        mark_update_ms=mark_ms,
    )
    clock = ScaledClock(now, speed)
    public = PublicVenue(SimulatorServer(exchange, clock), clock)
    _record(public)
    await public.server.start()
    try:
        yield public
    finally:
        await public.server.stop()


@dataclass
class _Settings:
    stream_url: str | None
    rest_url: str | None = None


def paper_config(warmup: int = 30, symbols: tuple[str, ...] = ("WLDUSDT", "ADAUSDT")) -> TraderConfig:
    """The shipped configuration (WLDUSDT, ADAUSDT, or some of them) with a short warm-up."""
    config = load_config(ROOT / "config" / "config.yaml")
    return config.model_copy(
        update={
            "engine": config.engine.model_copy(update={"warmup_candles": warmup}),
            "symbols": [s for s in config.symbols if s.symbol in symbols],
        }
    )


@dataclass
class Paper:
    """A, the paper venue reading it, and the daemon's gateway at the paper venue."""

    public: PublicVenue
    venue: PaperVenue
    gateway: Gateway


@asynccontextmanager
async def paper_trading(
    speed: float, *, warmup: int = 30, symbols: tuple[str, ...] = ("WLDUSDT", "ADAUSDT"), **options: Any
) -> AsyncIterator[Paper]:
    """A at `speed`, the paper venue on it, and a gateway as app.py builds it in paper mode."""
    async with public_market(speed) as public:
        venue = await start_paper_venue(
            paper_config(warmup, symbols),
            _Settings(public.server.stream_url),
            engine_config=EngineConfig(slippage_bps=SLIPPAGE_BPS),
            **options,
        )
        try:
            endpoints = VenueEndpoints(
                Mode.PAPER,
                venue.rest_url,
                venue.user_stream_url,
                api_key=SecretStr(venue.api_key),
                api_secret=SecretStr(venue.api_secret),
            )
            gateway = Gateway(endpoints, venue.clock)
            try:
                await gateway.start()
                yield Paper(public, venue, gateway)
            finally:
                await gateway.close()
        finally:
            await venue.stop()


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Wait for something the venues make true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)
