"""The live side of `trader parity`: the real daemon in sim mode, on a step clock, over a window.

The daemon is the one `python -m trader run` starts (`app.py`): the in-process simulator serves
Binance's protocol on loopback and the daemon talks to it through the official SDK, its gateway,
streams, order manager, risk gate and database. Only the clock differs: a `StepClock` that a
driver moves from one instant that can matter to the next (each stream update of the simulator's
grid, each TTL deadline, each sleeper's wake-up), and only once the daemon is idle: no thread busy
(REST calls, database writes) and nothing ready on the event loop for a few turns in a row. So the
wall-clock latency of the network costs no simulated time: an order sent on a candle's close is
placed at that close, as in a backtest, however loaded the machine is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from config.models import TraderConfig
from config.settings import Mode, Settings
from executor.binance.endpoints import VenueEndpoints
from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.engine_types import EngineConfig
from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from trader.app import Daemon
from trader.venue_start import StartedVenue
from utils.step_clock import StepClock

_T = TypeVar("_T")
_BPS = Decimal(10_000)
_CALM_TURNS = 3  # loop turns in a row with nothing ready and no thread busy: the daemon is idle
_NO_OWN_TICKS_MS = 86_400_000
_SETTLE_LIMIT_S = 120.0  # wall seconds one instant may take before the run is declared stuck


class CountingLoop(asyncio.SelectorEventLoop):
    """An event loop that knows how many executor calls (REST, database) are still running."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0

    def run_in_executor(  # type: ignore[override]
        self, executor: concurrent.futures.Executor | None, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        future = super().run_in_executor(executor, func, *args)
        self.in_flight += 1
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: object) -> None:
        self.in_flight -= 1

    def busy(self) -> bool:
        """Whether a thread works for the loop or a callback waits to run."""
        return self.in_flight > 0 or bool(self._ready)  # type: ignore[attr-defined]


class ParityStuck(RuntimeError):
    """The daemon did not become idle at one instant (something waits on the wall clock)."""


async def settle(loop: CountingLoop) -> None:
    """Return once the daemon is idle (see the module docstring)."""
    started = loop.time()
    calm = 0
    while calm < _CALM_TURNS:
        await asyncio.sleep(0 if loop.in_flight == 0 else 0.0002)
        calm = 0 if loop.busy() else calm + 1
        if loop.time() - started > _SETTLE_LIMIT_S:
            raise ParityStuck(f"the daemon stayed busy for {_SETTLE_LIMIT_S:.0f} s at one instant")


@dataclass(frozen=True, slots=True)
class LiveWindow:
    """What the live run covers: `start_ms` (a minute) to `end_ms`, `history_days` of bars before."""

    start_ms: int
    end_ms: int
    history_days: int
    kline_update_ms: int
    mark_update_ms: int


def sim_engine_config(config: TraderConfig) -> EngineConfig:
    """The simulated account with the fees, slippage and funding the backtest assumes."""
    bt = config.backtest
    return EngineConfig(
        starting_balance=config.simulator.starting_balance_usdt,
        maker_fee=bt.maker_fee_bps / _BPS,
        taker_fee=bt.taker_fee_bps / _BPS,
        slippage_bps=bt.slippage_bps,
        default_leverage=config.engine.leverage,
        default_funding_rate=bt.funding_rate or Decimal(0),
        fill_parts=config.simulator.fill_parts,
    )


def settings_in(folder: Path, config_path: Path) -> Settings:
    """Settings that keep everything of the run in `folder` and send no alert anywhere."""
    return Settings(
        mode=Mode.SIM,
        config=config_path,
        database_url=f"sqlite:///{folder / 'parity.db'}",
        status_dir=folder / "status",
        log_dir=folder / "logs",
        api_key=None,
        api_secret=None,
        slack_webhook_url=None,
        slack_bot_token=None,
        slack_channel=None,
        rest_url=None,
        stream_url=None,
    )


