"""Control messages of one stream socket (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS), paced and merged.

Binance accepts at most 10 incoming messages per second on a stream connection (pings, pongs and
JSON control messages alike) and disconnects a client that sends more. Subscribing symbol by symbol
(a live config edit adding 300 symbols, a strategy adding one at a time) would send a burst, so each
socket sends at most one control message every `spacing_s` (0.25 s: 4 a second, room left for
pongs), and what is asked for while it waits goes out merged into the next message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

__all__ = ["CONTROL_SPACING_S", "ControlPacer"]

CONTROL_SPACING_S = 0.25


class ControlPacer:
    """Paces one socket's control messages; `send(method, params)` writes one to the socket."""

    def __init__(self, send: Callable[[str, list[str]], Awaitable[None]],
                 spacing_s: float = CONTROL_SPACING_S) -> None:
        self._send = send
        self.spacing_s = spacing_s
        self._last = -spacing_s
        self._queued: list[tuple[str, list[str]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.sent = 0
        self.merged = 0  # requests that rode along in another one's message

    async def wait_turn(self) -> None:
        """Wait until the next control message may go, and take that slot."""
        while True:
            wait = self._last + self.spacing_s - time.monotonic()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        self._last = time.monotonic()
        self.sent += 1

    def queue(self, method: str, params: list[str]) -> None:
        """Send `method` for `params` soon, merged with requests of the same method queued before."""
        if self._queued and self._queued[-1][0] == method:
            self._queued[-1][1].extend(params)
            self.merged += 1
        else:
            self._queued.append((method, list(params)))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def flush(self) -> None:
        """Wait until everything queued has been sent (or the socket closed)."""
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await asyncio.wait({flusher})  # the flusher's own cancellation is not ours

    def reset(self) -> None:
        """A new socket: drop what is queued (the owner subscribes everything anew) and the spacing."""
        self._queued.clear()
        self._last = -self.spacing_s
        self.cancel()

    def cancel(self) -> None:
        """Stop the pending sends (socket closed)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        self._flusher = None

    async def _flush(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while self._queued:
                await self.wait_turn()
                if not self._queued:
                    return
                method, params = self._queued.pop(0)
                await self._send(method, params)
