"""Decode what Binance sends into the project's types: stream payloads into `core.events`,
REST answers into `executor.venue_api`.

Strict by design: every field the event needs must be present with the JSON type Binance uses
(decimals are strings, times and ids integers, flags booleans); anything else raises
`MalformedMessage`, which the stream supervisors count, log (rate-limited) and skip. The one
documented exception: `listenKeyExpired.E` has been seen as a string, so it is accepted as either.

The stream decoders are on the hot path (2,500 messages/s for 500 symbols): one dict lookup per
field, no intermediate objects, the Decimal built straight from the wire string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.events import (
    AccountUpdate,
    BalanceChange,
    Candle,
    ExecutionReport,
    ExecutionType,
    MarkPrice,
    PositionChange,
    Side,
    VenueOrderStatus,
)
from executor.venue_api import VenueBalance, VenueIncome, VenueOrder, VenuePosition, VenueTrade

__all__ = [
    "ListenKeyExpired",
    "MalformedMessage",
    "balance_from_rest",
    "candle_from_rest",
    "decode_account_update",
    "decode_kline",
    "decode_mark_price",
    "decode_market_payload",
    "decode_order_update",
    "decode_user_payload",
    "income_from_rest",
    "order_from_rest",
    "position_from_rest",
    "trade_from_rest",
]


class MalformedMessage(ValueError):
    """A message that does not have the fields and types Binance documents."""


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    """The venue's `listenKeyExpired` event: the user stream is silent until a new key is subscribed."""

    listen_key: str
    event_time: int


_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_STATUSES = {s.value: s for s in VenueOrderStatus}
_EXEC_TYPES = {x.value: x for x in ExecutionType}


