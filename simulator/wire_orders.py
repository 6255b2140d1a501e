"""Binance JSON of orders, trades and income as the REST endpoints return them."""

from __future__ import annotations

from simulator.engine_types import Income, Order, Trade
from simulator.wire_values import Json, num, usdt


def order(o: Order) -> Json:
    """An order as GET/DELETE /fapi/v1/order, openOrders and allOrders return it."""
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": num(o.price),
        "avgPrice": num(o.avg_price),
        "origQty": num(o.orig_qty),
        "executedQty": num(o.executed_qty),
        "cumQty": num(o.executed_qty),
        "cumQuote": num(o.cum_quote),
        "timeInForce": o.time_in_force,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": False,
        "side": o.side.value,
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": o.type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": o.time,
        "updateTime": o.update_time,
    }


def new_order_ack(o: Order) -> Json:
    """POST /fapi/v1/order with the default ACK response: the order as accepted (status NEW)."""
    body = order(o)
    del body["time"]
    return body


def user_trade(t: Trade) -> Json:
    """One element of GET /fapi/v1/userTrades."""
    return {
        "buyer": t.side.value == "BUY",
        "commission": usdt(t.commission),
        "commissionAsset": t.commission_asset,
        "id": t.trade_id,
        "maker": t.maker,
        "orderId": t.order_id,
        "price": num(t.price),
        "qty": num(t.qty),
        "quoteQty": num(t.quote_qty),
        "realizedPnl": usdt(t.realized_pnl),
        "side": t.side.value,
        "positionSide": "BOTH",
        "symbol": t.symbol,
        "time": t.time,
    }


def income(i: Income) -> Json:
    """One element of GET /fapi/v1/income."""
    return {
        "symbol": i.symbol,
        "incomeType": i.income_type,
        "income": usdt(i.income),
        "asset": i.asset,
        "info": i.info or i.income_type,
        "time": i.time,
        "tranId": i.tran_id,
        "tradeId": i.trade_id,
    }
