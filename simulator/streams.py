"""WebSocket market and user-data streams, in every URL form Binance USD-M futures documents.

Paths: `/ws`, `/ws/<stream>[/<stream>...]` (raw payloads), `/stream`, `/stream?streams=a/b` (combined
`{"stream": name, "data": payload}` envelopes), each also under `/market`, `/public` and `/private`
(always combined for `/<path>/stream`). A `listenKey=` query parameter subscribes that key, and an
`events=` one (`ORDER_TRADE_UPDATE/ACCOUNT_UPDATE`, `/` or `,` separated) limits the user-data
events that socket receives to those types (listenKeyExpired always passes: it ends the key). After
connecting, `{"method": "SUBSCRIBE" | "UNSUBSCRIBE" | "LIST_SUBSCRIPTIONS" | "SET_PROPERTY" |
"GET_PROPERTY", "params": [...], "id": ...}` work as on Binance; replies echo the id unchanged.

Market streams (kline, markPrice) are delivered on /market and the generic paths, user data (the
listenKey as a stream name) on /private and the generic paths. A known stream on the wrong path is
accepted and stays silent, as Binance does since the 2026 path split; an unknown name gets an error.

A client may send at most `max_incoming_per_s` (10) messages a second (pings, pongs and control
messages alike): one more and the socket is closed, as Binance does. `peak_incoming_per_s` is the
most any client sent within one second (the daemon's pacing shows there).

Each connection has a bounded send queue: fan-out never waits for a client, and a client that falls
behind by more than the queue is disconnected, as Binance disconnects slow consumers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from simulator.listen_keys import ListenKeys

__all__ = ["StreamConnection", "StreamHub"]

_LISTEN_KEY = re.compile(r"^[A-Za-z0-9]{60,64}$")
_MARKET_PATHS = ("", "market")
_USER_PATHS = ("", "private")


def _error(code: int, msg: str, req_id: Any = None) -> str:
    return json.dumps({"error": {"code": code, "msg": msg}, "id": req_id})


class StreamConnection:
    """One client socket: its path, subscriptions, send queue and liveness."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, path: str, combined: bool,
                 queue_size: int) -> None:
        self.ws = ws
        self.request = request
        self.path = path  # "", "market", "public" or "private"
        self.combined = combined
        self.subs: dict[str, tuple[str, str]] = {}  # client's name -> ("m", canonical) | ("u", key)
        self.events: frozenset[str] | None = None  # user-data event types asked for (None: all)
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.stalled = False
        self.closed = False
        self.sent = 0
        self.last_pong = time.monotonic()
        self.incoming: collections.deque[float] = collections.deque()  # the last second's messages

    def offer(self, text: str) -> bool:
        """Queue one frame; False (and the caller disconnects us) when the client is too slow."""
        if self.stalled or self.closed:
            return True
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def wrap(self, name: str, data_json: str) -> str:
        """The frame for one payload: combined envelope or the raw payload."""
        if self.combined:
            return f'{{"stream":{json.dumps(name)},"data":{data_json}}}'
        return data_json


