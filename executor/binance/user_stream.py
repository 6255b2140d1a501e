"""The user-data stream: listenKey lifecycle on a supervised `/private/stream` socket.

Binance's user data arrives on the combined-stream socket with the listenKey itself subscribed as
the stream name (as the official SDK's `user_data(listenKey)` does). A key lives 60 minutes and
is extended by PUT; when it expires (`listenKeyExpired` event, or -1125 from the keep-alive) the
socket stays open but silent. So:

- keep-alive PUT every `keepalive_s` (30 minutes);
- on -1125, `listenKeyExpired` or a reconnect: POST a (new) key, subscribe it, then
  `sink(UserStreamReset(reason, ...))`: events may have been lost and the owner reconciles
  over REST. The reset is sent after the new subscription is in place, so nothing that happens
  after the reconciliation's REST reads can be missed;
- the socket's liveness is probed with LIST_SUBSCRIPTIONS after `probe_s` of quiet, and it is
  declared dead after `watchdog_s` without any frame (a quiet account is normal, a socket that
  no longer answers is not).

No reset is sent for the first connection: the owner reconciles at start-up anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from core.binance_codes import BinanceCode
from core.errors import GatewayError, RejectedError
from core.events import AccountUpdate, ExecutionReport, UserStreamReset
from executor.binance.connection import ConnectionStatus, RateLimitedLog, SupervisedConnection
from executor.binance.endpoints import stream_path_url
from executor.binance.stream_decoding import ListenKeyExpired, decode_user_payload
from utils.clock import Clock

__all__ = ["ListenKeySource", "UserDataStream"]

_log = structlog.get_logger(__name__)



class ListenKeySource(Protocol):
    """The part of the gateway the user stream needs."""

    async def new_listen_key(self) -> str: ...
    async def keepalive_listen_key(self) -> None: ...
    async def close_listen_key(self) -> None: ...


UserEvent = ExecutionReport | AccountUpdate | UserStreamReset


class UserDataStream:
    """The account's user-data stream (see the module docstring); `sink(event)` receives
    ExecutionReport, AccountUpdate and UserStreamReset."""

    def __init__(
        self,
        gateway: ListenKeySource,
        stream_url: str,
        clock: Clock,
        sink: Callable[[UserEvent], None],
        *,
        keepalive_s: float = 1800.0,
        retry_s: float = 5.0,
        watchdog_s: float = 30.0,
        probe_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        log_every_s: float = 10.0,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self._sink = sink
        self.keepalive_s = keepalive_s
        self.retry_s = retry_s
        self.listen_key: str | None = None
        self._key_since: float | None = None  # monotonic time the key was created or last kept alive
        self.resets = 0
        self.renewals = 0
        self.sink_failures = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keepalive_task: asyncio.Task[None] | None = None
        self._sink_log = RateLimitedLog(log_every_s)
        self._conn = SupervisedConnection(
            "user", stream_path_url(stream_url, "private"), self._handle,
            watchdog_s=watchdog_s, liveness="any", probe_s=probe_s,
            backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s,
            prepare=self._prepare, on_connected=self._connected, log_every_s=log_every_s,
        )

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self, *, wait_s: float = 10.0) -> None:
        """Get a listenKey, connect and subscribe (waits up to `wait_s` for the first subscribe)."""
        self._conn.start()
        self._keepalive_task = asyncio.create_task(self._keepalive_loop(), name="user_stream.keepalive")
        await self._conn.wait_connected(wait_s)

    async def stop(self) -> None:
        """Close the socket and release the listenKey."""
        for task in [self._keepalive_task, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._keepalive_task, *self._tasks] if t is not None),
                             return_exceptions=True)
        self._keepalive_task = None
        await self._conn.stop()
        if self.listen_key is not None:
            with contextlib.suppress(GatewayError):
                await self._gateway.close_listen_key()
            self.listen_key = None

    def status(self) -> list[ConnectionStatus]:
        """The socket's state for the heartbeat."""
        return [self._conn.status()]

    def listen_key_age_s(self) -> float | None:
        """Seconds since the listenKey was created or last kept alive (None without a key)."""
        if self.listen_key is None or self._key_since is None:
            return None
        return round(time.monotonic() - self._key_since, 1)

    @property
    def connection(self) -> SupervisedConnection:
        """The supervised socket (for tests and the doctor)."""
        return self._conn

    # --- key lifecycle ------------------------------------------------------------------------------

    async def _prepare(self, is_reconnect: bool) -> None:
        # Before every (re)connect: the key may have expired while the socket was down.
        key = await self._gateway.new_listen_key()
        if key != self.listen_key:
            if self.listen_key is not None:
                self.renewals += 1
            self._conn.streams = {key}
            self.listen_key = key
        self._key_since = time.monotonic()

    def _connected(self, is_reconnect: bool) -> None:
        if is_reconnect:
            self._reset("reconnect")

    async def renew(self, reason: str, expired_key: str | None = None) -> None:
        """Replace the listenKey (retrying until the venue gives one), resubscribe, then reset."""
        async with self._lock:
            if expired_key is not None and expired_key != self.listen_key:
                return  # already replaced (the event and a -1125 can both report it)
            while True:
                try:
                    key = await self._gateway.new_listen_key()
                    break
                except GatewayError as exc:
                    _log.warning("user_stream.renew_failed", error=repr(exc), retry_in_s=self.retry_s)
                    await asyncio.sleep(self.retry_s)
            old = self.listen_key
            self.listen_key = key
            self._key_since = time.monotonic()
            self.renewals += 1
            if old is not None and old != key:
                await self._conn.unsubscribe([old])
            await self._conn.subscribe([key])
            await self._conn.flush()  # subscribed before the owner reconciles: nothing falls between
            _log.info("user_stream.renewed", reason=reason)
            self._reset(reason)

    async def _keepalive_loop(self) -> None:
        delay = self.keepalive_s
        while True:
            await asyncio.sleep(delay)
            delay = self.keepalive_s
            if self.listen_key is None:
                continue
            try:
                await self._gateway.keepalive_listen_key()
                self._key_since = time.monotonic()
            except RejectedError as exc:
                if exc.code == BinanceCode.LISTEN_KEY_MISSING:
                    await self.renew("listenKey -1125", self.listen_key)
                else:
                    _log.error("user_stream.keepalive_refused", error=repr(exc))
                    delay = self.retry_s
            except GatewayError as exc:
                _log.warning("user_stream.keepalive_failed", error=repr(exc))
                delay = self.retry_s

    def _reset(self, reason: str) -> None:
        self.resets += 1
        self._deliver(UserStreamReset(reason=reason, event_time=self._clock.now_ms()))

    # --- frames -------------------------------------------------------------------------------------

    def _handle(self, frame: dict[str, Any]) -> None:
        event = decode_user_payload(frame["data"])
        if event is None:
            return
        if type(event) is ListenKeyExpired:
            task = asyncio.create_task(self.renew("listenKeyExpired", event.listen_key or self.listen_key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        assert not isinstance(event, ListenKeyExpired)
        self._deliver(event)

    def _deliver(self, event: UserEvent) -> None:
        try:
            self._sink(event)
        except Exception as exc:
            self.sink_failures += 1
            self._sink_log.warning("user_stream.sink_failed", error=repr(exc)[:200], total=self.sink_failures)
