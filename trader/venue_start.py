"""Starting the venue a mode trades on, and what the daemon needs to talk to it.

- `sim` without URL overrides: the simulator starts in-process on a free loopback port
  (`sim_venue.py`) and the daemon runs on its accelerated clock;
- `paper`: the public market's streams, orders filled by a local simulator (`paper_venue.py`);
- otherwise (testnet, live, or sim with TRADER_REST_URL / TRADER_STREAM_URL naming a standalone
  simulator): the configured URLs, on the wall clock, except that a standalone simulator's clock
  (its speed and simulated now, `venue_clock.py`) is followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from config.models import TraderConfig
from config.settings import Mode, Settings
from database.engine import Database
from executor.binance.endpoints import VenueEndpoints, endpoints_for
from trader.paper_venue import PaperVenue, start_paper_venue
from trader.sim_venue import SimVenue, newest_market_time, start_sim_venue
from trader.venue_clock import follow_venue_clock
from utils.clock import Clock, WallClock


@dataclass
class StartedVenue:
    """The venue's endpoints and clock, and the in-process venue to stop at exit (if any)."""

    endpoints: VenueEndpoints
    clock: Clock
    user_stream_url: str
    sim: SimVenue | None = None
    paper: PaperVenue | None = None

    async def stop(self) -> None:
        """Stop the in-process simulator or paper venue."""
        if self.sim is not None:
            await self.sim.stop()
        if self.paper is not None:
            await self.paper.stop()


async def start_venue(
    settings: Settings, config: TraderConfig, mode: Mode, *, db: Database | None = None
) -> StartedVenue:
    """Start (or point at) the venue of `mode` (see the module docstring).

    `db`: an in-process simulator's clock starts after the newest market time it holds
    (`sim_venue.newest_market_time`), so a second run's candles are newer than the stored ones.
    """
    if mode is Mode.PAPER:
        # Market data from the public stream; orders, account and klines at a local simulator
        # that fills at the public prices. Nothing is ever sent to Binance.
        paper = await start_paper_venue(config, settings)
        endpoints = VenueEndpoints(
            mode=Mode.PAPER,
            rest_url=paper.rest_url,
            stream_url=paper.stream_url,
            api_key=SecretStr(paper.api_key),
            api_secret=SecretStr(paper.api_secret),
        )
        return StartedVenue(endpoints, paper.clock, paper.user_stream_url, paper=paper)
    overridden = settings.rest_url is not None or settings.stream_url is not None
    if mode is Mode.SIM and not overridden:
        resume_after = await db.run(newest_market_time) if db is not None else None
        sim = await start_sim_venue(config, resume_after=resume_after)
        endpoints = VenueEndpoints(
            mode=Mode.SIM,
            rest_url=sim.rest_url,
            stream_url=sim.stream_url,
            api_key=SecretStr(sim.api_key),
            api_secret=SecretStr(sim.api_secret),
        )
        return StartedVenue(endpoints, sim.clock, endpoints.stream_url, sim=sim)
    endpoints = endpoints_for(settings, mode=mode)
    # A standalone simulator may run its market faster than the wall clock: follow it.
    clock = await follow_venue_clock(endpoints.rest_url) if mode is Mode.SIM else None
    return StartedVenue(endpoints, clock or WallClock(), endpoints.stream_url)
