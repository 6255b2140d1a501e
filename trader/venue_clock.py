"""The market clock of a venue the daemon does not start itself.

A standalone simulator (`python -m simulator --speed 600`, reached through TRADER_REST_URL) runs its
market on an accelerated clock: its klines and streams are stamped in simulated time while its
authentication clock (/fapi/v1/time) is the wall clock. A daemon on the wall clock then takes the
simulator's newer candles for not yet closed and back-fills nothing (candles went missing where the
warm-up met the stream, and after each reconnect). So:

- `follow_venue_clock`: in `sim` mode the simulator is asked for its clock (GET /_sim/status:
  simulated now and speed) and the daemon runs on a copy of it, as with the in-process simulator;
- `check_market_clock`: whatever the venue, exchangeInfo's serverTime (the market's now) must agree
  with the daemon's market clock, or start-up stops with one line saying why.
"""

from __future__ import annotations

import time

import aiohttp
import structlog

from core.errors import DaemonFailed
from utils.clock import ScaledClock

_log = structlog.get_logger(__name__)

MAX_MARKET_CLOCK_GAP_MS = 60_000  # more than any honest network delay or host clock error we accept


async def follow_venue_clock(rest_url: str, *, timeout_s: float = 5.0) -> ScaledClock | None:
    """A clock following the simulator at `rest_url`; None when it does not say (not a simulator)."""
    sent = time.monotonic()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.get(f"{rest_url.rstrip('/')}/_sim/status") as response,
        ):
            if response.status != 200:
                return None
            document = await response.json()
        sim_now, speed = int(document["simTime"]), float(document["speed"])
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
        return None
    if speed <= 0:
        return None
    # The answer was written about half a round trip ago, in simulated milliseconds.
    half_trip_ms = (time.monotonic() - sent) / 2 * 1000 * speed
    clock = ScaledClock(sim_now + int(half_trip_ms), speed)
    _log.info("venue.clock_followed", speed=speed, sim_time=clock.now_ms())
    return clock


def check_market_clock(server_time_ms: int, market_now_ms: int) -> None:
    """Stop (DaemonFailed) when the venue's market time and ours disagree by more than a minute."""
    if server_time_ms <= 0:
        return  # the venue did not say
    gap = server_time_ms - market_now_ms
    if abs(gap) <= MAX_MARKET_CLOCK_GAP_MS:
        return
    direction = "ahead of" if gap > 0 else "behind"
    raise DaemonFailed(
        f"the venue's market clock (exchangeInfo serverTime) is {abs(gap) / 60_000:.1f} minutes "
        f"{direction} this daemon's: candles would be lost or misread. A simulator running at "
        "another speed must serve /_sim/status (python -m simulator does) or run at --speed 1"
    )
