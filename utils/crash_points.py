"""Deterministic crash points for the crash tests: `TRADER_TEST_CRASH_AT=<name>` makes the process
kill itself with SIGKILL the Nth time (`TRADER_TEST_CRASH_AFTER`, default 1) it reaches `<name>`.

The variables are read once, when this module is imported; unset (always, outside those tests),
`crash_point` only compares a string with None. The names mark the steps of the order path where a
crash is most dangerous (after an order is written and before it is sent, after it is sent and
before the answer, ...); tests/crash/ kills the daemon at each and proves nothing is lost.
"""

from __future__ import annotations

import os
import signal

_TARGET = os.environ.get("TRADER_TEST_CRASH_AT") or None
_AFTER = int(os.environ.get("TRADER_TEST_CRASH_AFTER", "1") or "1")
_seen = 0

POINTS = (
    "after_order_written",  # the PENDING_NEW row is committed; nothing was sent
    "after_order_sent",  # the venue has the request; its answer is not processed
    "after_order_accepted",  # the venue accepted it (resting, NEW) and that is stored; no fill yet
    "after_partial_fill",  # one fill of several is booked
    "before_fill_stored",  # a fill arrived; it, its order and the position are not stored yet
    "during_reconciliation",  # live orders are reconciled; fills and positions are not
    "during_shutdown",  # entries are cancelled; the rest of the shutdown has not run
)


def crash_point(name: str) -> None:
    """Die here, with SIGKILL, if the crash tests asked for it (see the module docstring)."""
    global _seen
    if _TARGET is None or name != _TARGET:
        return
    _seen += 1
    if _seen >= _AFTER:
        os.kill(os.getpid(), signal.SIGKILL)
