"""Binance JSON for the simulator: the only module that knows Binance's field names.

Number formats: prices and quantities as plain decimal strings (`to_api_string`: no exponent, no
trailing zeros, the way the client sent them); USDT amounts (balances, margins, PnL, commissions)
with Binance's 8 fixed decimals; times and ids as JSON integers; flags as JSON booleans. Field sets
follow the SDK's response and stream models (binance_sdk_derivatives_trading_usds_futures 18.0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.decimals import to_api_string
from core.instruments import Instrument
from simulator.bars import Bar
from simulator.engine_types import AccountEvent, AccountSummary, Income, Order, OrderEvent, Trade

Json = dict[str, Any]
_MONEY = Decimal("0.00000001")


def num(value: Decimal) -> str:
    """A price or quantity: plain digits, no exponent, no trailing zeros."""
    return to_api_string(value)


def usdt(value: Decimal) -> str:
    """A USDT amount with 8 fixed decimals, never "-0.00000000"."""
    text = format(value.quantize(_MONEY), "f")
    return text[1:] if text.startswith("-") and not value.quantize(_MONEY) else text


# --- orders and trades (REST) -----------------------------------------------------------------


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


# --- user-data stream ---------------------------------------------------------------------------


def order_trade_update(ev: OrderEvent) -> Json:
    """ORDER_TRADE_UPDATE for one order event."""
    o, t = ev.order, ev.trade
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": ev.time,
        "T": ev.time,
        "o": {
            "s": o.symbol,
            "c": o.client_order_id,
            "S": o.side.value,
            "o": o.type,
            "f": o.time_in_force,
            "q": num(o.orig_qty),
            "p": num(o.price),
            "ap": num(o.avg_price),
            "sp": "0",
            "x": ev.execution,
            "X": o.status,
            "i": o.order_id,
            "l": num(t.qty) if t else "0",
            "z": num(o.executed_qty),
            "L": num(t.price) if t else "0",
            "N": t.commission_asset if t else "USDT",
            "n": usdt(t.commission) if t else "0",
            "T": ev.time,
            "t": t.trade_id if t else 0,
            "b": "0",
            "a": "0",
            "m": t.maker if t else False,
            "R": o.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": o.type,
            "ps": "BOTH",
            "cp": False,
            "rp": usdt(t.realized_pnl) if t else "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def account_update(ev: AccountEvent) -> Json:
    """ACCOUNT_UPDATE (m = ORDER or FUNDING_FEE)."""
    return {
        "e": "ACCOUNT_UPDATE",
        "E": ev.time,
        "T": ev.time,
        "a": {
            "m": ev.reason,
            "B": [
                {
                    "a": b.asset,
                    "wb": usdt(b.wallet_balance),
                    "cw": usdt(b.cross_wallet_balance),
                    "bc": usdt(b.balance_change),
                }
                for b in ev.balances
            ],
            "P": [
                {
                    "s": p.symbol,
                    "pa": num(p.amount),
                    "ep": num(p.entry_price),
                    "bep": num(p.entry_price),
                    "cr": usdt(p.realized),
                    "up": usdt(p.unrealized),
                    "mt": "cross",
                    "iw": "0",
                    "ps": "BOTH",
                }
                for p in ev.positions
            ],
        },
    }


def trade_lite(ev: OrderEvent) -> Json:
    """TRADE_LITE: the short form of a fill Binance pushes ahead of the ORDER_TRADE_UPDATE."""
    o, t = ev.order, ev.trade
    assert t is not None, "TRADE_LITE only exists for fills"
    return {
        "e": "TRADE_LITE",
        "E": ev.time,
        "T": ev.time,
        "s": o.symbol,
        "q": num(o.orig_qty),
        "p": num(o.price),
        "m": t.maker,
        "c": o.client_order_id,
        "S": o.side.value,
        "L": num(t.price),
        "l": num(t.qty),
        "t": t.trade_id,
        "i": o.order_id,
    }


def user_event(ev: OrderEvent | AccountEvent) -> Json:
    """The user-data payload of any engine event."""
    return order_trade_update(ev) if isinstance(ev, OrderEvent) else account_update(ev)


# --- market data ---------------------------------------------------------------------------------


def _trade_ids(bar: Bar) -> tuple[int, int]:
    # Synthetic but stable first/last trade ids: a block of 1e6 ids per minute.
    if bar.trades == 0:
        return -1, -1
    first = bar.open_time // 60_000 * 1_000_000
    return first, first + bar.trades - 1


def kline_stream(symbol: str, bar: Bar, closed: bool, event_time: int) -> Json:
    """A kline_1m stream payload (every k field Binance sends)."""
    first, last = _trade_ids(bar)
    return {
        "e": "kline",
        "E": event_time,
        "s": symbol,
        "k": {
            "t": bar.open_time,
            "T": bar.close_time,
            "s": symbol,
            "i": "1m",
            "f": first,
            "L": last,
            "o": num(bar.open),
            "c": num(bar.close),
            "h": num(bar.high),
            "l": num(bar.low),
            "v": num(bar.volume),
            "n": bar.trades,
            "x": closed,
            "q": num(bar.quote_volume),
            "V": num(bar.taker_buy_volume),
            "Q": num(bar.taker_buy_quote_volume),
            "B": "0",
        },
    }


def kline_row(bar: Bar) -> list[Any]:
    """One row of GET /fapi/v1/klines."""
    return [
        bar.open_time,
        num(bar.open),
        num(bar.high),
        num(bar.low),
        num(bar.close),
        num(bar.volume),
        bar.close_time,
        num(bar.quote_volume),
        bar.trades,
        num(bar.taker_buy_volume),
        num(bar.taker_buy_quote_volume),
        "0",
    ]


def mark_price_stream(symbol: str, mark: Decimal, rate: Decimal, next_funding: int, event_time: int) -> Json:
    """A markPriceUpdate payload; index and estimated settle price equal the mark here."""
    return {
        "e": "markPriceUpdate",
        "E": event_time,
        "s": symbol,
        "p": num(mark),
        "i": num(mark),
        "P": num(mark),
        "r": num(rate),
        "T": next_funding,
        "st": 1,  # symbol type: 1 = USD-M
    }


def premium_index(symbol: str, mark: Decimal, rate: Decimal, next_funding: int, now_ms: int) -> Json:
    """One element of GET /fapi/v1/premiumIndex."""
    return {
        "symbol": symbol,
        "markPrice": num(mark),
        "indexPrice": num(mark),
        "estimatedSettlePrice": num(mark),
        "lastFundingRate": num(rate),
        "interestRate": "0.0001",
        "nextFundingTime": next_funding,
        "time": now_ms,
    }


# --- account (REST) ------------------------------------------------------------------------------


def _totals(s: AccountSummary) -> Json:
    return {
        "totalInitialMargin": usdt(s.initial_margin),
        "totalMaintMargin": usdt(s.maint_margin),
        "totalWalletBalance": usdt(s.wallet_balance),
        "totalUnrealizedProfit": usdt(s.unrealized_pnl),
        "totalMarginBalance": usdt(s.margin_balance),
        "totalPositionInitialMargin": usdt(s.position_initial_margin),
        "totalOpenOrderInitialMargin": usdt(s.open_order_initial_margin),
        "totalCrossWalletBalance": usdt(s.wallet_balance),
        "totalCrossUnPnl": usdt(s.unrealized_pnl),
        "availableBalance": usdt(s.available_balance),
        "maxWithdrawAmount": usdt(min(s.available_balance, s.wallet_balance)),
    }


def asset_v3(s: AccountSummary, now_ms: int) -> Json:
    """The USDT element of account v3 `assets`."""
    return {
        "asset": "USDT",
        "walletBalance": usdt(s.wallet_balance),
        "unrealizedProfit": usdt(s.unrealized_pnl),
        "marginBalance": usdt(s.margin_balance),
        "maintMargin": usdt(s.maint_margin),
        "initialMargin": usdt(s.initial_margin),
        "positionInitialMargin": usdt(s.position_initial_margin),
        "openOrderInitialMargin": usdt(s.open_order_initial_margin),
        "crossWalletBalance": usdt(s.wallet_balance),
        "crossUnPnl": usdt(s.unrealized_pnl),
        "availableBalance": usdt(s.available_balance),
        "maxWithdrawAmount": usdt(min(s.available_balance, s.wallet_balance)),
        "updateTime": now_ms,
    }


def account_v3(s: AccountSummary, positions: list[Json], now_ms: int) -> Json:
    """GET /fapi/v3/account; `positions` from `position_v3_account`."""
    return {**_totals(s), "assets": [asset_v3(s, now_ms)], "positions": positions}


def account_v2(s: AccountSummary, positions: list[Json], now_ms: int) -> Json:
    """GET /fapi/v2/account; `positions` from `position_v2_account`."""
    asset = {**asset_v3(s, now_ms), "marginAvailable": True}
    return {
        "feeTier": 0,
        "feeBurn": False,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
        **_totals(s),
        "assets": [asset],
        "positions": positions,
    }


def balance(s: AccountSummary, now_ms: int) -> list[Json]:
    """GET /fapi/v2/balance and /fapi/v3/balance (same shape)."""
    return [
        {
            "accountAlias": "SimAccount",
            "asset": "USDT",
            "balance": usdt(s.wallet_balance),
            "crossWalletBalance": usdt(s.wallet_balance),
            "crossUnPnl": usdt(s.unrealized_pnl),
            "availableBalance": usdt(s.available_balance),
            "maxWithdrawAmount": usdt(min(s.available_balance, s.wallet_balance)),
            "marginAvailable": True,
            "updateTime": now_ms,
        }
    ]


@dataclass(frozen=True, slots=True)
class PositionFigures:
    """What the position endpoints show for one symbol (computed by the facade)."""

    symbol: str
    amount: Decimal
    entry: Decimal
    mark: Decimal
    unrealized: Decimal
    leverage: int
    initial_margin: Decimal
    maint_margin: Decimal
    open_order_margin: Decimal
    max_notional: Decimal
    update_time: int

    @property
    def notional(self) -> Decimal:
        return self.amount * self.mark


def position_v2_account(p: PositionFigures) -> Json:
    """An element of account v2 `positions`."""
    return {
        "symbol": p.symbol,
        "initialMargin": usdt(p.initial_margin + p.open_order_margin),
        "maintMargin": usdt(p.maint_margin),
        "unrealizedProfit": usdt(p.unrealized),
        "positionInitialMargin": usdt(p.initial_margin),
        "openOrderInitialMargin": usdt(p.open_order_margin),
        "leverage": str(p.leverage),
        "isolated": False,
        "entryPrice": num(p.entry),
        "maxNotional": num(p.max_notional),
        "bidNotional": "0",
        "askNotional": "0",
        "positionSide": "BOTH",
        "positionAmt": num(p.amount),
        "updateTime": p.update_time,
    }


def position_v3_account(p: PositionFigures) -> Json:
    """An element of account v3 `positions` (only symbols with a position or open orders)."""
    return {
        "symbol": p.symbol,
        "positionSide": "BOTH",
        "positionAmt": num(p.amount),
        "unrealizedProfit": usdt(p.unrealized),
        "isolatedMargin": "0",
        "notional": usdt(p.notional),
        "isolatedWallet": "0",
        "initialMargin": usdt(p.initial_margin + p.open_order_margin),
        "maintMargin": usdt(p.maint_margin),
        "updateTime": p.update_time,
    }


def position_risk_v2(p: PositionFigures) -> Json:
    """An element of GET /fapi/v2/positionRisk."""
    return {
        "entryPrice": num(p.entry),
        "breakEvenPrice": num(p.entry),
        "marginType": "cross",
        "isAutoAddMargin": "false",
        "isolatedMargin": "0.00000000",
        "leverage": str(p.leverage),
        "liquidationPrice": "0",
        "markPrice": num(p.mark),
        "maxNotionalValue": num(p.max_notional),
        "positionAmt": num(p.amount),
        "notional": usdt(p.notional),
        "isolatedWallet": "0",
        "symbol": p.symbol,
        "unRealizedProfit": usdt(p.unrealized),
        "positionSide": "BOTH",
        "updateTime": p.update_time,
    }


def position_risk_v3(p: PositionFigures) -> Json:
    """An element of GET /fapi/v3/positionRisk."""
    return {
        "symbol": p.symbol,
        "positionSide": "BOTH",
        "positionAmt": num(p.amount),
        "entryPrice": num(p.entry),
        "breakEvenPrice": num(p.entry),
        "markPrice": num(p.mark),
        "unRealizedProfit": usdt(p.unrealized),
        "liquidationPrice": "0",
        "isolatedMargin": "0",
        "notional": usdt(p.notional),
        "marginAsset": "USDT",
        "isolatedWallet": "0",
        "initialMargin": usdt(p.initial_margin + p.open_order_margin),
        "maintMargin": usdt(p.maint_margin),
        "positionInitialMargin": usdt(p.initial_margin),
        "openOrderInitialMargin": usdt(p.open_order_margin),
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": p.update_time,
    }


def leverage_brackets(symbol: str, max_leverage: int) -> Json:
    """One element of GET /fapi/v1/leverageBracket: a single bracket (the simulator has no tiers)."""
    return {
        "symbol": symbol,
        "brackets": [
            {
                "bracket": 1,
                "initialLeverage": max_leverage,
                "notionalCap": 1_000_000_000,
                "notionalFloor": 0,
                "maintMarginRatio": 0.004,
                "cum": 0.0,
            }
        ],
    }


def exchange_info(doc: Json, instruments: dict[str, Instrument], now_ms: int) -> Json:
    """GET /fapi/v1/exchangeInfo: the shipped document, its symbols filtered, serverTime = now."""
    symbols = [s for s in doc.get("symbols", []) if s.get("symbol") in instruments]
    return {**doc, "serverTime": now_ms, "symbols": symbols}
