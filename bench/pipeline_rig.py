"""What the live pipeline bench plugs into the daemon's pipeline: the burst socket that feeds it,
the timed strategy and the probe that measure it, and an in-memory strategy state store.

Imported by `live_pipeline.py` (a sibling: bench/ is on sys.path when the script runs).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiohttp

from core.bus import Subscription
from core.events import Candle, MarkPrice
from strategies.base import Output
from strategies.vwap import VwapStrategy

from pipeline_feed import Feed


class Probe:
    """Arrival and handled stamps, and the handled count the feeder waits for between bursts."""

    def __init__(self, n_frames: int, stamps: bool) -> None:
        self.stamps = stamps
        self.arrival = [0] * n_frames
        self.handled_at = [0] * n_frames
        self.handled = 0
        self.target = -1
        self.waiter: asyncio.Future[None] | None = None

    def done(self, frame: int) -> None:
        """An event was handled by its strategy (called from the hook wrapper)."""
        if self.stamps:
            self.handled_at[frame] = time.perf_counter_ns()
        self.handled += 1
        if self.handled == self.target and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class TimedVwap(VwapStrategy):
    """The real VwapStrategy; each market hook reports to the probe after the decision is made."""

    def bind(self, probe: Probe, index: dict[int, int]) -> None:
        """Attach the probe and this symbol's event_time -> frame index table."""
        self._probe = probe
        self._frame_of = index

    def on_mark_price(self, mark: MarkPrice) -> list[Output]:
        out = VwapStrategy.on_mark_price(self, mark)
        self._probe.done(self._frame_of[mark.event_time])
        return out

    def on_candle_update(self, candle: Candle) -> list[Output]:
        out = VwapStrategy.on_candle_update(self, candle)
        self._probe.done(self._frame_of[candle.event_time])
        return out

    def on_candle(self, candle: Candle) -> list[Output]:
        out = VwapStrategy.on_candle(self, candle)
        self._probe.done(self._frame_of[candle.event_time])
        return out


class MemoryStateStore:
    """Strategy state kept in a dict (the daemon's goes to the DB thread, off the hot path)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], dict[str, Any]] = {}

    async def load(self, symbol: str, strategy: str) -> dict[str, Any] | None:
        return self.states.get((symbol, strategy))

    async def save(self, symbol: str, strategy: str, state: dict[str, Any]) -> None:
        self.states[(symbol, strategy)] = state


class BurstSocket:
    """Stands in for `aiohttp.ClientWebSocketResponse` in `SupervisedConnection._read`: yields
    the feed's messages burst by burst; between bursts it waits until every event of the burst
    was handled or conflated away (the strategies are idle), like a socket with nothing buffered."""

    def __init__(self, feed: Feed, probe: Probe, market_subs: Sequence[Subscription],
                 between: Callable[[], None]) -> None:
        self._messages = [aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, f, None) for f in feed.frames]
        self._bursts = feed.bursts
        self._probe = probe
        self._subs = market_subs
        self._between = between
        self.close_code = 1000
        self.first_ns = 0

    def exception(self) -> BaseException | None:
        return None

    def __aiter__(self) -> AsyncIterator[aiohttp.WSMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[aiohttp.WSMessage]:
        probe, messages, arrival = self._probe, self._messages, self._probe.arrival
        perf = time.perf_counter_ns
        loop = asyncio.get_running_loop()
        self.first_ns = perf()
        fed = 0
        for start, end in self._bursts:
            for i in range(start, end):
                arrival[i] = perf()
                yield messages[i]
            fed += end - start
            conflated = sum(s.stats.conflated for s in self._subs)
            probe.target = fed - conflated
            if probe.handled < probe.target:
                probe.waiter = loop.create_future()
                await probe.waiter
                probe.waiter = None
            self._between()
