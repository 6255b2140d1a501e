"""Entries held back until the venue and our records agree (reconciliation's verdicts), or while
the daemon shuts down or has lost its database.

Entries wait for the first successful reconciliation after start; a symbol whose position differed
from the venue's for a reason no repair explained waits until a later run finds it clean. A failed
run changes nothing: what was paused stays paused. Exits are never paused here.
"""

from __future__ import annotations

import structlog

from core.reconciliation import ReconciliationFinished
from executor.risk.rules import Reason

_log = structlog.get_logger(__name__)


class EntryPauses:
    """What reconciliation says about entries, symbol by symbol."""

    def __init__(self, *, wait_for_reconciliation: bool) -> None:
        self._reconciled = not wait_for_reconciliation
        self._mismatched: dict[str, str] = {}
        self._all: tuple[str, str] | None = None  # (reason, detail): every symbol, e.g. shutting down

    @property
    def reconciled(self) -> bool:
        """True once a reconciliation succeeded (or when none was asked for)."""
        return self._reconciled

    def on_reconciliation(self, event: ReconciliationFinished) -> None:
        """Take a run's verdict (a failed run is ignored)."""
        if not event.result.succeeded:
            return
        if not self._reconciled:
            _log.info("risk.entries_open", reason="first successful reconciliation")
        self._reconciled = True
        self._mismatched = {
            symbol: f"position differed from the venue's at {event.event_time} ({event.trigger})"
            for symbol in event.mismatched_symbols
        }
        for symbol in event.mismatched_symbols:
            _log.warning("risk.symbol_paused", symbol=symbol, reason="reconciliation_mismatch")

    def pause_all(self, reason: str, detail: str) -> None:
        """No entry on any symbol from now on (shutting down, the database lost)."""
        self._all = (reason, detail)
        _log.warning("risk.entries_paused", reason=reason, detail=detail)

    def pause_of(self, symbol: str) -> tuple[Reason, str] | None:
        """Why entries of `symbol` are held back, or None."""
        if self._all is not None:
            return Reason.ENTRIES_PAUSED, f"{self._all[0]}: {self._all[1]}"
        if not self._reconciled:
            return Reason.NOT_RECONCILED, "waiting for the first successful reconciliation with the venue"
        detail = self._mismatched.get(symbol)
        return (Reason.RECONCILIATION_MISMATCH, detail) if detail is not None else None
