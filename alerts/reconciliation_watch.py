"""Reconciliation outcomes humans must hear of, and the summary of a start-up after a crash.

The order manager publishes every run's outcome (`core.reconciliation.ReconciliationFinished`);
this watch turns the ones that matter into alerts:

- the first start-up run, when the previous run did not stop cleanly (its last heartbeat does not
  say `stopped`): CRASH_RECOVERY with what reconciliation found and fixed, even when that is
  nothing, so the operator knows the restart was checked;
- any other run that repaired something (REPAIRED, WARNING), found positions it could not make
  agree (MISMATCH, CRITICAL: entries are paused on those symbols) or could not ask the venue
  (FAILED, WARNING): RECONCILIATION. The router folds the repeats of a long outage.

A run that found nothing to do is not news.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core import channels
from core.alerts import AlertKind, Severity, publish_alert
from core.bus import Bus
from core.reconciliation import ReconcileResult, ReconciliationFinished


def previous_run_crashed(previous_heartbeat: Mapping[str, Any] | None) -> bool:
    """Whether the last heartbeat of the previous run says it never reached `stopped`."""
    return previous_heartbeat is not None and previous_heartbeat.get("state") != "stopped"


class ReconciliationWatch:
    """Publishes RECONCILIATION and CRASH_RECOVERY alerts (see the module docstring).

    Subscribed in the constructor, so a reconciliation that runs before `run()` is scheduled is
    not missed."""

    def __init__(self, bus: Bus, previous_heartbeat: Mapping[str, Any] | None) -> None:
        self._bus = bus
        self._subscription = bus.subscribe(channels.RECONCILIATION, name="alerts.reconciliation")
        self._crashed = previous_run_crashed(previous_heartbeat)
        self._last_beat = _last_beat(previous_heartbeat)
        self._startup_seen = False

    async def run(self) -> None:
        """Alert on each outcome until cancelled."""
        try:
            async for event in self._subscription:
                if isinstance(event, ReconciliationFinished):
                    self.on_outcome(event)
        finally:
            self._subscription.close()

    def on_outcome(self, event: ReconciliationFinished) -> None:
        """One reconciliation's outcome."""
        mismatch = event.result is ReconcileResult.MISMATCH
        if event.trigger == "startup" and not self._startup_seen:
            self._startup_seen = True
            if self._crashed:
                self._publish(
                    AlertKind.CRASH_RECOVERY,
                    f"the previous run did not stop cleanly ({self._last_beat}); start-up "
                    f"reconciliation {event.result.value}: {_found(event)}",
                    event,
                    Severity.CRITICAL if mismatch else None,
                )
                return
        if event.result is ReconcileResult.OK:
            return
        if event.result is ReconcileResult.FAILED:
            text = f"{event.trigger} reconciliation could not run: {event.detail}; it is retried"
        elif mismatch:
            symbols = ", ".join(event.mismatched_symbols)
            text = (
                f"{event.trigger} reconciliation: positions differ from the venue on {symbols}: "
                f"entries there are paused until a reconciliation agrees ({event.detail})"
            )
        else:
            repaired = f"{event.differences} difference(s)"
            text = f"{event.trigger} reconciliation repaired {repaired}: {event.detail}"
        self._publish(AlertKind.RECONCILIATION, text, event, Severity.CRITICAL if mismatch else None)

    def _publish(
        self, kind: AlertKind, text: str, event: ReconciliationFinished, severity: Severity | None
    ) -> None:
        publish_alert(self._bus, kind, text, time=event.event_time, severity=severity)


def _found(event: ReconciliationFinished) -> str:
    if event.result is ReconcileResult.OK:
        return "nothing to repair"
    return event.detail


def _last_beat(previous: Mapping[str, Any] | None) -> str:
    if previous is None:
        return "no heartbeat"
    state = previous.get("state", "?")
    written = previous.get("written_at_ms")
    if not isinstance(written, int):
        return f"last state {state}"
    at = datetime.fromtimestamp(written / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"last heartbeat {at}, state {state}"


__all__ = ["ReconciliationWatch", "previous_run_crashed"]
