"""The last error the daemon logged, for the heartbeat and `status` (one line, redacted).

A stdlib logging handler on the root logger: every structlog event and every library record passes
through it, so whatever reached the log at ERROR or above is what the heartbeat shows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from utils.logging import redact_text


class LastErrorHandler(logging.Handler):
    """Remembers the newest ERROR (or worse) record as `{time_ms, message}`."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.last: dict[str, object] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = _one_line(record)
        except Exception:  # a log record must never break logging
            message = record.levelname
        self.last = {"time_ms": int(record.created * 1000), "message": message}

    def install(self) -> None:
        """Attach to the root logger."""
        logging.getLogger().addHandler(self)

    def uninstall(self) -> None:
        """Detach from the root logger."""
        logging.getLogger().removeHandler(self)


def _one_line(record: logging.LogRecord) -> str:
    msg = record.msg
    if isinstance(msg, Mapping):
        event = str(msg.get("event", ""))
        details = [f"{k}={msg[k]}" for k in ("error", "reason", "symbol", "client_order_id") if k in msg]
        text = " ".join([event, *details])
    else:
        text = record.getMessage()
    return redact_text(" ".join(text.split()))[:500]


__all__ = ["LastErrorHandler"]
