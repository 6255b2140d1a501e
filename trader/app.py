"""The daemon's composition root: the one place that builds every component and wires the channels.

Start-up order (each step needs the previous one):
 1. the folders it writes to are checked, the database migrated to head and watched, the alert
    router started; the venue (in sim mode the in-process simulator); the heartbeat starts writing;
 2. the gateway: server time, exchangeInfo (every configured symbol must exist), one-way position
    mode, leverage — a venue that is briefly down is retried for a minute, then one line, exit 1;
 3. the tasks, consumers before producers, so no event is published to nobody:

    user-data stream ──▶ account.execution / account.update ──▶ OrderManager ──▶ order.update,
                                                                    ▲            position.update,
    market streams ──▶ MarketDataService ──▶ market.<SYMBOL> ──▶ StrategyRunner   reconciliation
                                                                    │ (one per symbol)
                                   signal.<SYMBOL> ──▶ RiskGate ──▶ order.request
                                   (AuditRecorder stores signals, guard events)

    The order manager reconciles with the venue before it takes its first request (every order the
    database holds as pending/unknown/open is resolved, unknown orders of ours adopted, fills and
    positions checked), then every `reconcile.interval_seconds` and after a user-stream reset; the
    risk gate lets no entry through until the first reconciliation succeeded.

Shutdown (`shutdown.py`): on SIGINT / SIGTERM entries stop, resting entry orders are cancelled,
protective exits stand, producers stop, then consumers drain and the database is flushed, the last
heartbeat says `stopped`; a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import structlog

from config.loader import effective_mode
from config.models import SymbolConfig, TraderConfig
from config.settings import Mode, Settings
from core import __version__, channels
from core.bus import Bus
from core.errors import ConfigError, DaemonFailed, FatalError
from core.events import AccountUpdate, ExecutionReport, OrderType, UserStreamReset
from core.instruments import Instrument
from database import migrate
from database.engine import Database
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
from trader.config_watch import ConfigWatcher
from trader.error_memory import LastErrorHandler
from trader.flatten_requests import FlattenService
from trader.health import read_heartbeat
from trader.heartbeat import DaemonState, Heartbeat
from trader.live_config import LiveConfig
from trader.market_data import MarketDataService
from trader.ownership import SymbolOwnership
from trader.paper_venue import PaperVenue
from trader.preflight import DatabaseFileWatch, check_writable_folders, for_each_at_once, with_startup_retries
from trader.shutdown import Shutdown
from trader.sim_venue import SimVenue
from trader.status_sections import DaemonStatus
from trader.venue_clock import check_market_clock
from trader.venue_start import StartedVenue, start_venue
from utils.clock import Clock, WallClock

_log = structlog.get_logger(__name__)


class Daemon:
    """Builds, runs and stops every component for one configuration."""

    def __init__(self, settings: Settings, config: TraderConfig, *, config_path: Path) -> None:
        self.settings = settings
        self._config = config
        self.config_path = config_path
        self.mode = effective_mode(settings, config)
        self.instance_id = config.instance_name
        self.bus = Bus()
        self.clock: Clock = WallClock()
        self.exit_code = 0
        self.failure: str | None = None
        self._stop = asyncio.Event()
        self._signals = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._runners: dict[str, StrategyRunner] = {}
        self._runner_tasks: dict[str, asyncio.Task[Any]] = {}
        self._venue: StartedVenue | None = None
        self._sim: SimVenue | None = None
        self._paper: PaperVenue | None = None
        self._db: Database | None = None
        self._gateway: Gateway | None = None
        self._streams: MarketStreams | None = None
        self._user_stream: UserDataStream | None = None
        self._instruments: dict[str, Instrument] = {}
        self._errors = LastErrorHandler()
        self._live: LiveConfig | None = None
        self.status: DaemonStatus | None = None
        self.heartbeat: Heartbeat | None = None
        self.order_manager: OrderManager | None = None
        self.risk_gate: RiskGate | None = None
        self._db_watch: DatabaseFileWatch | None = None
        # The database is handed on so that an in-process simulator's clock resumes after its candles.
        self.open_venue: Callable[[Settings, TraderConfig, Mode], Awaitable[StartedVenue]] = (
            lambda s, c, m: start_venue(s, c, m, db=self._db)
        )
        self.alerts = DaemonAlerts(settings, config, self.bus, self.mode)  # exit 2 if half-configured

    @property
    def config(self) -> TraderConfig:
        """The configuration in force (live edits included)."""
        return self._live.config if self._live is not None else self._config

    # --- life cycle -------------------------------------------------------------------------------

    async def run(self, duration: float | None = None) -> int:
        """Start everything, run until stopped (signal, duration or a failure), stop cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig.name)
        self._errors.install()
        try:
            # A signal during a long start-up (a venue being retried) stops it too.
            starting = asyncio.create_task(self.start(), name="start")
            stopped = asyncio.create_task(self._stop.wait(), name="stop.wait")
            await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
            else:
                starting.result()  # raise what made start-up fail
                if duration is not None:
                    self._spawn("duration", self._stop_after(duration))
                await stopped
        except ConfigError as exc:
            self.exit_code, self.failure = 2, exc.line()
            raise
        except FatalError as exc:
            _log.error("daemon.fatal", error=str(exc))
            self.exit_code = 1
            self.failure = f"the venue refused us: {exc}"
        except DaemonFailed as exc:
            _log.error("daemon.start_failed", error=str(exc))
            self.exit_code = 1
            self.failure = str(exc)
        finally:
            await self.stop(immediate=self._signals > 1)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            self._errors.uninstall()
        return self.exit_code

    async def stop(self, *, immediate: bool = False) -> None:
        """Stop everything (`shutdown.py`): gracefully, or at once."""
        await Shutdown(self).run(immediate=immediate)

    def _on_signal(self, name: str) -> None:
        self._signals += 1
        if self._signals == 1:
            self.request_stop(name)
        else:
            _log.warning("daemon.stopping_now", reason=f"second {name}")
            Shutdown.hurry()

    def request_stop(self, reason: str = "requested") -> None:
        """Begin a graceful shutdown."""
        if not self._stop.is_set():
            _log.info("daemon.stopping", reason=reason)
        self._stop.set()

    def fail(self, message: str) -> None:
        """Stop because something failed: exit code 1 and `message` as the one line."""
        self.exit_code = 1
        self.failure = self.failure or message
        self.request_stop(message)

    async def start(self) -> None:
        """The start-up steps of the module docstring."""
        settings, config = self.settings, self.config
        check_writable_folders(settings)
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        self._db = db = Database(settings.database_url)
        self.ownership = await SymbolOwnership.claim(settings.database_url, config, self.instance_id)
        self.alerts.start(db, read_heartbeat(settings.status_dir / "heartbeat.json"))  # before all else
        self._db_watch = DatabaseFileWatch(settings.database_url)
        self._venue = venue = await self.open_venue(settings, config, self.mode)
        self._sim, self._paper, self.clock = venue.sim, venue.paper, venue.clock
        self.heartbeat = heartbeat = Heartbeat(
            settings.status_dir / "heartbeat.json",
            self.clock,
            interval_s=float(config.engine.heartbeat_seconds),
            mode=self.mode.value,
            instance_id=self.instance_id,
            version=__version__,
        )
        heartbeat.register("bus", self.bus.stats)
        self._spawn("heartbeat", heartbeat.run())
        if self._paper is not None:
            heartbeat.register("paper", self._paper.status)
        self._gateway = gateway = Gateway(venue.endpoints, self.clock)
        budget = config.engine.startup_retry_seconds
        await with_startup_retries(gateway.start, "connecting to the venue", budget_s=budget)
        info = await with_startup_retries(gateway.exchange_info, "reading exchangeInfo", budget_s=budget)
        check_market_clock(info.server_time, gateway.market_now_ms())  # or candles are misread
        if missing := ", ".join(s.symbol for s in config.symbols if s.symbol not in info.instruments):
            raise ConfigError(str(self.config_path), "symbols", f"not traded on this venue: {missing}")
        self._instruments = dict(info.instruments)
        if await with_startup_retries(
            gateway.dual_side_position, "reading the position mode", budget_s=budget
        ):
            raise FatalError("the account is in hedge mode; switch it to one-way mode (trader needs it)")
        await for_each_at_once(config.symbols, lambda s: with_startup_retries(  # a few at a time
            partial(gateway.set_leverage, s.symbol, config.engine.leverage),
            f"setting the leverage of {s.symbol}", budget_s=budget))
        balances = await with_startup_retries(gateway.balances, "reading the balances", budget_s=budget)
        equity = sum((b.wallet_balance + b.unrealized_pnl for b in balances if b.asset == "USDT"), Decimal(0))
        await self._start_components(db, gateway, equity)
        heartbeat.set_state(DaemonState.RUNNING)
        symbols = [s.symbol for s in config.symbols]
        _log.info("daemon.started", mode=self.mode.value, symbols=symbols)
        assert self._streams is not None and self._user_stream is not None
        self.alerts.started(self.clock, symbols, [self._streams.status, self._user_stream.status])

    async def _start_components(self, db: Database, gateway: Gateway, equity: Decimal) -> None:
        """Consumers first (order manager, risk gate, audit), then strategies, then the streams."""
        config = self.config
        assert self._venue is not None and self.heartbeat is not None
        speed = self.clock.speed
        self.order_manager = orders = OrderManager(
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
            entry_send_deadline_s=config.engine.entry_send_deadline_seconds,
        )
        self._spawn("order_manager", orders.run())
        self.risk_gate = risk = RiskGate(
            self.bus,
            self.clock,
            db,
            self._instruments,
            limits_for=config.risk_for,
            starting_equity=equity,
            wait_for_reconciliation=True,  # the order manager reconciles first; entries wait for it
            entry_order_type=OrderType(config.engine.entry_order_type),
            instance_id=self.instance_id,
        )
        self._spawn("risk_gate", risk.run())
        self.ownership.attach(risk.pauses, orders, self.heartbeat, lambda: self.config, self._spawn)
        self._spawn("kill_switch", KillSwitchWatcher(db, risk).run())
        self._spawn("audit", AuditRecorder(self.bus, db, self.instance_id).run())
        self._spawn("trade_log", TradeLog(self.bus, self.heartbeat.document).run())  # + the console

        self.market_data = MarketDataService(gateway, db, self.bus, self.clock)
        self._spawn("market_data", self.market_data.run())
        self._state_store = DatabaseStateStore(db)
        await for_each_at_once(config.symbols, self._start_strategy)  # warm-ups a few at a time
        # in the configuration's order again (they finish in any order): the heartbeat lists them so
        self._runners.update({s.symbol: self._runners.pop(s.symbol) for s in config.symbols})

        self._streams = MarketStreams(self._venue.endpoints.stream_url, self.clock, self.market_data.sink)
        self._streams.on_reconnect(self.market_data.request_backfill)
        await self._streams.start([s.symbol for s in config.symbols])
        self._user_stream = UserDataStream(
            gateway, self._venue.user_stream_url, self.clock, self._on_account_event
        )
        await self._user_stream.start()

        self._live = LiveConfig(
            config,
            self.config_path,
            gateway=gateway,
            instruments=self._instruments,
            risk_gate=risk,
            runners=self._runners,
            start_strategy=self._start_strategy,
            streams=self._streams,
            paper=self._paper,
            alerts=self.alerts,
        )
        self.watcher = ConfigWatcher(self.config_path, self._live.apply)
        await self.watcher.prime()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            self.watcher.install_sighup()
        self._spawn("config_watch", self.watcher.run())
        self._spawn("flatten", FlattenService(db, orders, self.bus, self.clock).run())
        self._register_status(db, orders, risk)

    def _register_status(self, db: Database, orders: OrderManager, risk: RiskGate) -> None:
        assert self.heartbeat is not None and self._gateway is not None
        self.status = status = DaemonStatus(
            config=lambda: self.config,
            clock=self.clock,
            db=db,
            order_manager=orders,
            risk_gate=risk,
            runners=self._runners,
            streams=self._streams,
            user_stream=self._user_stream,
            errors=self._errors,
            fatal=lambda: self.failure,
        )
        status.register(self.heartbeat)
        extras = {"market_data": self.market_data.status, "config": self.watcher.status}
        extras.update(gateway=self._gateway.status, alerts=self.alerts.status)
        if self._sim is not None:
            extras["simulator"] = self._sim.status
        for section, provider in extras.items():
            self.heartbeat.register(section, provider)
        watch = self._db_watch
        self._spawn(
            "status_refresh",
            status.refresh(watch.problem if watch is not None else None, self._database_lost),
        )

    async def _database_lost(self, problem: str) -> None:
        """The database file was deleted or replaced: no new positions, save what the open
        connection still holds, then stop with one line (exit 1)."""
        assert self._db is not None and self._db_watch is not None
        if self.risk_gate is not None:
            self.risk_gate.pauses.pause_all("database", problem)
        _log.critical("daemon.database_lost", problem=problem)
        saved = await self._db.run(self._db_watch.save_copy)
        where = f"; what it held is saved in {saved}" if saved is not None else ""
        self.fail(f"{problem}{where}")

    async def _start_strategy(self, symbol_config: SymbolConfig) -> None:
        """Warm up, build and start the strategy task of one symbol."""
        strategy_cls = get_strategy(symbol_config.strategy)
        params = symbol_config.validated_params
        strategy = strategy_cls(
            symbol_config.symbol, params, order_notional=symbol_config.order_notional_usdt
        )
        strategy.tick_size = self._instruments[symbol_config.symbol].tick_size
        count = max(self.config.engine.warmup_candles, strategy.history_needed(self.clock.now_ms()))
        history = await self.market_data.warm_up(symbol_config.symbol, count)  # VWAP from its anchor
        runner = StrategyRunner(strategy, self.bus, self.clock, self._state_store)
        await runner.prepare(history)
        symbol = symbol_config.symbol
        self._runners[symbol] = runner
        self._runner_tasks[symbol] = self._spawn(f"strategy.{symbol}", runner.run())

    def _on_account_event(self, event: ExecutionReport | AccountUpdate | UserStreamReset) -> None:
        """User-data stream sink: executions and account events onto their channels."""
        if type(event) is ExecutionReport:
            self.bus.publish(channels.ACCOUNT_EXECUTION, event)
        else:
            self.bus.publish(channels.ACCOUNT_UPDATE, event)

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
        error = f"{type(exc).__name__}: {exc}"
        _log.error("daemon.task_failed", task=task.get_name(), error=error, exc_info=exc)
        self.fail(f"{task.get_name()} failed: {error}")

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