def _dec(value: Any, name: str) -> Decimal:
    if type(value) is not str:
        raise MalformedMessage(f"{name}: expected a decimal string, got {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise MalformedMessage(f"{name}: not a decimal: {value[:32]!r}") from None
    if not result.is_finite():
        raise MalformedMessage(f"{name}: not a finite decimal: {value[:32]!r}")
    return result


def _int(value: Any, name: str) -> int:
    if type(value) is not int:
        raise MalformedMessage(f"{name}: expected an integer, got {type(value).__name__}")
    return value


def _str(value: Any, name: str) -> str:
    if type(value) is not str or not value:
        raise MalformedMessage(f"{name}: expected a non-empty string, got {type(value).__name__}")
    return value


def _bool(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise MalformedMessage(f"{name}: expected a boolean, got {type(value).__name__}")
    return value


def _obj(value: Any, name: str) -> Mapping[str, Any]:
    if type(value) is not dict:
        raise MalformedMessage(f"{name}: expected an object, got {type(value).__name__}")
    return value


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    try:
        return obj[key]
    except KeyError:
        raise MalformedMessage(f"{where}.{key}: missing") from None


# --- market streams ------------------------------------------------------------------------------


def decode_kline(data: Mapping[str, Any]) -> Candle:
    """A `kline` stream payload (`{"e":"kline","E":...,"s":...,"k":{...}}`) as a Candle."""
    # Fast path for the well-formed message (every live kline): the same checks as the strict
    # path below, inlined (2.8 -> 2.4 µs per kline payload, median of runs); anything it does not
    # accept goes through the strict path, which names the bad field.
    try:
        k = data["k"]
        if type(k) is dict:
            s, t, close_t, n, x, e = k["s"], k["t"], k["T"], k["n"], k["x"], data["E"]
            o, h, lo, c, v, q = k["o"], k["h"], k["l"], k["c"], k["v"], k["q"]
            if (
                type(s) is str and s and type(t) is int and type(close_t) is int and type(n) is int
                and type(x) is bool and type(e) is int and type(o) is str and type(h) is str
                and type(lo) is str and type(c) is str and type(v) is str and type(q) is str
            ):
                do, dh, dl = Decimal(o), Decimal(h), Decimal(lo)
                dc, dv, dq = Decimal(c), Decimal(v), Decimal(q)
                if (
                    do.is_finite() and dh.is_finite() and dl.is_finite() and dc.is_finite()
                    and dv.is_finite() and dq.is_finite()
                ):
                    return Candle(
                        symbol=s, open_time=t, close_time=close_t, open=do, high=dh, low=dl, close=dc,
                        volume=dv, quote_volume=dq, trades=n, closed=x, event_time=e,
                    )
    except (KeyError, TypeError, InvalidOperation):
        pass
    return _decode_kline_strict(data)


def _decode_kline_strict(data: Mapping[str, Any]) -> Candle:
    g = _field
    k = _obj(g(data, "k", "kline"), "kline.k")
    return Candle(
        symbol=_str(g(k, "s", "k"), "k.s"),
        open_time=_int(g(k, "t", "k"), "k.t"),
        close_time=_int(g(k, "T", "k"), "k.T"),
        open=_dec(g(k, "o", "k"), "k.o"),
        high=_dec(g(k, "h", "k"), "k.h"),
        low=_dec(g(k, "l", "k"), "k.l"),
        close=_dec(g(k, "c", "k"), "k.c"),
        volume=_dec(g(k, "v", "k"), "k.v"),
        quote_volume=_dec(g(k, "q", "k"), "k.q"),
        trades=_int(g(k, "n", "k"), "k.n"),
        closed=_bool(g(k, "x", "k"), "k.x"),
        event_time=_int(g(data, "E", "kline"), "E"),
    )


def decode_mark_price(data: Mapping[str, Any]) -> MarkPrice:
    """A `markPriceUpdate` payload as a MarkPrice (`T` is the symbol's next funding time)."""
    g = _field
    return MarkPrice(
        symbol=_str(g(data, "s", "markPriceUpdate"), "s"),
        mark_price=_dec(g(data, "p", "markPriceUpdate"), "p"),
        index_price=_dec(g(data, "i", "markPriceUpdate"), "i"),
        funding_rate=_dec(g(data, "r", "markPriceUpdate"), "r"),
        next_funding_time=_int(g(data, "T", "markPriceUpdate"), "T"),
        event_time=_int(g(data, "E", "markPriceUpdate"), "E"),
    )


def decode_market_payload(data: Any) -> Candle | MarkPrice:
    """Dispatch a market-stream payload on its `e` field."""
    if type(data) is not dict:
        raise MalformedMessage(f"payload: expected an object, got {type(data).__name__}")
    event = data.get("e")
    if event == "kline":
        return decode_kline(data)
    if event == "markPriceUpdate":
        return decode_mark_price(data)
    raise MalformedMessage(f"e: unexpected market event {str(event)[:32]!r}")


# --- user data stream ----------------------------------------------------------------------------


def decode_order_update(data: Mapping[str, Any]) -> ExecutionReport:
    """An ORDER_TRADE_UPDATE payload as an ExecutionReport."""
    g = _field
    o = _obj(g(data, "o", "ORDER_TRADE_UPDATE"), "o")
    side = _SIDES.get(g(o, "S", "o"))
    if side is None:
        raise MalformedMessage(f"o.S: unknown side {str(o['S'])[:16]!r}")
    status = _STATUSES.get(g(o, "X", "o"))
    if status is None:
        raise MalformedMessage(f"o.X: unknown order status {str(o['X'])[:32]!r}")
    execution = _EXEC_TYPES.get(g(o, "x", "o"))
    if execution is None:
        raise MalformedMessage(f"o.x: unknown execution type {str(o['x'])[:32]!r}")
    trade_id = _int(g(o, "t", "o"), "o.t")
    return ExecutionReport(
        symbol=_str(g(o, "s", "o"), "o.s"),
        client_order_id=_str(g(o, "c", "o"), "o.c"),
        order_id=_int(g(o, "i", "o"), "o.i"),
        side=side,
        order_type=_str(g(o, "o", "o"), "o.o"),
        time_in_force=_str(g(o, "f", "o"), "o.f"),
        orig_qty=_dec(g(o, "q", "o"), "o.q"),
        price=_dec(g(o, "p", "o"), "o.p"),
        avg_price=_dec(g(o, "ap", "o"), "o.ap"),
        status=status,
        execution_type=execution,
        cum_filled_qty=_dec(g(o, "z", "o"), "o.z"),
        last_filled_qty=_dec(g(o, "l", "o"), "o.l"),
        last_filled_price=_dec(g(o, "L", "o"), "o.L"),
        # Binance omits the commission fields until there is a fill.
        commission=_dec(o["n"], "o.n") if "n" in o else Decimal(0),
        commission_asset=_str(o["N"], "o.N") if "N" in o else "",
        trade_id=trade_id if execution is ExecutionType.TRADE else None,
        realized_pnl=_dec(g(o, "rp", "o"), "o.rp"),
        reduce_only=_bool(g(o, "R", "o"), "o.R"),
        is_maker=_bool(g(o, "m", "o"), "o.m"),
        transaction_time=_int(g(o, "T", "o"), "o.T"),
        event_time=_int(g(data, "E", "ORDER_TRADE_UPDATE"), "E"),
    )


def decode_account_update(data: Mapping[str, Any]) -> AccountUpdate:
    """An ACCOUNT_UPDATE payload as an AccountUpdate (reason = `a.m`, e.g. ORDER or FUNDING_FEE)."""
    g = _field
    a = _obj(g(data, "a", "ACCOUNT_UPDATE"), "a")
    raw_balances = g(a, "B", "a")
    raw_positions = g(a, "P", "a")
    if type(raw_balances) is not list or type(raw_positions) is not list:
        raise MalformedMessage("a.B / a.P: expected arrays")
    balances = tuple(
        BalanceChange(
            asset=_str(g(b, "a", "a.B[]"), "a.B[].a"),
            wallet_balance=_dec(g(b, "wb", "a.B[]"), "a.B[].wb"),
            cross_wallet_balance=_dec(g(b, "cw", "a.B[]"), "a.B[].cw"),
            balance_change=_dec(g(b, "bc", "a.B[]"), "a.B[].bc"),
        )
        for b in (_obj(item, "a.B[]") for item in raw_balances)
    )
    positions = tuple(
        PositionChange(
            symbol=_str(g(p, "s", "a.P[]"), "a.P[].s"),
            quantity=_dec(g(p, "pa", "a.P[]"), "a.P[].pa"),
            entry_price=_dec(g(p, "ep", "a.P[]"), "a.P[].ep"),
            accumulated_realized=_dec(g(p, "cr", "a.P[]"), "a.P[].cr"),
            unrealized_pnl=_dec(g(p, "up", "a.P[]"), "a.P[].up"),
            position_side=_str(g(p, "ps", "a.P[]"), "a.P[].ps"),
        )
        for p in (_obj(item, "a.P[]") for item in raw_positions)
    )
    return AccountUpdate(
        reason=_str(g(a, "m", "a"), "a.m"),
        balances=balances,
        positions=positions,
        transaction_time=_int(g(data, "T", "ACCOUNT_UPDATE"), "T"),
        event_time=_int(g(data, "E", "ACCOUNT_UPDATE"), "E"),
    )


def _listen_key_expired(data: Mapping[str, Any]) -> ListenKeyExpired:
    raw_time = _field(data, "E", "listenKeyExpired")
    if type(raw_time) is str and raw_time.isdigit():
        raw_time = int(raw_time)  # seen as a string on the real venue
    return ListenKeyExpired(
        listen_key=str(data.get("listenKey", "")),
        event_time=_int(raw_time, "E"),
    )


def decode_user_payload(data: Any) -> ExecutionReport | AccountUpdate | ListenKeyExpired | None:
    """Dispatch a user-data payload on `e`; None for events the daemon does not use
    (TRADE_LITE, ACCOUNT_CONFIG_UPDATE, MARGIN_CALL, ...)."""
    if type(data) is not dict:
        raise MalformedMessage(f"payload: expected an object, got {type(data).__name__}")
    event = data.get("e")
    if event == "ORDER_TRADE_UPDATE":
        return decode_order_update(data)
    if event == "ACCOUNT_UPDATE":
        return decode_account_update(data)
    if event == "listenKeyExpired":
        return _listen_key_expired(data)
    if type(event) is not str:
        raise MalformedMessage("e: missing event type")
    return None


# --- REST answers ---------------------------------------------------------------------------------


def order_from_rest(d: Mapping[str, Any]) -> VenueOrder:
    """An order object (POST/GET/DELETE /fapi/v1/order, openOrders) as a VenueOrder."""
    g = _field
    side = _SIDES.get(g(d, "side", "order"))
    status = _STATUSES.get(g(d, "status", "order"))
    if side is None or status is None:
        raise MalformedMessage(f"order: unknown side/status {d.get('side')!r}/{d.get('status')!r}")
    return VenueOrder(
        symbol=_str(g(d, "symbol", "order"), "symbol"),
        client_order_id=_str(g(d, "clientOrderId", "order"), "clientOrderId"),
        order_id=_int(g(d, "orderId", "order"), "orderId"),
        side=side,
        order_type=_str(g(d, "type", "order"), "type"),
        time_in_force=_str(d.get("timeInForce", "GTC"), "timeInForce"),
        status=status,
        orig_qty=_dec(g(d, "origQty", "order"), "origQty"),
        price=_dec(g(d, "price", "order"), "price"),
        avg_price=_dec(d.get("avgPrice", "0"), "avgPrice"),
        executed_qty=_dec(g(d, "executedQty", "order"), "executedQty"),
        cum_quote=_dec(d.get("cumQuote", "0"), "cumQuote"),
        reduce_only=_bool(d.get("reduceOnly", False), "reduceOnly"),
        update_time=_int(g(d, "updateTime", "order"), "updateTime"),
    )


def trade_from_rest(d: Mapping[str, Any]) -> VenueTrade:
    """One element of GET /fapi/v1/userTrades as a VenueTrade."""
    g = _field
    side = _SIDES.get(g(d, "side", "trade"))
    if side is None:
        raise MalformedMessage(f"trade.side: unknown side {d.get('side')!r}")
    return VenueTrade(
        symbol=_str(g(d, "symbol", "trade"), "symbol"),
        trade_id=_int(g(d, "id", "trade"), "id"),
        order_id=_int(g(d, "orderId", "trade"), "orderId"),
        side=side,
        price=_dec(g(d, "price", "trade"), "price"),
        quantity=_dec(g(d, "qty", "trade"), "qty"),
        quote_qty=_dec(g(d, "quoteQty", "trade"), "quoteQty"),
        commission=_dec(g(d, "commission", "trade"), "commission"),
        commission_asset=_str(g(d, "commissionAsset", "trade"), "commissionAsset"),
        realized_pnl=_dec(g(d, "realizedPnl", "trade"), "realizedPnl"),
        is_maker=_bool(g(d, "maker", "trade"), "maker"),
        time=_int(g(d, "time", "trade"), "time"),
    )


def position_from_rest(d: Mapping[str, Any]) -> VenuePosition:
    """One element of GET /fapi/v3/positionRisk (v3 has no leverage field: None)."""
    g = _field
    leverage = d.get("leverage")
    return VenuePosition(
        symbol=_str(g(d, "symbol", "position"), "symbol"),
        quantity=_dec(g(d, "positionAmt", "position"), "positionAmt"),
        entry_price=_dec(g(d, "entryPrice", "position"), "entryPrice"),
        mark_price=_dec(g(d, "markPrice", "position"), "markPrice"),
        unrealized_pnl=_dec(g(d, "unRealizedProfit", "position"), "unRealizedProfit"),
        notional=_dec(d.get("notional", "0"), "notional"),
        leverage=int(leverage) if isinstance(leverage, (int, str)) and str(leverage).isdigit() else None,
        update_time=_int(d.get("updateTime", 0), "updateTime"),
    )


def balance_from_rest(d: Mapping[str, Any]) -> VenueBalance:
    """One element of GET /fapi/v3/balance as a VenueBalance."""
    g = _field
    return VenueBalance(
        asset=_str(g(d, "asset", "balance"), "asset"),
        wallet_balance=_dec(g(d, "balance", "balance"), "balance"),
        available_balance=_dec(g(d, "availableBalance", "balance"), "availableBalance"),
        unrealized_pnl=_dec(d.get("crossUnPnl", "0"), "crossUnPnl"),
        update_time=_int(d.get("updateTime", 0), "updateTime"),
    )


def income_from_rest(d: Mapping[str, Any]) -> VenueIncome:
    """One element of GET /fapi/v1/income as a VenueIncome."""
    g = _field
    symbol = g(d, "symbol", "income")
    if type(symbol) is not str:  # "" for account-wide entries such as transfers
        raise MalformedMessage(f"income.symbol: expected a string, got {type(symbol).__name__}")
    return VenueIncome(
        symbol=symbol,
        income_type=_str(g(d, "incomeType", "income"), "incomeType"),
        amount=_dec(g(d, "income", "income"), "income"),
        asset=_str(g(d, "asset", "income"), "asset"),
        time=_int(g(d, "time", "income"), "time"),
        tran_id=_int(g(d, "tranId", "income"), "tranId"),
    )


def candle_from_rest(symbol: str, row: Sequence[Any], server_now_ms: int) -> Candle:
    """One row of GET /fapi/v1/klines; closed when its close time is before the server's now."""
    if type(row) is not list or len(row) < 9:
        raise MalformedMessage("kline row: expected an array of at least 9 items")
    close_time = _int(row[6], "closeTime")
    return Candle(
        symbol=symbol,
        open_time=_int(row[0], "openTime"),
        close_time=close_time,
        open=_dec(row[1], "open"),
        high=_dec(row[2], "high"),
        low=_dec(row[3], "low"),
        close=_dec(row[4], "close"),
        volume=_dec(row[5], "volume"),
        quote_volume=_dec(row[7], "quoteVolume"),
        trades=_int(row[8], "trades"),
        closed=close_time < server_now_ms,
        event_time=server_now_ms,
    )