class LiveRun:
    """One daemon run over `window` (see the module docstring)."""

    def __init__(
        self, settings: Settings, config: TraderConfig, config_path: Path, window: LiveWindow
    ) -> None:
        self.window = window
        self.clock = StepClock(window.start_ms, float(config.simulator.speed))
        self.config = config
        self.daemon = Daemon(settings, config, config_path=config_path)
        self.daemon.open_venue = self._open_venue
        self.server: SimulatorServer | None = None
        self.steps = 0
        self.exit_code = 0

    async def _open_venue(self, settings: Settings, config: TraderConfig, mode: Mode) -> StartedVenue:
        w = self.window
        exchange = SimulatedExchange.from_data(
            config.simulator.data,
            start_ms=w.start_ms,
            symbols=[s.symbol for s in config.symbols],
            starting_balance=config.simulator.starting_balance_usdt,
            config=sim_engine_config(config),
            history_days=w.history_days,
            kline_update_ms=w.kline_update_ms,
            mark_update_ms=w.mark_update_ms,
        )
        # Only the driver ticks the server: what a REST call produced (an order's user-data
        # events) is published by the driver's next tick at the same instant, never by a tick of
        # the server's own that would land at a wall-clock moment.
        self.server = server = SimulatorServer(
            exchange,
            self.clock,
            api_key=DEFAULT_API_KEY,
            api_secret=DEFAULT_API_SECRET,
            tick_ms=_NO_OWN_TICKS_MS,
        )
        await server.start()
        endpoints = VenueEndpoints(
            mode=Mode.SIM,
            rest_url=server.rest_url,
            stream_url=server.stream_url,
            api_key=SecretStr(DEFAULT_API_KEY),
            api_secret=SecretStr(DEFAULT_API_SECRET),
        )
        return _ParityVenue(endpoints, self.clock, endpoints.stream_url, server)

    async def run(self) -> int:
        """Run the daemon until the window's end; its exit code."""
        daemon = asyncio.create_task(self.daemon.run(), name="parity.daemon")
        driver = asyncio.create_task(self._drive(), name="parity.driver")
        done, _ = await asyncio.wait({daemon, driver}, return_when=asyncio.FIRST_COMPLETED)
        if driver not in done:  # the daemon stopped by itself: a failure
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)
            return daemon.result()
        try:
            driver.result()
        finally:
            self.daemon.request_stop("parity window done")
            code = await daemon
        return code

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, CountingLoop)
        while self.daemon.status is None:  # started: every component runs
            if self.daemon.failure is not None:
                return
            await asyncio.sleep(0.001)
        await settle(loop)
        orders = self.daemon.order_manager
        assert orders is not None and self.server is not None
        end = self.window.end_ms
        while self.clock.now_ms() < end:
            now = self.clock.now_ms()
            candidates = [self._next_update(now), end]
            candidates += [
                o.expire_time for o in orders.open_orders() if o.expire_time and o.expire_time > now
            ]
            wake = self.clock.next_wake()
            if wake is not None:
                candidates.append(wake)
            self.clock.step_to(min(candidates))
            await self._tick_until_quiet(loop)
            now = self.clock.now_ms()
            if any(o.expire_time and o.expire_time <= now for o in orders.open_orders()):
                orders.expire_due()
                await self._tick_until_quiet(loop)
            self.steps += 1

    async def _tick_until_quiet(self, loop: CountingLoop) -> None:
        """Publish what the instant holds, let the daemon act on it, and again while its REST calls
        left user-data events to publish (the venue sends those as soon as it answers)."""
        assert self.server is not None
        while True:
            published = self.server.tick()
            await settle(loop)
            if not published:
                return

    def _next_update(self, now: int) -> int:
        w = self.window
        return min(now + c - now % c for c in (w.kline_update_ms, w.mark_update_ms, 60_000))


class _ParityVenue(StartedVenue):
    """The started venue of a parity run: its simulator server stops with the daemon."""

    def __init__(
        self, endpoints: VenueEndpoints, clock: StepClock, url: str, server: SimulatorServer
    ) -> None:
        super().__init__(endpoints, clock, url)
        self._server = server

    async def stop(self) -> None:
        await self._server.stop()


def run_live(settings: Settings, config: TraderConfig, config_path: Path, window: LiveWindow) -> LiveRun:
    """Run the daemon over `window` on a fresh counting loop; the finished run."""
    live = LiveRun(settings, config, config_path, window)
    with asyncio.Runner(loop_factory=CountingLoop) as runner:
        live.exit_code = runner.run(live.run())
    return live


__all__ = ["CountingLoop", "LiveRun", "LiveWindow", "ParityStuck", "run_live", "settings_in", "settle"]
