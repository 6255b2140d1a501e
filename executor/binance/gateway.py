"""The daemon's only REST door to the exchange, on the official SDK (binance-common's `send_request`).

Every call runs the SDK's synchronous `requests` client on a small dedicated thread pool under
a timeout, so the loop never blocks, and raises only `core.errors.GatewayError` subclasses
(`executor.binance.rest_errors`). What the gateway adds to the SDK:

- the SDK's own retries are off (`retries=0`): POST is never retried there anyway, and its
  GET/DELETE retries sleep in the thread; the caller decides what a failure means;
- signed requests carry `timestamp = wall clock + measured server offset` (`TimeSync`); the typed
  SDK methods cannot take a timestamp, so the gateway calls `binance_common.utils.send_request`
  (what those methods call) with the same path, `is_signed=True` and the SDK's response model,
  passing `timestamp` itself. It refuses to sign while the offset is unknown or out of bounds;
- prices and quantities are exact decimal strings (`to_api_string`), never floats, and the
  caller's `newClientOrderId` is always sent;
- request weight and order counts are reserved before sending (`RateLimiter`, limits from
  exchangeInfo, merged with the venue's X-MBX-USED-WEIGHT / X-MBX-ORDER-COUNT headers); a 429
  blocks further calls for Retry-After; after a 418 no request leaves until the ban ends;
- -1021 resyncs the offset before raising (retryable).

Authentication things (timestamp, bans) follow the WALL clock. The `clock` handed in is the
market's: in sim mode the simulator's scaled clock, which decides whether a REST kline is closed.
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

from core.binance_codes import BinanceCode
from core.decimals import to_api_string
from core.errors import (
    FatalError,
    GatewayError,
    IpBannedError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    TimestampRejectedError,
)
from core.events import Candle, OrderRequest, OrderType
from core.instruments import ExchangeInfo, parse_exchange_info
from executor.binance.decoding import (
    MalformedMessage,
    balance_from_rest,
    candle_from_rest,
    income_from_rest,
    order_from_rest,
    position_from_rest,
    trade_from_rest,
)
from executor.binance.endpoints import VenueEndpoints
from executor.binance.rate_limiter import RateLimiter, request_weight
from executor.binance.rest_errors import map_sdk_error
from executor.binance.time_sync import TimeSync
from executor.venue_api import VenueBalance, VenueIncome, VenueOrder, VenuePosition, VenueTrade
from utils.clock import Clock, WallClock

__all__ = ["Gateway"]

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


def _each(fn: Callable[[Mapping[str, Any]], _T], what: str) -> Callable[[Any], list[_T]]:
    """A decoder for a JSON array of objects, each decoded by `fn`."""
    return lambda data: [fn(item) for item in _objects(data, what)]


class Gateway:
    """Async REST access to one venue (see the module docstring for what it guarantees).

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
        return f"Gateway({self.venue!r})"

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Measure the server-time offset, load exchangeInfo (rate limits), start the refresher."""
        await self.sync_time()
        await self.exchange_info()
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

    async def ping(self) -> None:
        """GET /fapi/v1/ping: the venue is reachable."""
        await self._request("GET", "/fapi/v1/ping")

    async def exchange_info(self) -> ExchangeInfo:
        """GET /fapi/v1/exchangeInfo, parsed; its rate limits configure the limiter."""
        data = await self._request("GET", "/fapi/v1/exchangeInfo")  # large: no SDK model pass
        info = self._decode(parse_exchange_info, data)
        if info.rate_limits:
            self.limiter.configure(info.rate_limits)
        self._exchange_info = info
        return info

    def _market_now_ms(self) -> int:
        # Live: the venue's clock via the offset. Sim: the simulator's market clock itself.
        return self.time_sync.server_now_ms() if self._market_clock_is_wall else self._clock.now_ms()

    async def klines(
        self, symbol: str, start_time: int | None = None, end_time: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """GET /fapi/v1/klines (1m); `closed` is True for bars that ended before the venue's now."""
        params = {"symbol": symbol, "interval": "1m", "startTime": start_time, "endTime": end_time,
                  "limit": limit}
        data = await self._request("GET", "/fapi/v1/klines", params)
        now = self._market_now_ms()
        if not isinstance(data, list):
            raise RetryableError("unreadable answer: klines is not an array")
        return [self._decode(lambda row: candle_from_rest(symbol, row, now), row) for row in data]

    # --- orders --------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        """POST /fapi/v1/order with exact decimal strings and the request's client order id.

        OutcomeUnknownError means the order may exist: query it by client id before anything else.
        """
        params: dict[str, Any] = {
            "symbol": request.symbol,
            "side": request.side.value,
            "type": request.order_type.value,
            "quantity": to_api_string(request.quantity),
            "newClientOrderId": request.client_order_id,
            "newOrderRespType": "RESULT",
        }
        if request.order_type is OrderType.LIMIT:
            if request.price is None:
                raise RejectedError(f"{request.client_order_id}: a LIMIT order needs a price")
            params["price"] = to_api_string(request.price)
            params["timeInForce"] = (request.time_in_force.value if request.time_in_force else "GTC")
        if request.reduce_only:
            params["reduceOnly"] = "true"
        data = await self._request(
            "POST", "/fapi/v1/order", params, signed=True, idempotent=False,
            model=sdk_models.NewOrderResponse, orders=1,
        )
        return self._decode(order_from_rest, data, idempotent=False)

    async def query_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """GET /fapi/v1/order by client id; None when the venue never saw it (-2013)."""
        try:
            data = await self._request(
                "GET", "/fapi/v1/order", {"symbol": symbol, "origClientOrderId": client_order_id},
                signed=True, model=sdk_models.QueryOrderResponse,
            )
        except RejectedError as exc:
            if exc.code == BinanceCode.NO_SUCH_ORDER:
                return None
            raise
        return self._decode(order_from_rest, data)

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        """DELETE /fapi/v1/order by client id (-2011 unknown/closed order → RejectedError)."""
        data = await self._request(
            "DELETE", "/fapi/v1/order", {"symbol": symbol, "origClientOrderId": client_order_id},
            signed=True, idempotent=False, model=sdk_models.CancelOrderResponse,
        )
        return self._decode(order_from_rest, data, idempotent=False)

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """GET /fapi/v1/openOrders (all symbols when `symbol` is None: weight 40)."""
        data = await self._request(
            "GET", "/fapi/v1/openOrders", {"symbol": symbol}, signed=True,
            model=sdk_models.CurrentAllOpenOrdersResponse,
        )
        return self._decode(_each(order_from_rest, "openOrders"), data)

    async def user_trades(
        self, symbol: str, start_time: int | None = None, from_id: int | None = None, limit: int = 1000
    ) -> list[VenueTrade]:
        """GET /fapi/v1/userTrades from `start_time` or trade id `from_id`."""
        params = {"symbol": symbol, "startTime": start_time, "fromId": from_id, "limit": limit}
        data = await self._request(
            "GET", "/fapi/v1/userTrades", params, signed=True, model=sdk_models.AccountTradeListResponse,
        )
        return self._decode(_each(trade_from_rest, "userTrades"), data)

    # --- account -------------------------------------------------------------------------------

    async def positions(self) -> list[VenuePosition]:
        """GET /fapi/v3/positionRisk: open positions (one-way mode, signed quantities)."""
        data = await self._request(
            "GET", "/fapi/v3/positionRisk", signed=True, model=sdk_models.PositionInformationV3Response,
        )
        return self._decode(_each(position_from_rest, "positionRisk"), data)

    async def balances(self) -> list[VenueBalance]:
        """GET /fapi/v3/balance: the futures wallet per asset."""
        data = await self._request(
            "GET", "/fapi/v3/balance", signed=True, model=sdk_models.FuturesAccountBalanceV3Response,
        )
        return self._decode(_each(balance_from_rest, "balance"), data)

    async def income(
        self, income_type: str, start_time: int, end_time: int, symbol: str | None = None
    ) -> list[VenueIncome]:
        """GET /fapi/v1/income of one type (e.g. FUNDING_FEE) on [start_time, end_time], oldest first."""
        params = {
            "symbol": symbol, "incomeType": income_type, "startTime": start_time, "endTime": end_time,
            "limit": 1000,
        }
        data = await self._request(
            "GET", "/fapi/v1/income", params, signed=True, model=sdk_models.GetIncomeHistoryResponse,
        )
        return self._decode(_each(income_from_rest, "income"), data)

    async def dual_side_position(self) -> bool:
        """GET /fapi/v1/positionSide/dual: True in hedge mode (the daemon needs one-way: False)."""
        data = await self._request(
            "GET", "/fapi/v1/positionSide/dual", signed=True,
            model=sdk_models.GetCurrentPositionModeResponse,
        )

        def read(d: Any) -> bool:
            value = d["dualSidePosition"]
            if not isinstance(value, bool):
                raise MalformedMessage("dualSidePosition: expected a boolean")
            return value

        return self._decode(read, data)

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """POST /fapi/v1/leverage (setting the same value twice is harmless: idempotent)."""
        await self._request(
            "POST", "/fapi/v1/leverage", {"symbol": symbol, "leverage": int(leverage)}, signed=True,
            model=sdk_models.ChangeInitialLeverageResponse,
        )

    # --- user-data stream keys ------------------------------------------------------------------

    async def new_listen_key(self) -> str:
        """POST /fapi/v1/listenKey: the account's key (the live one if it still exists)."""
        data = await self._request("POST", "/fapi/v1/listenKey", model=sdk_models.StartUserDataStreamResponse)
        return self._decode(lambda d: str(d["listenKey"]), data)

    async def keepalive_listen_key(self) -> None:
        """PUT /fapi/v1/listenKey: extend the key by 60 minutes (-1125: it no longer exists)."""
        await self._request("PUT", "/fapi/v1/listenKey", model=sdk_models.KeepaliveUserDataStreamResponse)

    async def close_listen_key(self) -> None:
        """DELETE /fapi/v1/listenKey."""
        await self._request("DELETE", "/fapi/v1/listenKey")

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
