"""The daemon's composition root: the one place that builds every component and wires the channels.

Start-up order (each step needs the previous one):
 1. database migrated to head; the venue (in sim mode the simulator, started in-process on loopback);
 2. the gateway: server time, exchangeInfo (every configured symbol must exist), one-way position mode,
    leverage;
 3. the tasks, consumers before producers, so no event is published to nobody:

    user-data stream ──▶ account.execution / account.update ──▶ OrderManager ──▶ order.update,
                                                                    ▲            position.update
    market streams ──▶ MarketDataService ──▶ market.<SYMBOL> ──▶ StrategyRunner (one per symbol)
                                                                    │
                                   signal.<SYMBOL> ──▶ RiskGate ──▶ order.request
                                   (AuditRecorder stores signals, guard events)

    The order manager reconciles with the venue before it takes its first request (every order the
    database holds as pending/unknown/open is resolved, unknown orders of ours adopted, fills and
    positions checked), then every `reconcile.interval_seconds` and after a user-stream reset; the
    risk gate lets no entry through until the first reconciliation succeeded.

Shutdown runs in reverse: producers stop first, then the consumers drain, then the venue and the DB.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from config.loader import effective_mode
from config.models import SymbolConfig, TraderConfig
from config.settings import Mode, Settings
from core import channels
from core.bus import Bus
from core.errors import ConfigError, DaemonFailed, FatalError
from core.events import AccountUpdate, ExecutionReport, UserStreamReset
from core.instruments import Instrument
from database import migrate
from database.engine import Database
from executor.binance.endpoints import VenueEndpoints, endpoints_for
from executor.binance.gateway import Gateway
from executor.binance.market_streams import MarketStreams
from executor.binance.user_stream import UserDataStream
from executor.orders.manager import OrderManager
from executor.risk.gate import RiskGate
from executor.risk.kill_switch import KillSwitchWatcher
from strategies.registry import get_strategy
from strategies.runner import StrategyRunner
from trader.alerting import DaemonAlerts
from trader.audit import AuditRecorder, DatabaseStateStore, TradeLog
from trader.config_watch import ConfigWatcher, diff_symbols
from trader.heartbeat import Heartbeat
from trader.market_data import MarketDataService
from trader.paper_venue import PaperVenue, start_paper_venue
from trader.sim_venue import SimVenue, start_sim_venue
from utils.clock import Clock, ScaledClock, WallClock

_log = structlog.get_logger(__name__)


class Daemon:
    """Builds, runs and stops every component for one configuration."""

    def __init__(self, settings: Settings, config: TraderConfig, *, config_path: Path) -> None:
        self.settings = settings
        self.config = config
        self.config_path = config_path
        self.mode = effective_mode(settings, config)
        self.bus = Bus()
        self.clock: Clock = WallClock()
        self.exit_code = 0
        self.failure: str | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._runners: dict[str, StrategyRunner] = {}
        self._runner_tasks: dict[str, asyncio.Task[Any]] = {}
        self._sim: SimVenue | None = None
        self._heartbeat: Heartbeat | None = None
        self._paper: PaperVenue | None = None
        self._user_stream_url: str | None = None
        self._db: Database | None = None
        self._gateway: Gateway | None = None
        self._streams: MarketStreams | None = None
        self._user_stream: UserDataStream | None = None
        self._instruments: dict[str, Instrument] = {}
        self.alerts = DaemonAlerts(settings, config, self.bus, self.mode)

    # --- life cycle -------------------------------------------------------------------------------

    async def run(self, duration: float | None = None) -> int:
        """Start everything, run until stopped (signal, duration or a fatal error), stop cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        try:
            await self.start()
            if duration is not None:
                self._spawn("duration", self._stop_after(duration))
            await self._stop.wait()
        except ConfigError as exc:
            self.failure = exc.line()
            raise
        except FatalError as exc:
            _log.error("daemon.fatal", error=str(exc))
            self.exit_code = 1
            self.failure = f"the venue refused us: {exc}"
        finally:
            await self.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return self.exit_code

    def request_stop(self, reason: str = "requested") -> None:
        """Begin a graceful shutdown."""
        if not self._stop.is_set():
            _log.info("daemon.stopping", reason=reason)
        self._stop.set()

    async def start(self) -> None:
        """Steps 1-4 of the module docstring."""
        settings, config = self.settings, self.config
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        self._db = db = Database(settings.database_url)
        self.alerts.start(db)  # first: a failed start-up is alerted too
        endpoints = await self._venue()
        self.heartbeat = self._heartbeat = Heartbeat(
            settings.status_dir / "heartbeat.json",
            self.clock,
            interval_s=float(config.engine.heartbeat_seconds),
            mode=self.mode.value,
        )
        self.heartbeat.register("bus", self.bus.stats)
        if self._paper is not None:
            self.heartbeat.register("paper", self._paper.status)
        self._gateway = gateway = Gateway(endpoints, self.clock)
        await gateway.start()
        info = await gateway.exchange_info()
        missing = [s.symbol for s in config.symbols if s.symbol not in info.instruments]
        if missing:
            raise ConfigError(
                str(self.config_path), "symbols", f"not traded on this venue: {', '.join(missing)}"
            )
        self._instruments = dict(info.instruments)
        if await gateway.dual_side_position():
            raise FatalError("the account is in hedge mode; switch it to one-way mode (trader needs it)")
        for symbol_config in config.symbols:
            await gateway.set_leverage(symbol_config.symbol, config.engine.leverage)

        balances = await gateway.balances()
        equity = sum((b.wallet_balance + b.unrealized_pnl for b in balances if b.asset == "USDT"), Decimal(0))

        # Consumers first: order manager, risk gate, audit, then strategies, then the streams.
        speed = self.clock.speed if isinstance(self.clock, ScaledClock) else 1.0
        self.order_manager = OrderManager(
            gateway,
            db,
            self.bus,
            self.clock,
            self._instruments,
            order_ttl_seconds=config.engine.order_ttl_seconds,
            reprice_on_ttl=config.engine.reprice_on_ttl,
            poll_seconds=config.engine.order_poll_seconds,
            ttl_check_seconds=1.0 / speed,  # about once per market second
            reconcile_interval_s=config.reconcile.interval_seconds,
            unknown_orders=config.reconcile.unknown_orders,
            strategy_for={s.symbol: s.strategy for s in config.symbols},
        )
        self._spawn("order_manager", self.order_manager.run())
        self.risk_gate = RiskGate(
            self.bus,
            self.clock,
            db,
            self._instruments,
            limits_for=config.risk_for,
            starting_equity=equity,
            wait_for_reconciliation=True,  # the order manager reconciles first; entries wait for it
        )
        self._spawn("risk_gate", self.risk_gate.run())
        self.kill_switch = KillSwitchWatcher(db, self.risk_gate)
        self._spawn("kill_switch", self.kill_switch.run())
        self.audit = AuditRecorder(self.bus, db)
        self._spawn("audit", self.audit.run())
        self._spawn("trade_log", TradeLog(self.bus).run())

        self.market_data = MarketDataService(gateway, db, self.bus, self.clock)
        self._spawn("market_data", self.market_data.run())
        self._state_store = DatabaseStateStore(db)
        for symbol_config in config.symbols:
            await self._start_strategy(symbol_config)

        self._streams = MarketStreams(endpoints.stream_url, self.clock, self.market_data.sink)
        self._streams.on_reconnect(self.market_data.request_backfill)
        await self._streams.start([s.symbol for s in config.symbols])
        self._user_stream = UserDataStream(
            gateway, self._user_stream_url or endpoints.stream_url, self.clock, self._on_account_event
        )
        await self._user_stream.start()

        self.watcher = ConfigWatcher(self.config_path, self.apply_config)
        await self.watcher.prime()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            self.watcher.install_sighup()
        self._spawn("config_watch", self.watcher.run())
        self._register_status()
        self.heartbeat.set_state("running")
        self._spawn("heartbeat", self.heartbeat.run())
        _log.info("daemon.started", mode=self.mode.value, symbols=[s.symbol for s in config.symbols])
        sockets = [self._streams.status, self._user_stream.status]
        self.alerts.started(self.clock, [s.symbol for s in config.symbols], sockets)

    async def stop(self) -> None:
        """Stop producers, then consumers, then the venue and the database."""
        heartbeat = self._heartbeat
        if heartbeat is not None:
            heartbeat.set_state("stopping")
        for closer in (self._streams, self._user_stream):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer.stop()
        for task in [*self._runner_tasks.values(), *reversed(self._tasks)]:
            task.cancel()
        await asyncio.gather(*self._runner_tasks.values(), *self._tasks, return_exceptions=True)
        if heartbeat is not None:
            heartbeat.set_state("stopped")
            with contextlib.suppress(Exception):
                await heartbeat.write()
        await self.alerts.stopped(self.exit_code, self.failure)  # after every task: their alerts go too
        if self._gateway is not None:
            await self._gateway.close()
        if self._sim is not None:
            await self._sim.stop()
        if self._paper is not None:
            await self._paper.stop()
        if self._db is not None:
            self._db.close()
        _log.info("daemon.stopped", exit_code=self.exit_code)

    # --- pieces -----------------------------------------------------------------------------------

    async def _venue(self) -> VenueEndpoints:
        """Endpoints of the configured venue; in sim mode without URL overrides, start a simulator."""
        settings = self.settings
        if self.mode is Mode.PAPER:
            # Market data from the public stream; orders, account and klines at a local simulator
            # that fills at the public prices. Nothing is ever sent to Binance.
            self._paper = paper = await start_paper_venue(self.config, settings)
            self.clock = paper.clock
            self._user_stream_url = paper.user_stream_url
            return VenueEndpoints(
                mode=Mode.PAPER,
                rest_url=paper.rest_url,
                stream_url=paper.stream_url,
                api_key=SecretStr(paper.api_key),
                api_secret=SecretStr(paper.api_secret),
            )
        overridden = settings.rest_url is not None or settings.stream_url is not None
        if self.mode is Mode.SIM and not overridden:
            self._sim = sim = await start_sim_venue(self.config)
            self.clock = sim.clock
            return VenueEndpoints(
                mode=Mode.SIM,
                rest_url=sim.rest_url,
                stream_url=sim.stream_url,
                api_key=SecretStr(sim.api_key),
                api_secret=SecretStr(sim.api_secret),
            )
        return endpoints_for(settings, mode=self.mode)

    async def _start_strategy(self, symbol_config: SymbolConfig) -> None:
        """Warm up, build and start the strategy task of one symbol."""
        assert self._db is not None
        strategy_cls = get_strategy(symbol_config.strategy)
        params = symbol_config.validated_params
        strategy = strategy_cls(
            symbol_config.symbol, params, order_notional=symbol_config.order_notional_usdt
        )
        history = await self.market_data.warm_up(symbol_config.symbol, self.config.engine.warmup_candles)
        runner = StrategyRunner(strategy, self.bus, self.clock, self._state_store)
        await runner.prepare(history)
        self._runners[symbol_config.symbol] = runner
        self._runner_tasks[symbol_config.symbol] = self._spawn(
            f"strategy.{symbol_config.symbol}", runner.run()
        )

    def _on_account_event(self, event: ExecutionReport | AccountUpdate | UserStreamReset) -> None:
        """User-data stream sink: executions and account events onto their channels."""
        if type(event) is ExecutionReport:
            self.bus.publish(channels.ACCOUNT_EXECUTION, event)
        else:
            self.bus.publish(channels.ACCOUNT_UPDATE, event)

    async def apply_config(self, new: TraderConfig) -> None:
        """Apply a validated configuration edit without a restart."""
        changes = diff_symbols(self.config, new)
        old = self.config
        self.config = new
        self.risk_gate.update_limits(new.risk_for)
        self.alerts.update(new)
        if self._paper is not None and self._gateway is not None:
            added = [s for s in changes.added if s not in self._instruments]
            await self._paper.list_symbols(added, self._gateway, self._instruments)
        for symbol in changes.added:
            if symbol not in self._instruments:
                _log.error("config.symbol_unknown", symbol=symbol, hint="not traded on this venue")
                continue
            symbol_config = next(s for s in new.symbols if s.symbol == symbol)
            runner = self._runners.get(symbol)
            if runner is not None:  # re-added after a removal: open entries again
                runner.strategy.entries_enabled = True
                runner.strategy.update_params(symbol_config.validated_params)
                continue
            assert self._gateway is not None
            await self._gateway.set_leverage(symbol, new.engine.leverage)
            await self._start_strategy(symbol_config)
            if self._streams is not None:
                await self._streams.add_symbols([symbol])
        for symbol in changes.removed:
            runner = self._runners.get(symbol)
            if runner is not None:
                # Keep the task: it still manages the exit of an open position.
                runner.strategy.entries_enabled = False
        for symbol in changes.changed:
            symbol_config = next(s for s in new.symbols if s.symbol == symbol)
            runner = self._runners.get(symbol)
            if runner is not None:
                runner.strategy.update_params(symbol_config.validated_params)
                runner.strategy.order_notional = symbol_config.order_notional_usdt
        _log.info(
            "config.applied",
            added=list(changes.added),
            removed=list(changes.removed),
            changed=list(changes.changed),
            previous_symbols=[s.symbol for s in old.symbols],
        )

    def _register_status(self) -> None:
        beat = self.heartbeat
        if self._streams is not None:
            streams = self._streams
            beat.register("streams", lambda: [s.as_dict() for s in streams.status()])
        if self._user_stream is not None:
            user_stream = self._user_stream
            beat.register("user_stream", lambda: [s.as_dict() for s in user_stream.status()])
        beat.register("strategies", lambda: {s: r.status() for s, r in self._runners.items()})
        beat.register("risk", self.risk_gate.status)
        beat.register("orders", self.order_manager.status)
        beat.register(
            "market_data",
            lambda: {
                "candles_stored": self.market_data.candles_stored,
                "candles_backfilled": self.market_data.candles_backfilled,
                "gaps_detected": self.market_data.gaps_detected,
            },
        )
        beat.register("config", self.watcher.status)
        beat.register("alerts", self.alerts.status)
        if self._sim is not None:
            beat.register("simulator", self._sim.status)

    def _spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        # A component died: never trade on with a piece missing. Stop, exit non-zero, let the
        # service manager restart us; state recovery at start-up makes that safe.
        _log.error("daemon.task_failed", task=task.get_name(), error=f"{type(exc).__name__}: {exc}",
                   exc_info=exc)
        self.exit_code = 1
        self.failure = f"{task.get_name()} failed: {type(exc).__name__}: {exc}"
        self.request_stop(f"task {task.get_name()} failed")

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.request_stop(f"--duration {seconds:g}s elapsed")


async def run_daemon(
    settings: Settings, config: TraderConfig, *, config_path: Path, duration: float | None = None
) -> int:
    """Run the daemon until stopped; returns 0, or raises DaemonFailed after a clean shutdown."""
    daemon = Daemon(settings, config, config_path=config_path)
    code = await daemon.run(duration)
    if code != 0:
        raise DaemonFailed(daemon.failure or f"stopped with exit code {code}")
    return code
