"""Streams that stay down: an alert once a socket has been down longer than the threshold, and one
when it is back.

The supervised connections reconnect by themselves within seconds, so a short drop is not news;
one that lasts `threshold_s` is (no market data, or no fills seen). The watch polls each socket's
status (`executor.binance.connection.ConnectionStatus`, read through the `SocketStatus` protocol
so this package does not import the executor) once per `poll_s` of the network clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog

from alerts.render import duration_text
from core.alerts import AlertKind, publish_alert
from core.bus import Bus
from utils.clock import Clock

_log = structlog.get_logger(__name__)


class SocketStatus(Protocol):
    """What the watch reads of a socket's status."""

    @property
    def name(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    @property
    def last_error(self) -> str: ...


@dataclass(slots=True)
class _Down:
    since: float
    alerted: bool = False
    last_error: str = ""


class StreamWatch:
    """Publishes STREAM_DOWN / STREAM_RECOVERED for each socket the `sources` report.

    `clock` stamps the alerts (the daemon's clock); `wall` measures how long a socket is down.
    """

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        wall: Clock,
        sources: Iterable[Callable[[], Iterable[SocketStatus]]],
        *,
        threshold_s: float,
        poll_s: float = 1.0,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._wall = wall
        self._sources = list(sources)
        self.threshold_s = threshold_s
        self._poll_s = poll_s
        self._down: dict[str, _Down] = {}
        self.alerts = 0

    def check(self) -> None:
        """Look at every socket once and publish what changed."""
        now = self._wall.monotonic()
        for source in self._sources:
            for status in source():
                self._see(f"{status.name} stream", status, now)

    def _see(self, name: str, status: SocketStatus, now: float) -> None:
        down = self._down.get(name)
        if not status.connected:
            if down is None:
                down = self._down[name] = _Down(since=now)
            down.last_error = status.last_error or down.last_error
            if not down.alerted and now - down.since >= self.threshold_s:
                down.alerted = True
                error = f" (last error: {down.last_error})" if down.last_error else ""
                self._publish(
                    AlertKind.STREAM_DOWN,
                    f"{name} down for {duration_text(now - down.since)}{error}; reconnecting",
                )
            return
        if down is not None:
            del self._down[name]
            if down.alerted:
                back = f"{name} back after {duration_text(now - down.since)}"
                self._publish(AlertKind.STREAM_RECOVERED, back)

    def _publish(self, kind: AlertKind, text: str) -> None:
        self.alerts += 1
        publish_alert(self._bus, kind, text, time=self._clock.now_ms())

    async def run(self) -> None:
        """Check every `poll_s` until cancelled."""
        while True:
            try:
                self.check()
            except Exception as exc:  # a bad status must not end the watch
                _log.error("alerts.stream_watch_failed", error=repr(exc))
            await self._wall.sleep(self._poll_s)


__all__ = ["SocketStatus", "StreamWatch"]
