"""What a reconciliation against the venue concluded, published on the `reconciliation` channel.

The risk gate holds entries back until the first run after start succeeds, and pauses a symbol's
entries while its position differs from the venue's for a reason no repair explained; alerts and
the heartbeat report every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReconcileResult(StrEnum):
    """ok: nothing differed; repaired: differences found and repaired; mismatch: a position
    difference no repair explained; failed: the venue could not be asked."""

    OK = "ok"
    REPAIRED = "repaired"
    MISMATCH = "mismatch"
    FAILED = "failed"

    @property
    def succeeded(self) -> bool:
        return self is not ReconcileResult.FAILED


@dataclass(frozen=True, slots=True)
class ReconciliationFinished:
    """One reconciliation run's outcome. `mismatched_symbols` have their entries paused."""

    trigger: str  # startup | periodic | stream_reset | manual
    result: ReconcileResult
    differences: int
    mismatched_symbols: tuple[str, ...]
    event_time: int
    detail: str = ""
