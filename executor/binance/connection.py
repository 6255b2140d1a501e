"""One supervised WebSocket connection to Binance's streams: subscribe, watch, reconnect, count.

Why aiohttp directly and not the SDK's WebSocketStreams client (binance-common 4.7.0, read and
run here): the wire protocol is the same (combined streams on `<base>/market/stream`,
`{"method":"SUBSCRIBE","params":[...],"id":n}`), but the SDK's receive task
- ends silently on a non-JSON frame or a top-level JSON array (`json.loads` / `data.get` raise
  inside its task), so a malformed message is fatal to the connection instead of counted;
- has no receive timeout: a half-open or stalled socket hangs forever, and after an abnormal
  close it drops the connection without reconnecting (it only reconnects on its 23 h timer);
- decodes every payload twice when given a model and sleeps 0.5 s before every subscribe call.
Each of these is a requirement here, so each connection is driven by `SupervisedConnection` on
aiohttp (the library the SDK itself uses), and REST stays on the SDK (executor/binance/gateway.py).

`SupervisedConnection` owns one socket: connect, one bulk SUBSCRIBE for all its streams, a data
watchdog (no data for `watchdog_s` → the link is dead), reconnect with exponential backoff and
jitter on close, error or silence with a FRESH socket, resubscribe everything, and a
`ConnectionStatus` for the heartbeat. Frames are decoded by a handler that only decodes and calls
`sink(event)`; a malformed frame is counted, logged (at most once per `log_every_s`) and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import orjson
import structlog

from executor.binance.control_pacer import ControlPacer
from executor.binance.json_fields import MalformedMessage

__all__ = ["MAX_STREAMS_PER_CONNECTION", "ConnectionStatus", "RateLimitedLog", "SupervisedConnection"]

_log = structlog.get_logger(__name__)

MAX_STREAMS_PER_CONNECTION = 1024  # Binance's limit
_DECODE_ERRORS = (MalformedMessage, KeyError, TypeError, ValueError, AttributeError)


_YIELD_EVERY = 8  # data frames handled before the reader gives the loop a turn (bench/scale.py: 32 -> 8)


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """One socket's state for the heartbeat."""

    name: str
    connected: bool
    streams: int
    last_message_age_ms: int | None
    reconnects: int
    messages: int
    malformed: int
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class RateLimitedLog:
    """Logs an event at most once per interval, with the count of what was suppressed."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._next = 0.0
        self._suppressed = 0

    def warning(self, event: str, **fields: Any) -> None:
        now = time.monotonic()
        if now < self._next:
            self._suppressed += 1
            return
        self._next = now + self.every_s
        _log.warning(event, suppressed=self._suppressed, **fields)
        self._suppressed = 0


class SupervisedConnection:
    """One supervised combined-stream socket (see the module docstring).

    `handle(envelope)` is called for every data frame (`{"stream": ..., "data": ...}`) and may
    raise a decode error (counted as malformed). `prepare(is_reconnect)` runs before each
    subscribe (the user stream renews its listenKey there); `on_connected(is_reconnect)` after it.
    `liveness="data"` resets the watchdog only on data frames (market streams: a wrong path or a
    lost subscription is silence too); `liveness="any"` resets on any frame and sends a
    LIST_SUBSCRIPTIONS probe after `probe_s` of quiet (the user stream is legitimately quiet).
    """

    def __init__(
        self,
        name: str,
        url: str,
        handle: Callable[[dict[str, Any]], None],
        *,
        streams: Iterable[str] = (),
        watchdog_s: float = 5.0,
        liveness: str = "data",
        probe_s: float | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        prepare: Callable[[bool], Awaitable[None]] | None = None,
        on_connected: Callable[[bool], None] | None = None,
        log_every_s: float = 10.0,
    ) -> None:
        if liveness not in ("data", "any"):
            raise ValueError(f"liveness must be 'data' or 'any', got {liveness!r}")
        self.name = name
        self.url = url
        self.streams: set[str] = set(streams)
        self._handle = handle
        self.watchdog_s = watchdog_s
        self._liveness_any = liveness == "any"
        self.probe_s = probe_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self._prepare = prepare
        self._on_connected = on_connected
        self._bad_log = RateLimitedLog(log_every_s)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, str] = {}
        self._last_rx = 0.0
        self._last_data = 0.0
        self.connected = False
        self.reconnects = 0
        self.messages = 0
        self.malformed = 0
        self.last_error = ""
        self.acknowledged = 0  # replies to our requests without an error (subscriptions confirmed)
        self._ever_connected = False
        self._connected_event = asyncio.Event()
        self.pacer = ControlPacer(self._send_now)  # Binance: <= 10 incoming messages/s per socket

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the supervisor task (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"stream.{self.name}")

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait until subscribed at least once; False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected_event.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Stop supervising and close the socket."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_socket()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def status(self) -> ConnectionStatus:
        """This socket's state for the heartbeat."""
        last = self._last_data if not self._liveness_any else self._last_rx
        age = int((time.monotonic() - last) * 1000) if last else None
        return ConnectionStatus(
            name=self.name, connected=self.connected, streams=len(self.streams),
            last_message_age_ms=age, reconnects=self.reconnects, messages=self.messages,
            malformed=self.malformed, last_error=self.last_error,
        )

    # --- subscriptions at run time ---------------------------------------------------------------

    async def subscribe(self, streams: Iterable[str]) -> None:
        """Add streams; sent at once when connected, else on the next (re)connect."""
        new = [s for s in streams if s not in self.streams]
        self.streams.update(new)
        if new and self.connected:
            self.pacer.queue("SUBSCRIBE", new)  # paced and merged; a reconnect subscribes all anyway

    async def unsubscribe(self, streams: Iterable[str]) -> None:
        """Remove streams (no longer resubscribed after a reconnect)."""
        gone = [s for s in streams if s in self.streams]
        self.streams.difference_update(gone)
        if gone and self.connected:
            self.pacer.queue("UNSUBSCRIBE", gone)

    async def flush(self) -> None:
        """Wait until the subscription changes asked for so far have been sent."""
        await self.pacer.flush()

    async def reconnect_now(self, reason: str) -> None:
        """Drop the socket; the supervisor reconnects (e.g. when the owner knows it is dead)."""
        self.last_error = reason
        await self._close_socket()

    async def _close_socket(self) -> None:
        ws, self._ws = self._ws, None
        self.connected = False
        self.pacer.cancel()
        if ws is not None and not ws.closed:
            # A stalled peer never answers the close frame: bounded by ClientWSTimeout.ws_close.
            with contextlib.suppress(Exception):
                await ws.close()

    async def _send(self, method: str, params: list[str]) -> None:
        await self.pacer.wait_turn()
        await self._send_now(method, params)

    async def _send_now(self, method: str, params: list[str]) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            return
        request_id = next(self._ids)
        self._pending[request_id] = method
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps({"method": method, "params": params, "id": request_id}))

    # --- the supervisor -------------------------------------------------------------------------

    async def _supervise(self) -> None:
        backoff = self.backoff_initial_s
        while True:
            got_data = False
            try:
                got_data = await self._session_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed connect or prepare: back off and try again
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
                _log.warning("stream.connect_failed", connection=self.name, error=self.last_error)
            finally:
                self.connected = False
                await self._close_socket()
            if got_data:
                backoff = self.backoff_initial_s  # the link worked: start the backoff over
            self.reconnects += 1
            delay = backoff * (0.5 + random.random())  # jitter: sockets dropped together spread out
            backoff = min(self.backoff_max_s, backoff * 2)
            _log.info("stream.reconnecting", connection=self.name, in_s=round(delay, 3),
                      reason=self.last_error)
            await asyncio.sleep(delay)

    async def _session_once(self) -> bool:
        """One connection from connect to death; True if data flowed on it."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        is_reconnect = self._ever_connected
        if self._prepare is not None:
            await self._prepare(is_reconnect)
        self._ws = ws = await self._session.ws_connect(
            self.url,
            autoping=True,
            heartbeat=None,
            max_msg_size=20 * 1024 * 1024,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
            compress=0,
        )
        self._pending.clear()
        self.pacer.reset()  # a new socket: its own message budget; everything is subscribed below
        now = time.monotonic()
        self._last_rx = self._last_data = now
        if self.streams:
            await self._send("SUBSCRIBE", sorted(self.streams))
        self.connected = True
        self._ever_connected = True
        self._connected_event.set()
        _log.info("stream.connected", connection=self.name, streams=len(self.streams),
                  reconnect=is_reconnect)
        if self._on_connected is not None:
            try:
                self._on_connected(is_reconnect)
            except Exception as exc:
                _log.error("stream.on_connected_failed", connection=self.name, error=repr(exc))
        messages_before = self.messages
        reader = asyncio.create_task(self._read(ws))
        try:
            await self._watch(reader)
        finally:
            if not reader.done():
                reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        return self.messages > messages_before

    async def _watch(self, reader: asyncio.Task[None]) -> None:
        """Wait for the reader to end, or declare the link dead after `watchdog_s` of silence."""
        check = min(1.0, self.watchdog_s / 4)
        probed = False
        while True:
            done, _ = await asyncio.wait({reader}, timeout=check)
            if done:
                return
            now = time.monotonic()
            quiet = now - (self._last_rx if self._liveness_any else self._last_data)
            if quiet >= self.watchdog_s:
                self.last_error = f"silent for {quiet:.1f} s"
                _log.warning("stream.silent", connection=self.name, seconds=round(quiet, 1))
                return
            if self.probe_s is not None and quiet >= self.probe_s and not probed:
                probed = True
                await self._send("LIST_SUBSCRIPTIONS", [])
            elif quiet < (self.probe_s or 0):
                probed = False

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        handle = self._handle
        loads = orjson.loads  # ~3x json.loads on these frames; its errors are ValueErrors too
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                if msg.type is aiohttp.WSMsgType.BINARY:
                    self._malformed("binary frame", b"")
                    continue
                break  # CLOSE / CLOSED / ERROR
            now = time.monotonic()
            self._last_rx = now
            try:
                frame = loads(msg.data)
            except ValueError:
                self._malformed("not JSON", msg.data)
                continue
            if type(frame) is not dict:
                self._malformed("not a JSON object", msg.data)
                continue
            if "stream" in frame:
                self._last_data = now
                self.messages += 1
                try:
                    handle(frame)
                except _DECODE_ERRORS as exc:
                    self._malformed(str(exc), msg.data)
                if self.messages % _YIELD_EVERY == 0:
                    # A buffered burst (every symbol's mark price lands on the same second) would
                    # otherwise be decoded whole before any strategy runs: let them start.
                    await asyncio.sleep(0)
                continue
            self._reply(frame)
        error = ws.exception()
        self.last_error = (f"closed: {type(error).__name__}" if error is not None
                           else f"closed by the server (code {ws.close_code})")

    def _reply(self, frame: dict[str, Any]) -> None:
        request_id = frame.get("id")
        method = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if "error" in frame:
            self.last_error = f"{method or 'request'} refused: {str(frame['error'])[:160]}"
            _log.error("stream.request_refused", connection=self.name, method=method,
                       error=str(frame["error"])[:300])
        elif method is not None:
            self.acknowledged += 1

    def _malformed(self, reason: str, raw: str | bytes) -> None:
        self.malformed += 1
        self._bad_log.warning("stream.malformed", connection=self.name, reason=reason[:200],
                              sample=str(raw[:200]), total=self.malformed)
