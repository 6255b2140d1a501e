"""Binance JSON of the user-data stream: ORDER_TRADE_UPDATE, TRADE_LITE and ACCOUNT_UPDATE."""

from __future__ import annotations

from simulator.engine_types import AccountEvent, OrderEvent
from simulator.wire_values import Json, num, usdt


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
