"""The router's bounded queue: CRITICAL first, and when full the oldest INFO goes, never a CRITICAL.

`put` on a full queue drops, in this order: the oldest INFO; the new message itself if it is an
INFO; the oldest WARNING; the new message if it is a WARNING. A CRITICAL is always kept, even past
the bound (criticals are few: each key is folded, and there are only so many kinds and symbols).
`pop` takes the oldest message of the highest severity waiting; `put_back` returns a message whose
attempt must be repeated to the front of its line.
"""

from __future__ import annotations

from collections import Counter, deque

from alerts.dedupe import Message
from core.alerts import Severity

_HIGHEST_FIRST = (Severity.CRITICAL, Severity.WARNING, Severity.INFO)


class Outbox:
    """Messages waiting to be sent (see the module docstring)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._lines: dict[Severity, deque[Message]] = {s: deque() for s in Severity}
        self.dropped: Counter[Severity] = Counter()
        self.max_depth = 0

    def put(self, message: Message) -> Message | None:
        """Queue `message`; returns the message dropped to make room (maybe itself), or None."""
        if len(self) < self.capacity:
            self._append(message)
            return None
        incoming = message.alert.severity
        for severity in (Severity.INFO, Severity.WARNING):
            line = self._lines[severity]
            if line:
                victim = line.popleft()
                self.dropped[severity] += 1
                self._append(message)
                return victim
            if incoming is severity:
                self.dropped[severity] += 1
                return message
        self._append(message)  # only CRITICALs wait, and this is one: kept past the bound
        return None

    def _append(self, message: Message) -> None:
        self._lines[message.alert.severity].append(message)
        self.max_depth = max(self.max_depth, len(self))

    def put_back(self, message: Message) -> None:
        """Return a message whose attempt is to be repeated to the front of its line."""
        self._lines[message.alert.severity].appendleft(message)

    def promote(self, message: Message) -> None:
        """A queued message's severity rose (a fold): move it to its new line, keeping its place
        among messages queued before it."""
        for severity, line in self._lines.items():
            if severity is not message.alert.severity and message in line:
                line.remove(message)
                target = self._lines[message.alert.severity]
                later = (i for i, m in enumerate(target) if m.queued_at > message.queued_at)
                target.insert(next(later, len(target)), message)
                return

    def pop(self) -> Message | None:
        """The oldest message of the highest severity, or None when empty."""
        for severity in _HIGHEST_FIRST:
            line = self._lines[severity]
            if line:
                return line.popleft()
        return None

    def drain(self) -> list[Message]:
        """Take every message out (highest severity first)."""
        out: list[Message] = []
        while (message := self.pop()) is not None:
            out.append(message)
        return out

    def __len__(self) -> int:
        return sum(len(line) for line in self._lines.values())

    def depth(self) -> dict[str, int]:
        """Messages waiting per severity."""
        return {s.value: len(line) for s, line in self._lines.items()}


__all__ = ["Outbox"]
