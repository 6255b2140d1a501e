"""The daemon's alerting, for trader/app.py: the router, the stream watch, the daily summary, and
the start and stop messages.

Built with the daemon (a half-configured Slack fails before anything starts), started right after
the database (`start`, so a failed start-up is alerted too) and stopped after every other task
(`stopped`, so their last alerts and the stop message go out). The router, the stream watch and
the summary are tasks of their own, not trading tasks: should one ever fail, it is logged and the
daemon trades on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

import structlog

from alerts.daily_summary import DailySummary
from alerts.reconciliation_watch import ReconciliationWatch
from alerts.router import AlertRouter
from alerts.slack import destination_from
from alerts.stream_watch import SocketStatus, StreamWatch
from config.models import TraderConfig
from config.settings import Mode, Settings
from core import __version__
from core.alerts import AlertKind, Severity, publish_alert
from core.bus import Bus
from database.engine import Database
from utils.clock import Clock, WallClock

_log = structlog.get_logger(__name__)
DRAIN_S = 10.0  # at shutdown, how long queued alerts (the stop message too) may take to go out
SocketSource = Callable[[], Iterable[SocketStatus]]


class DaemonAlerts:
    """The alert router and what feeds it besides the components (see the module docstring)."""

    def __init__(self, settings: Settings, config: TraderConfig, bus: Bus, mode: Mode) -> None:
        self._settings = settings
        self._config = config
        self._bus = bus
        self._mode = mode
        self._destination = destination_from(settings)  # ConfigError (exit 2) when half-configured
        self._clock: Clock = WallClock()
        self.router: AlertRouter | None = None
        self._db: Database | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, db: Database, previous_heartbeat: Mapping[str, Any] | None = None) -> None:
        """Subscribe the router and run it; watch reconciliations (`previous_heartbeat`, the last
        one the previous run wrote, tells whether it crashed)."""
        self.router = AlertRouter(
            self._bus,
            self._config.alerts,
            self._destination,
            mode=self._mode,
            db=db,
            secrets=self._settings.secret_values(),
        )
        self._run("alerts.router", self.router.run())
        self._run("alerts.reconciliation", ReconciliationWatch(self._bus, previous_heartbeat).run())
        self._db = db

    def started(self, clock: Clock, symbols: Iterable[str], sockets: Iterable[SocketSource]) -> None:
        """The daemon trades: say so (mode, symbols, version), then watch its streams and send the
        daily summary on `clock`."""
        self._clock = clock
        alerts = self._config.alerts
        listed = ", ".join(symbols) or "none"
        text = f"trading in {self._mode.value} mode; symbols: {listed}; trader {__version__}"
        publish_alert(self._bus, AlertKind.DAEMON_STARTED, text, time=clock.now_ms())
        watch = StreamWatch(self._bus, clock, WallClock(), sockets, threshold_s=alerts.stream_down_seconds)
        self._run("alerts.stream_watch", watch.run())
        if alerts.summary_time is not None and self._db is not None:
            summary = DailySummary(self._bus, clock, self._db, at=alerts.summary_time)
            self._run("alerts.daily_summary", summary.run())

    def update(self, config: TraderConfig) -> None:
        """A live configuration edit (kinds, severities, window, queue size)."""
        self._config = config
        if self.router is not None:
            self.router.update_config(config.alerts)

    def status(self) -> dict[str, Any]:
        """The router's counters for the heartbeat."""
        return self.router.status() if self.router is not None else {}

    async def stopped(self, exit_code: int, failure: str | None) -> None:
        """Say the daemon stopped (and why), deliver what is queued, stop every alert task."""
        if self.router is None:
            return
        if failure is not None:
            text, severity = f"stopped on a failure (exit code {exit_code}): {failure}", Severity.CRITICAL
        else:
            text, severity = f"stopped (exit code {exit_code})", Severity.INFO
        publish_alert(self._bus, AlertKind.DAEMON_STOPPED, text, time=self._clock.now_ms(), severity=severity)
        for task in self._tasks[1:]:  # the watchers, so nothing new comes in
            task.cancel()
        if not self._tasks[0].done():
            with contextlib.suppress(Exception):
                await self.router.drain(DRAIN_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _run(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_task_done)
        self._tasks.append(task)


def _task_done(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        error = task.exception()
        _log.error("alerts.task_failed", task=task.get_name(), error=repr(error), exc_info=error)


__all__ = ["DRAIN_S", "DaemonAlerts"]