class StreamHub:
    """Every stream socket of the simulator, their subscriptions, and the fan-out to them."""

    def __init__(
        self,
        resolve_market: Callable[[str], str | None],
        listen_keys: ListenKeys,
        *,
        max_streams: int = 1024,
        queue_size: int = 10_000,
        ping_interval_s: float = 180.0,
        pong_timeout_s: float = 600.0,
        max_incoming_per_s: int = 10,
    ) -> None:
        self._resolve_market = resolve_market
        self._keys = listen_keys
        self.max_streams = max_streams
        self._queue_size = queue_size
        self._ping_interval_s = ping_interval_s
        self._pong_timeout_s = pong_timeout_s
        self.connections: set[StreamConnection] = set()
        self._market: dict[str, dict[StreamConnection, str]] = {}  # canonical -> conn -> client name
        self._user: dict[str, set[StreamConnection]] = {}  # listenKey -> conns
        self.slow_disconnects = 0
        self.max_incoming_per_s = max_incoming_per_s
        self.rate_disconnects = 0  # sockets closed for sending too many messages
        self.peak_incoming_per_s = 0
        self._closing: set[asyncio.Task[None]] = set()  # keep close tasks referenced until done

    # --- routes ------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """Register every stream URL form on `app`."""
        for prefix in ("", "/market", "/public", "/private"):
            app.router.add_get(prefix + "/ws", self.handle)
            app.router.add_get(prefix + "/ws/{streams:.+}", self.handle)
            app.router.add_get(prefix + "/stream", self.handle)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One WebSocket from upgrade to close."""
        parts = request.path.strip("/").split("/")
        path = parts[0] if parts[0] in ("market", "public", "private") else ""
        combined = "stream" in parts
        names = [n for n in request.match_info.get("streams", "").split("/") if n]
        names += [n for n in request.query.get("streams", "").split("/") if n]
        names += [k for k in request.query.get("listenKey", "").split("/") if k]
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = StreamConnection(ws, request, path, combined, self._queue_size)
        wanted = [e for e in request.query.get("events", "").replace(",", "/").split("/") if e]
        if wanted:
            conn.events = frozenset(wanted) | {"listenKeyExpired"}
        self.connections.add(conn)
        sender = asyncio.create_task(self._send_loop(conn))
        pinger = asyncio.create_task(self._ping_loop(conn))
        try:
            if names:
                problem = self._subscribe(conn, names)
                if problem:
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=problem.encode()[:120])
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.PING, WSMsgType.PONG) and self._too_many(conn):
                    self.rate_disconnects += 1
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"Too many requests")
                    break
                if msg.type == WSMsgType.TEXT:
                    self._command(conn, msg.data)
                elif msg.type == WSMsgType.PING:
                    if not conn.stalled:
                        await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    conn.last_pong = time.monotonic()
                elif msg.type == WSMsgType.BINARY:
                    conn.offer(_error(3, "Invalid JSON: binary frames are not supported"))
        finally:
            self._forget(conn)
            sender.cancel()
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(sender, pinger, return_exceptions=True)
        return ws

    def _too_many(self, conn: StreamConnection) -> bool:
        now = time.monotonic()
        conn.incoming.append(now)
        while conn.incoming[0] <= now - 1.0:
            conn.incoming.popleft()
        self.peak_incoming_per_s = max(self.peak_incoming_per_s, len(conn.incoming))
        return len(conn.incoming) > self.max_incoming_per_s

    # --- subscriptions -----------------------------------------------------------------------

    def _target(self, name: str) -> tuple[str, str] | None:
        canonical = self._resolve_market(name)
        if canonical is not None:
            return ("m", canonical)
        if _LISTEN_KEY.match(name):
            return ("u", name)
        return None

    def _subscribe(self, conn: StreamConnection, names: list[str]) -> str | None:
        """Subscribe all of `names` or none; returns the problem, if any."""
        targets: dict[str, tuple[str, str]] = {}
        for name in names:
            target = self._target(name)
            if target is None:
                return f"Invalid request: unknown stream {name!r}"
            targets[name] = target
        if len(set(conn.subs) | set(targets)) > self.max_streams:
            return f"Invalid request: too many streams, at most {self.max_streams} per connection"
        for name, (kind, key) in targets.items():
            conn.subs[name] = (kind, key)
            if kind == "m" and conn.path in _MARKET_PATHS:
                self._market.setdefault(key, {})[conn] = name
            elif kind == "u" and conn.path in _USER_PATHS:
                self._user.setdefault(key, set()).add(conn)
        return None

    def _unsubscribe(self, conn: StreamConnection, names: list[str]) -> None:
        for name in names:
            target = conn.subs.pop(name, None)
            if target is None:
                continue
            kind, key = target
            if kind == "m":
                self._market.get(key, {}).pop(conn, None)
                if not self._market.get(key, True):
                    del self._market[key]
            else:
                self._user.get(key, set()).discard(conn)

    def _forget(self, conn: StreamConnection) -> None:
        conn.closed = True
        self._unsubscribe(conn, list(conn.subs))
        self.connections.discard(conn)

    def _command(self, conn: StreamConnection, text: str) -> None:
        try:
            req = json.loads(text)
        except ValueError as exc:
            conn.offer(_error(3, f"Invalid JSON: {exc}"))
            return
        if not isinstance(req, dict):
            conn.offer(_error(2, "Invalid request: expected a JSON object"))
            return
        req_id = req.get("id")
        method, params = req.get("method"), req.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, str | bool) for p in params):
            conn.offer(_error(1, "Invalid value type: params must be a list of strings", req_id))
            return
        names = [p for p in params if isinstance(p, str)]
        result: Any = None
        if method == "SUBSCRIBE":
            problem = self._subscribe(conn, names)
            if problem:
                conn.offer(_error(2, problem, req_id))
                return
        elif method == "UNSUBSCRIBE":
            self._unsubscribe(conn, names)
        elif method == "LIST_SUBSCRIPTIONS":
            result = list(conn.subs)
        elif method == "SET_PROPERTY" and len(params) == 2 and params[0] == "combined":
            conn.combined = bool(params[1])
        elif method == "GET_PROPERTY" and params == ["combined"]:
            result = conn.combined
        else:
            conn.offer(_error(2, f"Invalid request: unknown method {method!r}, expected one of SUBSCRIBE, "
                                 "UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY", req_id))
            return
        conn.offer(json.dumps({"result": result, "id": req_id}))

    # --- fan-out -----------------------------------------------------------------------------

    def wanted_market(self) -> set[str]:
        """Canonical market streams some connection will receive."""
        return set(self._market)

    def publish_market(self, stream: str, data_json: str) -> None:
        """Send one market payload (already JSON) to its subscribers."""
        for conn, name in list(self._market.get(stream, {}).items()):
            self._deliver(conn, conn.wrap(name, data_json))

    def publish_user(self, key: str, data_json: str, event_type: str = "") -> None:
        """Send one user-data payload (of type `event_type`, its "e") to the sockets that
        subscribed `key` and asked for that type."""
        for conn in list(self._user.get(key, ())):
            if conn.events is None or event_type in conn.events:
                self._deliver(conn, conn.wrap(key, data_json))

    def _deliver(self, conn: StreamConnection, frame: str) -> None:
        if not conn.offer(frame):
            self.slow_disconnects += 1
            self._forget(conn)
            task = asyncio.get_running_loop().create_task(self._close(conn, b"Client too slow"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(conn: StreamConnection, reason: bytes) -> None:
        await conn.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=reason)

    # --- liveness and faults -----------------------------------------------------------------

    async def _send_loop(self, conn: StreamConnection) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                frame = await conn.queue.get()
                if conn.stalled:
                    continue
                await conn.ws.send_str(frame)
                conn.sent += 1

    async def _ping_loop(self, conn: StreamConnection) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                await asyncio.sleep(self._ping_interval_s)
                if conn.stalled:
                    continue
                if time.monotonic() - conn.last_pong > self._pong_timeout_s + self._ping_interval_s:
                    await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Pong timeout")
                    return
                await conn.ws.ping()

    def drop_all(self) -> int:
        """Abnormal close of every socket (the TCP connection is cut, no close frame)."""
        count = 0
        for conn in list(self.connections):
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
                count += 1
            self._forget(conn)
        return count

    def stall_all(self, seconds: float) -> int:
        """Every open socket goes silent (no data, no pings, no pongs) but stays open."""
        conns = [c for c in self.connections if not c.stalled]
        for conn in conns:
            conn.stalled = True
            while not conn.queue.empty():
                conn.queue.get_nowait()
        if seconds > 0:
            asyncio.get_running_loop().call_later(seconds, self._unstall, conns)
        return len(conns)

    @staticmethod
    def _unstall(conns: list[StreamConnection]) -> None:
        for conn in conns:
            conn.stalled = False

    async def close_all(self) -> None:
        """Close every socket cleanly (server shutdown)."""
        conns = list(self.connections)
        for conn in conns:
            self._forget(conn)
        await asyncio.gather(
            *(c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown") for c in conns),
            return_exceptions=True,
        )
