"""Stopping the daemon: gracefully within `shutdown.timeout_seconds`, or at once on a second signal.

Graceful (the first SIGINT / SIGTERM, `--duration`, or a failure):
 1. no new entries (the risk gate pauses every symbol: "shutting down");
 2. the market streams stop, so the strategies see no more prices and emit nothing new;
 3. the order manager refuses every new entry (a request already past the risk gate is stored as
    REJECTED, never sent); resting entry orders are cancelled (`shutdown.cancel_entries`, default
    true), including those still being sent, once their answer is in; protective exits (reduce-only
    orders) stand on the venue; a last reconciliation books any fill whose report was still on its way;
 4. the user stream stops, the tasks are cancelled in reverse order of start (strategies save their
    state, the risk gate writes its queued decisions, the order manager its orders), the last
    heartbeat says `stopped`, the gateway, the venue and the database are closed.

Immediate (a second signal, or the graceful steps overrunning their time): steps 1-3 are skipped
or abandoned, step 4 runs without waiting on the venue. The database stays consistent either way:
every write is one transaction, and closing waits for the one in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, ClassVar

import structlog

from trader.heartbeat import DaemonState
from utils.crash_points import crash_point

if TYPE_CHECKING:
    from trader.app import Daemon

_log = structlog.get_logger(__name__)

TEARDOWN_S = 3.0  # how long cancelled tasks get to finish their last write


class Shutdown:
    """One shutdown of one daemon (see the module docstring)."""

    _current: ClassVar[Shutdown | None] = None

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._hurry = asyncio.Event()

    @classmethod
    def hurry(cls) -> None:
        """A second signal: abandon the graceful steps of the shutdown in progress."""
        if cls._current is not None:
            cls._current._hurry.set()

    async def run(self, *, immediate: bool = False) -> None:
        """Shut the daemon down (see the module docstring)."""
        Shutdown._current = self
        daemon = self._daemon
        if daemon.heartbeat is not None:
            daemon.heartbeat.set_state(DaemonState.STOPPING, daemon.failure or "shutting down")
        try:
            if not immediate and not self._hurry.is_set():
                # The teardown's own budget comes out of the configured total.
                timeout = max(1.0, daemon.config.shutdown.timeout_seconds - TEARDOWN_S)
                graceful = asyncio.create_task(self._graceful(), name="shutdown.graceful")
                hurried = asyncio.create_task(self._hurry.wait(), name="shutdown.hurry")
                done, _ = await asyncio.wait(
                    {graceful, hurried}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if graceful not in done:
                    _log.warning(
                        "daemon.shutdown_hurried", reason="second signal" if hurried in done else "timeout"
                    )
                graceful.cancel()
                hurried.cancel()
                await asyncio.gather(graceful, hurried, return_exceptions=True)
            await self._teardown()
        finally:
            Shutdown._current = None

    async def _graceful(self) -> None:
        daemon = self._daemon
        if daemon.risk_gate is not None:
            daemon.risk_gate.pauses.pause_all("stopping", "the daemon is shutting down")
        if daemon._streams is not None:
            with contextlib.suppress(Exception):
                await daemon._streams.stop()
        if daemon.order_manager is not None:
            # An entry sent a moment ago must not be left working on the venue once we are gone.
            cancel = "cancelled at shutdown" if daemon.config.shutdown.cancel_entries else None
            settle = max(1.0, daemon.config.shutdown.timeout_seconds - TEARDOWN_S) / 2
            cancelled = await daemon.order_manager.close_entries(cancel, settle)
            if cancel is not None:
                _log.info("daemon.entries_cancelled", count=cancelled)
        crash_point("during_shutdown")
        if daemon.order_manager is not None:
            # Fills whose reports were still on their way: book them from the venue before exiting,
            # so the database agrees with the venue at exit (a restart would repair it anyway).
            report = await daemon.order_manager.reconcile_now("shutdown")
            _log.info("daemon.final_reconciliation", result=report.result.value, report=str(report))

    async def _teardown(self) -> None:
        daemon = self._daemon
        for closer in (daemon._streams, daemon._user_stream):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closer.stop(), TEARDOWN_S)
        heartbeat_task = next((t for t in daemon._tasks if t.get_name() == "heartbeat"), None)
        tasks = [
            *daemon._runner_tasks.values(),
            *(t for t in reversed(daemon._tasks) if t is not heartbeat_task),
        ]
        for task in tasks:
            task.cancel()
        # Cancelled tasks still finish their last writes (the risk gate and the runners shield them).
        await asyncio.wait([*tasks], timeout=TEARDOWN_S) if tasks else None
        if heartbeat_task is not None:
            heartbeat_task.cancel()
            await asyncio.gather(heartbeat_task, return_exceptions=True)
        if daemon.heartbeat is not None:
            daemon.heartbeat.set_state(DaemonState.STOPPED, daemon.failure)
            with contextlib.suppress(Exception):
                await daemon.heartbeat.write()
        await daemon.alerts.stopped(daemon.exit_code, daemon.failure)  # after every task: their alerts go too
        if daemon._gateway is not None:
            await daemon._gateway.close()
        if daemon._venue is not None:
            await daemon._venue.stop()
        ownership = getattr(daemon, "ownership", None)  # after the last order: the locks go last
        if ownership is not None:
            await ownership.close()
        if daemon._db is not None:
            daemon._db.close()
        _log.info("daemon.stopped", exit_code=daemon.exit_code)
