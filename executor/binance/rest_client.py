"""One REST request to Binance through the official SDK, off the loop, signed, rate-limited and
translated into typed errors. The gateway's endpoints (`gateway.py`) are built on it.

- the SDK's synchronous `requests` client runs on a small dedicated thread pool under a timeout,
  so the loop never blocks;
- the SDK's own retries are off (`retries=0`): POST is never retried there anyway, and its
  GET/DELETE retries sleep in the thread; the caller decides what a failure means;
- signed requests carry `timestamp = wall clock + measured server offset` (`TimeSync`); the typed
  SDK methods cannot take a timestamp, so this calls `binance_common.utils.send_request` (what those
  methods call) with the same path, `is_signed=True` and the SDK's response model, passing
  `timestamp` itself. It refuses to sign while the offset is unknown or out of bounds;
- request weight and order counts are reserved before sending (`RateLimiter`, limits from
  exchangeInfo, merged with the venue's X-MBX-USED-WEIGHT / X-MBX-ORDER-COUNT headers); a 429
  blocks further calls for Retry-After; after a 418 no request leaves until the ban ends;
- -1021 resyncs the offset before raising (retryable).

Authentication things (timestamp, bans) follow the WALL clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests
import structlog
from binance_common.configuration import ConfigurationRestAPI
from binance_common.utils import send_request
from binance_sdk_derivatives_trading_usds_futures.rest_api import models as sdk_models

from core.errors import (
    FatalError,
    GatewayError,
    IpBannedError,
    OutcomeUnknownError,
    RateLimitedError,
    RetryableError,
    TimestampRejectedError,
)
from core.instruments import ExchangeInfo
from executor.binance.endpoints import VenueEndpoints
from executor.binance.json_fields import MalformedMessage
from executor.binance.rate_limiter import RateLimiter, request_weight
from executor.binance.rest_errors import map_sdk_error
from executor.binance.time_sync import TimeSync
from utils.clock import Clock, WallClock

__all__ = ["RestClient", "each"]

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")



def _plain(data: Any) -> Any:
    """An SDK response model (or a list of them) back to Binance's JSON field names."""
    if isinstance(data, list):
        return [_plain(item) for item in data]
    to_dict = getattr(data, "to_dict", None)
    if callable(to_dict) and not isinstance(data, dict):
        return to_dict()
    return data


