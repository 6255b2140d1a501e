"""Folding repeats: one message per (kind, symbol) per window, the rest counted into the next one.

The first alert of a key opens a window of `window_s` and becomes a message at once. Until the
window ends, repeats of the key are counted on the same record; while its message still waits in
the queue they are folded into it, otherwise they wait for the window's end, where they become one
message ("<latest text> … and 37 more in the last 5 min") and the window starts again. A key
that stays quiet for a whole window is forgotten, and its next alert opens a new record.

So a storm of identical errors is one message at once and one per window after it, and the
stored record counts every occurrence. Times are seconds on the router's network clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alerts.store import AlertRecord, DeliveryStatus
from core.alerts import Alert, AlertKind


@dataclass(slots=True, eq=False)
class Message:
    """One message to send: `alert` is the occurrence it shows, `repeats` the others folded in."""

    record: AlertRecord
    alert: Alert
    repeats: int = 0
    attempts: int = 0
    queued_at: float = 0.0

    def fold(self, alert: Alert) -> bool:
        """One more occurrence folded into this unsent message: it shows the latest text at the
        highest severity seen. True when that raised the message's severity."""
        before = self.alert.severity
        if alert.severity.rank < before.rank:
            alert = replace(alert, severity=before)
        self.alert = alert
        self.repeats += 1
        return alert.severity is not before


@dataclass(frozen=True, slots=True)
class Offered:
    """What `Deduper.offer` did: the key's record; `new` is a message to queue; `promoted` is the
    key's queued message whose severity a fold raised (move it up the queue)."""

    record: AlertRecord
    new: Message | None = None
    promoted: Message | None = None


@dataclass(slots=True, eq=False)
class _Window:
    record: AlertRecord
    ends: float
    pending: int = 0  # occurrences since the last message, not folded into one yet
    latest: Alert | None = None
    queued: Message | None = None  # this key's message that has not left the queue yet


class Deduper:
    """Per-key windows (see the module docstring). `offer` for each alert, `due` on each tick."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._windows: dict[tuple[AlertKind, str | None], _Window] = {}
        self.folded = 0

    def offer(self, alert: Alert, now: float, status: DeliveryStatus) -> Offered:
        """Count `alert` on its key's record (see `Offered` for what the caller does next)."""
        window = self._windows.get(alert.key)
        if window is None or (now >= window.ends and window.pending == 0 and window.queued is None):
            record = AlertRecord.first(alert, status)
            message = Message(record, alert, queued_at=now)
            self._windows[alert.key] = _Window(record, now + self.window_s, queued=message)
            return Offered(record, new=message)
        window.record.repeat(alert)
        self.folded += 1
        if window.queued is not None:
            raised = window.queued.fold(alert)
            return Offered(window.record, promoted=window.queued if raised else None)
        window.pending += 1
        held = window.latest
        if held is not None and held.severity.rank > alert.severity.rank:
            alert = replace(alert, severity=held.severity)  # a fold shows the highest severity
        window.latest = alert
        return Offered(window.record)

    def due(self, now: float) -> list[Message]:
        """Messages for windows that ended with repeats pending; forgets windows gone quiet."""
        out: list[Message] = []
        for key, window in list(self._windows.items()):
            if now < window.ends:
                continue
            if window.pending and window.latest is not None and window.queued is None:
                message = Message(window.record, window.latest, repeats=window.pending - 1, queued_at=now)
                window.queued = message
                window.pending = 0
                window.latest = None
                window.ends = now + self.window_s
                out.append(message)
            elif window.queued is None and not window.pending:
                del self._windows[key]
        return out

    def flush(self, now: float) -> list[Message]:
        """Every pending repeat as a message now, whatever its window (at shutdown)."""
        for window in self._windows.values():
            if window.pending:
                window.ends = min(window.ends, now)
        return self.due(now)

    def next_due(self) -> float | None:
        """The earliest time `due` has something to do, or None (a queued message waits to be
        `taken`, not for the clock)."""
        ends = [w.ends for w in self._windows.values() if w.queued is None]
        return min(ends) if ends else None

    def taken(self, message: Message, now: float) -> None:
        """`message` left the queue (an attempt starts, or it was dropped): repeats from now on
        wait for the key's window, which runs from now, so a message that waited out an outage
        is not followed at once by another."""
        window = self._windows.get(message.alert.key)
        if window is not None and window.queued is message:
            window.queued = None
            window.ends = max(window.ends, now + self.window_s)

    def returned(self, message: Message) -> None:
        """An attempt of `message` failed and it goes back into the queue: the repeats that came
        meanwhile are folded into it (it shows the latest)."""
        window = self._windows.get(message.alert.key)
        if window is None or window.queued is not None:
            return
        window.queued = message
        if window.pending and window.latest is not None:
            message.fold(window.latest)
            message.repeats += window.pending - 1
            window.pending = 0
            window.latest = None

    def set_window(self, window_s: float) -> None:
        """A new window length (a live configuration edit) for windows opened from now on."""
        self.window_s = window_s

    def __len__(self) -> int:
        return len(self._windows)


__all__ = ["Deduper", "Message", "Offered"]
