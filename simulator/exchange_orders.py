"""SimulatedExchange's signed order endpoints: place, query, cancel and list orders and trades."""

from __future__ import annotations

from decimal import Decimal

from simulator import wire_orders
from simulator.engine_types import Order
from simulator.errors import SimError
from simulator.exchange_core import ExchangeCore, Json
from simulator.order_rules import parse_new_order
from simulator.request_params import Params, int_param, opt_int


class OrderEndpoints(ExchangeCore):
    """POST/GET/DELETE /fapi/v1/order, openOrders, allOrders and userTrades."""

    def new_order(self, params: Params, now_ms: int) -> Json:
        """POST /fapi/v1/order (newOrderRespType ACK by default: the order as accepted)."""
        symbol = self._symbol(params)
        request = parse_new_order(params, self.engine.instrument(symbol))
        placed = self.engine.place_order(request, now_ms)
        self._drain(self._queued)
        if params.get("newOrderRespType", "ACK") == "RESULT":
            return wire_orders.new_order_ack(placed)
        accepted = Order(
            **{
                **{f: getattr(placed, f) for f in placed.__dataclass_fields__},
                "status": "NEW",
                "executed_qty": Decimal(0),
                "cum_quote": Decimal(0),
                "avg_price": Decimal(0),
                "update_time": placed.time,
            }
        )
        return wire_orders.new_order_ack(accepted)

    def _order_ref(self, params: Params) -> tuple[str, int | None, str | None]:
        symbol = self._symbol(params)
        order_id = opt_int(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise SimError(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        return symbol, order_id, client_id

    def query_order(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v1/order (orderId or origClientOrderId); -2013 when unknown."""
        symbol, order_id, client_id = self._order_ref(params)
        self._sync(now_ms)
        body = wire_orders.order(self.engine.get_order(symbol, order_id, client_id))
        del body["cumQty"]
        return body

    def cancel_order(self, params: Params, now_ms: int) -> Json:
        """DELETE /fapi/v1/order (orderId or origClientOrderId); -2011 when unknown or not open."""
        symbol, order_id, client_id = self._order_ref(params)
        canceled = self.engine.cancel_order(symbol, now_ms, order_id, client_id)
        self._drain(self._queued)
        return wire_orders.new_order_ack(canceled)

    def open_orders(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/openOrders (symbol optional)."""
        symbol = self._symbol(params) if "symbol" in params else None
        self._sync(now_ms)
        return [_without_cum_qty(wire_orders.order(o)) for o in self.engine.open_orders(symbol)]

    def all_orders(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/allOrders (orderId = from this id, startTime/endTime, limit ≤ 1000)."""
        symbol = self._symbol(params)
        self._sync(now_ms)
        from_id, start, end = (
            opt_int(params, "orderId"),
            opt_int(params, "startTime"),
            opt_int(params, "endTime"),
        )
        orders = [
            o
            for o in self.engine.orders(symbol)
            if (from_id is None or o.order_id >= from_id)
            and (start is None or o.time >= start)
            and (end is None or o.time <= end)
        ]
        limit = min(int_param(params, "limit", 500), 1000)
        chosen = orders[:limit] if from_id is not None else orders[-limit:]
        return [_without_cum_qty(wire_orders.order(o)) for o in chosen]

    def user_trades(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/userTrades (fromId, startTime/endTime, limit ≤ 1000)."""
        symbol = self._symbol(params)
        self._sync(now_ms)
        from_id, start, end = (
            opt_int(params, "fromId"),
            opt_int(params, "startTime"),
            opt_int(params, "endTime"),
        )
        trades = [
            t
            for t in self.engine.trades(symbol)
            if (from_id is None or t.trade_id >= from_id)
            and (start is None or t.time >= start)
            and (end is None or t.time <= end)
        ]
        limit = min(int_param(params, "limit", 500), 1000)
        chosen = trades[:limit] if from_id is not None else trades[-limit:]
        return [wire_orders.user_trade(t) for t in chosen]


def _without_cum_qty(body: Json) -> Json:
    del body["cumQty"]
    return body
