"""The daemon's only REST door to the exchange: one method per Binance endpoint, on the official SDK.

Each call goes through `RestClient._request` (`rest_client.py`: thread pool, timeout, signing with
the measured server offset, rate limits, typed errors) and decodes the answer into the plain
records of `executor/venue_api.py`. Prices and quantities are sent as exact decimal strings
(`to_api_string`), never floats, and the caller's `newClientOrderId` is always sent.

The `clock` handed in is the market's: in sim mode the simulator's scaled clock, which decides
whether a REST kline is closed.
"""

from __future__ import annotations

from typing import Any

from binance_sdk_derivatives_trading_usds_futures.rest_api import models as sdk_models

from core.binance_codes import BinanceCode
from core.decimals import to_api_string
from core.errors import RejectedError, RetryableError
from core.events import Candle, OrderRequest, OrderType
from core.instruments import ExchangeInfo, parse_exchange_info
from executor.binance.json_fields import MalformedMessage
from executor.binance.rest_client import RestClient, each
from executor.binance.rest_decoding import (
    balance_from_rest,
    candle_from_rest,
    income_from_rest,
    order_from_rest,
    position_from_rest,
    trade_from_rest,
)
from executor.venue_api import VenueBalance, VenueIncome, VenueOrder, VenuePosition, VenueTrade

__all__ = ["Gateway"]


class Gateway(RestClient):
    """The daemon's REST door to one venue: one method per endpoint, typed results (`venue_api`).

    Construction, timeouts, signing, rate limits and errors: `RestClient`.
    """

    async def start(self) -> None:
        """Measure the server-time offset, load exchangeInfo (its rate limits configure the
        limiter), start the offset refresher."""
        await super().start()
        await self.exchange_info()

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

    def market_now_ms(self) -> int:
        """The market's now as this gateway believes it: live, the venue's clock via the measured
        offset; sim, the simulator's market clock itself."""
        return self.time_sync.server_now_ms() if self._market_clock_is_wall else self._clock.now_ms()

    async def klines(
        self, symbol: str, start_time: int | None = None, end_time: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """GET /fapi/v1/klines (1m); `closed` is True for bars that ended before the venue's now."""
        params = {"symbol": symbol, "interval": "1m", "startTime": start_time, "endTime": end_time,
                  "limit": limit}
        data = await self._request("GET", "/fapi/v1/klines", params)
        now = self.market_now_ms()
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
        return self._decode(each(order_from_rest, "openOrders"), data)

    async def user_trades(
        self, symbol: str, start_time: int | None = None, from_id: int | None = None, limit: int = 1000
    ) -> list[VenueTrade]:
        """GET /fapi/v1/userTrades from `start_time` or trade id `from_id`."""
        params = {"symbol": symbol, "startTime": start_time, "fromId": from_id, "limit": limit}
        data = await self._request(
            "GET", "/fapi/v1/userTrades", params, signed=True, model=sdk_models.AccountTradeListResponse,
        )
        return self._decode(each(trade_from_rest, "userTrades"), data)

    # --- account -------------------------------------------------------------------------------

    async def positions(self) -> list[VenuePosition]:
        """GET /fapi/v3/positionRisk: open positions (one-way mode, signed quantities)."""
        data = await self._request(
            "GET", "/fapi/v3/positionRisk", signed=True, model=sdk_models.PositionInformationV3Response,
        )
        return self._decode(each(position_from_rest, "positionRisk"), data)

    async def balances(self) -> list[VenueBalance]:
        """GET /fapi/v3/balance: the futures wallet per asset."""
        data = await self._request(
            "GET", "/fapi/v3/balance", signed=True, model=sdk_models.FuturesAccountBalanceV3Response,
        )
        return self._decode(each(balance_from_rest, "balance"), data)

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
        return self._decode(each(income_from_rest, "income"), data)

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

