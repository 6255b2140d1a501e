"""What a log sink that cannot write (disk full, a closed pipe) costs: a count, not a traceback storm.

The standard library answers every failed `emit` with a full traceback on stderr, so a full disk
turned one problem into thousands of lines (2,089 in 30 s) while the daemon went on trading. Our
handlers count the failures instead and say so in one line: at the first failure, then at most once
per `REPORT_EVERY_S` with the number since the last report. Logging never raises into the caller.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

REPORT_EVERY_S = 60.0


class SinkFailures:
    """Failed writes of one log sink, and when they were last reported."""

    def __init__(self, sink: str, *, report_every_s: float = REPORT_EVERY_S) -> None:
        self.sink = sink
        self.report_every_s = report_every_s
        self.total = 0
        self._unreported = 0
        self._reported_at: float | None = None
        self._lock = threading.Lock()

    def failed(self, error: BaseException | None, *, now: float | None = None) -> str | None:
        """Count one failed record; the line to report now, or None while it would repeat itself."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self.total += 1
            self._unreported += 1
            if self._reported_at is not None and now - self._reported_at < self.report_every_s:
                return None
            count, self._unreported, self._reported_at = self._unreported, 0, now
        reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        since = "" if self.total == count else f" (since the last report; {self.total} in all)"
        return (
            f"logging: {count} record(s) could not be written to {self.sink}{since}: {reason}. "
            f"Trading goes on; free the space or fix the sink. Next report in "
            f"{self.report_every_s:.0f} s at the earliest."
        )


class CountingHandler(logging.Handler):
    """A handler mixin whose failed writes are counted and reported (see the module docstring)."""

    failures: SinkFailures

    def count_failures(self, sink: str) -> None:
        """Start counting this handler's failed writes to `sink` (a file path or "stderr")."""
        self.failures = SinkFailures(sink)

    def handleError(self, record: logging.LogRecord) -> None:
        """Count the failure; report it on the process's stderr when due, never a traceback."""
        if not hasattr(self, "failures"):
            self.count_failures(self.name or type(self).__name__)
        line = self.failures.failed(sys.exc_info()[1])
        if line is not None:
            _say(line, sys.__stderr__)

    def close(self) -> None:
        """Close the sink; the last flush failing (the disk is still full) is counted, not raised."""
        try:
            super().close()
        except (OSError, ValueError):
            self.handleError(logging.makeLogRecord({"msg": "close"}))


def _say(line: str, stream: TextIO | None) -> None:
    # The report may fail too (it is the console that is broken): then the count is all we keep.
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def failed_writes() -> dict[str, int]:
    """Failed log writes so far, per sink of the root logger's counting handlers (for the heartbeat)."""
    return {
        h.failures.sink: h.failures.total
        for h in logging.getLogger().handlers
        if isinstance(h, CountingHandler) and hasattr(h, "failures")
    }
