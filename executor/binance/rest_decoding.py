"""Decode Binance's REST answers into the plain records of `executor/venue_api.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.events import Candle
from executor.binance.json_fields import (
    SIDES,
    STATUSES,
    MalformedMessage,
    bool_field,
    decimal_field,
    int_field,
    member,
    str_field,
)
from executor.venue_api import VenueBalance, VenueIncome, VenueOrder, VenuePosition, VenueTrade

# --- REST answers ---------------------------------------------------------------------------------


def order_from_rest(d: Mapping[str, Any]) -> VenueOrder:
    """An order object (POST/GET/DELETE /fapi/v1/order, openOrders) as a VenueOrder."""
    g = member
    side = SIDES.get(g(d, "side", "order"))
    status = STATUSES.get(g(d, "status", "order"))
    if side is None or status is None:
        raise MalformedMessage(f"order: unknown side/status {d.get('side')!r}/{d.get('status')!r}")
    return VenueOrder(
        symbol=str_field(g(d, "symbol", "order"), "symbol"),
        client_order_id=str_field(g(d, "clientOrderId", "order"), "clientOrderId"),
        order_id=int_field(g(d, "orderId", "order"), "orderId"),
        side=side,
        order_type=str_field(g(d, "type", "order"), "type"),
        time_in_force=str_field(d.get("timeInForce", "GTC"), "timeInForce"),
        status=status,
        orig_qty=decimal_field(g(d, "origQty", "order"), "origQty"),
        price=decimal_field(g(d, "price", "order"), "price"),
        avg_price=decimal_field(d.get("avgPrice", "0"), "avgPrice"),
        executed_qty=decimal_field(g(d, "executedQty", "order"), "executedQty"),
        cum_quote=decimal_field(d.get("cumQuote", "0"), "cumQuote"),
        reduce_only=bool_field(d.get("reduceOnly", False), "reduceOnly"),
        update_time=int_field(g(d, "updateTime", "order"), "updateTime"),
    )


def trade_from_rest(d: Mapping[str, Any]) -> VenueTrade:
    """One element of GET /fapi/v1/userTrades as a VenueTrade."""
    g = member
    side = SIDES.get(g(d, "side", "trade"))
    if side is None:
        raise MalformedMessage(f"trade.side: unknown side {d.get('side')!r}")
    return VenueTrade(
        symbol=str_field(g(d, "symbol", "trade"), "symbol"),
        trade_id=int_field(g(d, "id", "trade"), "id"),
        order_id=int_field(g(d, "orderId", "trade"), "orderId"),
        side=side,
        price=decimal_field(g(d, "price", "trade"), "price"),
        quantity=decimal_field(g(d, "qty", "trade"), "qty"),
        quote_qty=decimal_field(g(d, "quoteQty", "trade"), "quoteQty"),
        commission=decimal_field(g(d, "commission", "trade"), "commission"),
        commission_asset=str_field(g(d, "commissionAsset", "trade"), "commissionAsset"),
        realized_pnl=decimal_field(g(d, "realizedPnl", "trade"), "realizedPnl"),
        is_maker=bool_field(g(d, "maker", "trade"), "maker"),
        time=int_field(g(d, "time", "trade"), "time"),
    )


def position_from_rest(d: Mapping[str, Any]) -> VenuePosition:
    """One element of GET /fapi/v3/positionRisk (v3 has no leverage field: None)."""
    g = member
    leverage = d.get("leverage")
    return VenuePosition(
        symbol=str_field(g(d, "symbol", "position"), "symbol"),
        quantity=decimal_field(g(d, "positionAmt", "position"), "positionAmt"),
        entry_price=decimal_field(g(d, "entryPrice", "position"), "entryPrice"),
        mark_price=decimal_field(g(d, "markPrice", "position"), "markPrice"),
        unrealized_pnl=decimal_field(g(d, "unRealizedProfit", "position"), "unRealizedProfit"),
        notional=decimal_field(d.get("notional", "0"), "notional"),
        leverage=int(leverage) if isinstance(leverage, (int, str)) and str(leverage).isdigit() else None,
        update_time=int_field(d.get("updateTime", 0), "updateTime"),
    )


def balance_from_rest(d: Mapping[str, Any]) -> VenueBalance:
    """One element of GET /fapi/v3/balance as a VenueBalance."""
    g = member
    return VenueBalance(
        asset=str_field(g(d, "asset", "balance"), "asset"),
        wallet_balance=decimal_field(g(d, "balance", "balance"), "balance"),
        available_balance=decimal_field(g(d, "availableBalance", "balance"), "availableBalance"),
        unrealized_pnl=decimal_field(d.get("crossUnPnl", "0"), "crossUnPnl"),
        update_time=int_field(d.get("updateTime", 0), "updateTime"),
    )


def income_from_rest(d: Mapping[str, Any]) -> VenueIncome:
    """One element of GET /fapi/v1/income as a VenueIncome."""
    g = member
    symbol = g(d, "symbol", "income")
    if type(symbol) is not str:  # "" for account-wide entries such as transfers
        raise MalformedMessage(f"income.symbol: expected a string, got {type(symbol).__name__}")
    return VenueIncome(
        symbol=symbol,
        income_type=str_field(g(d, "incomeType", "income"), "incomeType"),
        amount=decimal_field(g(d, "income", "income"), "income"),
        asset=str_field(g(d, "asset", "income"), "asset"),
        time=int_field(g(d, "time", "income"), "time"),
        tran_id=int_field(g(d, "tranId", "income"), "tranId"),
    )


def candle_from_rest(symbol: str, row: Sequence[Any], server_now_ms: int) -> Candle:
    """One row of GET /fapi/v1/klines; closed when its close time is before the server's now."""
    if type(row) is not list or len(row) < 9:
        raise MalformedMessage("kline row: expected an array of at least 9 items")
    close_time = int_field(row[6], "closeTime")
    return Candle(
        symbol=symbol,
        open_time=int_field(row[0], "openTime"),
        close_time=close_time,
        open=decimal_field(row[1], "open"),
        high=decimal_field(row[2], "high"),
        low=decimal_field(row[3], "low"),
        close=decimal_field(row[4], "close"),
        volume=decimal_field(row[5], "volume"),
        quote_volume=decimal_field(row[7], "quoteVolume"),
        trades=int_field(row[8], "trades"),
        closed=close_time < server_now_ms,
        event_time=server_now_ms,
    )
