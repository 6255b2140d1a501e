"""The simulated venue the daemon starts in-process for `sim` mode.

The simulator runs on the same event loop and serves Binance's protocol on a free loopback port; the
daemon then talks to it through the official SDK exactly as it would talk to Binance, so sim mode
exercises the real gateway, streams and order path. Its clock (a ScaledClock) is handed to the daemon
so both agree on simulated time.

The clock starts now, or after the newest market time the database already holds (`resume_after`):
a run at speed 600 stores candles, orders and fills hours ahead of the wall clock, and a second run
starting "now" would deliver candles older than the stored ones, which every consumer drops as
already seen (the run traded nothing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from config.models import TraderConfig
from database.models import CandleRow, FillRow, OrderRow
from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.data_dir import listed_symbols, replayable_symbols
from simulator.engine_types import EngineConfig
from simulator.exchange import SimulatedExchange
from simulator.exchange_market import paced_update_intervals
from simulator.server import SimulatorServer
from utils.clock import ScaledClock

MINUTE_MS = 60_000


@dataclass(slots=True)
class SimVenue:
    """A running in-process simulator: its server, its clock and the credentials it accepts."""

    exchange: SimulatedExchange
    server: SimulatorServer
    clock: ScaledClock
    api_key: str
    api_secret: str

    @property
    def rest_url(self) -> str:
        return self.server.rest_url

    @property
    def stream_url(self) -> str:
        return self.server.stream_url

    async def stop(self) -> None:
        """Close every socket and release the port."""
        await self.server.stop()

    def status(self) -> dict[str, Any]:
        """For the heartbeat: where it serves and how fast simulated time runs."""
        return {"rest_url": self.rest_url, "stream_url": self.stream_url, "speed": self.clock.speed}


def newest_market_time(session: Session) -> int | None:
    """The newest simulated instant the database records (candles, orders, fills), or None."""
    times = [
        session.exec(select(func.max(CandleRow.close_time))).one(),
        session.exec(select(func.max(OrderRow.updated_time))).one(),
        session.exec(select(func.max(FillRow.time))).one(),
    ]
    known = [int(t) for t in times if t is not None]
    return max(known) if known else None


def sim_start_ms(now_ms: int, resume_after: int | None) -> int:
    """Where the simulated clock starts: now, or the minute after `resume_after` if that is later
    (so the first live candle is newer than everything stored)."""
    if resume_after is None or resume_after < now_ms:
        return now_ms
    return (resume_after // MINUTE_MS + 1) * MINUTE_MS


async def start_sim_venue(
    config: TraderConfig, *, start_ms: int | None = None, resume_after: int | None = None
) -> SimVenue:
    """Load the configured market data and serve it on 127.0.0.1 (a free port).

    `resume_after`: the newest market time already stored (`newest_market_time`); the clock
    starts after it when it lies ahead of `start_ms` (default: now).
    """
    now = sim_start_ms(start_ms if start_ms is not None else time.time_ns() // 1_000_000, resume_after)
    sim = config.simulator
    speed = float(sim.speed)
    kline_update_ms, mark_update_ms = paced_update_intervals(speed)
    # Symbols with real data in data/klines replay it; every other symbol the venue lists gets a
    # seeded SYNTHETIC market, so a symbol added to the YAML while the daemon runs can trade too.
    with_data = replayable_symbols(sim.data)
    listed = listed_symbols(sim.data)
    exchange = SimulatedExchange.from_data(
        sim.data,
        start_ms=now,
        symbols=sorted(with_data),
        synthetic_symbols=sorted(listed - with_data),
        seed=sim.seed,
        starting_balance=Decimal(sim.starting_balance_usdt),
        config=EngineConfig(fill_parts=sim.fill_parts),
        history_days=max(2, config.engine.warmup_candles // 1440 + 2),
        kline_update_ms=kline_update_ms,
        mark_update_ms=mark_update_ms,
        count=sim.symbol_count,
    )
    clock = ScaledClock(now, speed)
    server = SimulatorServer(exchange, clock, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET)
    await server.start()
    return SimVenue(exchange, server, clock, DEFAULT_API_KEY, DEFAULT_API_SECRET)
