"""Entries held back until the venue and our records agree (reconciliation's verdicts), while
the daemon shuts down or has lost its database, or on a symbol it does not own (several daemons on
one PostgreSQL: `trader/ownership.py`).

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
        self._not_owned: dict[str, tuple[str, bool]] = {}  # symbol -> (detail, exits too)

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

    def set_not_owned(self, symbol: str, detail: str | None, *, exits_too: bool = False) -> None:
        """Hold `symbol` back because this daemon does not (provably) own it; None: it does.

        `exits_too` when another daemon owns it: that daemon's position is not ours to close."""
        if detail is None:
            self._not_owned.pop(symbol, None)
        else:
            self._not_owned[symbol] = (detail, exits_too)

    def exits_blocked(self, symbol: str) -> str | None:
        """Why even a close of `symbol` must not leave here (another daemon owns it), or None."""
        held = self._not_owned.get(symbol)
        return held[0] if held is not None and held[1] else None

    def pause_of(self, symbol: str) -> tuple[Reason, str] | None:
        """Why entries of `symbol` are held back, or None."""
        if self._all is not None:
            return Reason.ENTRIES_PAUSED, f"{self._all[0]}: {self._all[1]}"
        held = self._not_owned.get(symbol)
        if held is not None:
            return Reason.NOT_OWNED, held[0]
        if not self._reconciled:
            return Reason.NOT_RECONCILED, "waiting for the first successful reconciliation with the venue"
        detail = self._mismatched.get(symbol)
        return (Reason.RECONCILIATION_MISMATCH, detail) if detail is not None else None