def _objects(data: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise MalformedMessage(f"{what}: expected an array of objects")
    return data


def each(fn: Callable[[Mapping[str, Any]], _T], what: str) -> Callable[[Any], list[_T]]:
    """A decoder for a JSON array of objects, each decoded by `fn`."""
    return lambda data: [fn(item) for item in _objects(data, what)]


class RestClient:
    """Async REST requests to one venue (see the module docstring for what it guarantees).

    `timeout_s` bounds every call (the SDK's socket timeout and the await); `max_time_offset_ms`
    bounds the server-time offset the gateway will sign with; `recv_window_ms` is sent with every
    signed call; `time_refresh_s` is the period of the background offset refresh;
    `rate_limit_max_wait_s` is the longest the limiter waits before raising RateLimitedError.
    """

    def __init__(
        self,
        venue: VenueEndpoints,
        clock: Clock,
        *,
        timeout_s: float = 10.0,
        max_time_offset_ms: int = 30_000,
        recv_window_ms: int = 5_000,
        time_refresh_s: float = 300.0,
        rate_limit_max_wait_s: float = 10.0,
        wall_clock: Clock | None = None,
        max_workers: int = 4,
    ) -> None:
        self.venue = venue
        self._clock = clock
        self._wall: Clock = wall_clock or WallClock()
        self._market_clock_is_wall = isinstance(clock, WallClock)
        self.timeout_s = timeout_s
        self.recv_window_ms = recv_window_ms
        self.time_refresh_s = time_refresh_s
        self.time_sync = TimeSync(self._wall, max_offset_ms=max_time_offset_ms)
        self.limiter = RateLimiter(self._wall, max_wait_s=rate_limit_max_wait_s)
        self.banned_until_ms = 0
        self.requests_sent = 0
        self._config = ConfigurationRestAPI(
            api_key=venue.api_key.get_secret_value() if venue.api_key else None,
            api_secret=venue.api_secret.get_secret_value() if venue.api_secret else None,
            base_path=venue.rest_url,
            timeout=max(1, int(timeout_s * 1000)),
            retries=0,  # the SDK never retries: we decide (and its retries sleep in the thread)
            compression=False,
        )
        self._session = requests.Session()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="gateway-rest")
        self._sync_lock = asyncio.Lock()
        self._refresher: asyncio.Task[None] | None = None
        self._exchange_info: ExchangeInfo | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.venue!r})"

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Measure the server-time offset and start its periodic refresh."""
        await self.sync_time()
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_time(), name="gateway.time_refresh")

    async def close(self) -> None:
        """Stop the refresher and release the threads and sockets."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    async def _refresh_time(self) -> None:
        while True:
            await asyncio.sleep(self.time_refresh_s)
            try:
                await self.sync_time()
            except GatewayError as exc:
                _log.warning("gateway.time_refresh_failed", error=repr(exc))

    # --- the one request path -----------------------------------------------------------------

    def _run_sdk(
        self, method: str, path: str, params: dict[str, Any], signed: bool, model: type[Any] | None
    ) -> tuple[Any, list[Any]]:
        """In a worker thread: one SDK request; returns (parsed data, rate-limit headers)."""
        response = send_request(
            self._session,
            self._config,
            method,
            path,
            payload=params,
            response_model=model,
            is_signed=signed,
        )
        return _plain(response.data()), list(response.rate_limits)

    async def _request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        signed: bool = False,
        idempotent: bool = True,
        model: type[Any] | None = None,
        orders: int = 0,
    ) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        now = self._wall.now_ms()
        if now < self.banned_until_ms:
            raise IpBannedError(
                f"IP banned until {self.banned_until_ms}: no REST call before then",
                until_ms=self.banned_until_ms,
            )
        await self.limiter.acquire(request_weight(method, path, params), orders)
        if signed:
            if not self.venue.has_credentials:
                raise FatalError("no API key/secret configured: set TRADER_API_KEY and TRADER_API_SECRET")
            if self.time_sync.offset_ms is None or self._offset_stale():
                await self.sync_time()
            params["recvWindow"] = self.recv_window_ms
            params["timestamp"] = self.time_sync.signing_timestamp()
        loop = asyncio.get_running_loop()
        call = functools.partial(self._run_sdk, method, path, params, signed, model)
        self.requests_sent += 1
        try:
            async with asyncio.timeout(self.timeout_s + 2.0):
                data, limits = await loop.run_in_executor(self._pool, call)
        except Exception as exc:  # every failure becomes a typed error (CancelledError passes)
            error = map_sdk_error(exc, idempotent=idempotent, now_ms=self._wall.now_ms())
            await self._after_error(error)
            _log.debug("gateway.error", method=method, path=path, error=repr(error))
            raise error from None
        for limit in limits:
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                self.limiter.sync_used(limit.rateLimitType, limit.interval, int(limit.intervalNum),
                                       int(limit.count))
        return data

    def _offset_stale(self) -> bool:
        age = self.time_sync.age_ms()
        return age is None or age > 2 * self.time_refresh_s * 1000

    async def _after_error(self, error: GatewayError) -> None:
        if isinstance(error, IpBannedError):
            self.banned_until_ms = max(self.banned_until_ms, error.until_ms)
            _log.error("gateway.ip_banned", until_ms=error.until_ms, msg=error.msg)
        elif isinstance(error, RateLimitedError):
            self.limiter.block_for(error.retry_after)
            _log.warning("gateway.rate_limited", retry_after=error.retry_after, code=error.code)
        elif isinstance(error, TimestampRejectedError):
            _log.warning("gateway.timestamp_rejected", offset_ms=self.time_sync.offset_ms)
            with contextlib.suppress(GatewayError):
                await self.sync_time(force=True)

    def _decode(self, fn: Callable[[Any], _T], data: Any, *, idempotent: bool = True) -> _T:
        try:
            return fn(data)
        except (MalformedMessage, KeyError, TypeError, ValueError) as exc:
            # The venue answered but not in a form we understand: for a state change the
            # request did happen, so the outcome is unknown; a query can be asked again.
            msg = f"unreadable answer: {exc}"
            raise (RetryableError(msg) if idempotent else OutcomeUnknownError(msg)) from None

    # --- time and reference data --------------------------------------------------------------

    async def sync_time(self, *, force: bool = False) -> int:
        """Measure the server-time offset now (GET /fapi/v1/time); returns the offset in ms."""
        async with self._sync_lock:
            age = self.time_sync.age_ms()
            if not force and age is not None and age < 1000 and self.time_sync.offset_ms is not None:
                return self.time_sync.offset_ms  # measured by a concurrent caller just now
            sent = self._wall.now_ms()
            data = await self._request("GET", "/fapi/v1/time", model=sdk_models.CheckServerTimeResponse)
            received = self._wall.now_ms()
            server_time = self._decode(lambda d: int(d["serverTime"]), data)
            return self.time_sync.record(server_time, sent, received)

    async def server_time(self) -> int:
        """The venue's current time (GET /fapi/v1/time); also refreshes the offset."""
        await self.sync_time(force=True)
        return self.time_sync.server_now_ms()

    # --- status ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Offset, ban and rate-limit usage for the heartbeat (no secrets)."""
        return {
            "time_offset_ms": self.time_sync.offset_ms,
            "time_offset_age_ms": self.time_sync.age_ms(),
            "banned_until_ms": self.banned_until_ms or None,
            "rate_limits": {k: list(v) for k, v in self.limiter.usage().items()},
            "requests_sent": self.requests_sent,
        }
