"""Binance JSON of market data: kline and mark-price streams, klines rows, premium index, exchangeInfo."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.instruments import Instrument
from simulator.bars import Bar
from simulator.wire_values import Json, num


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


def exchange_info(doc: Json, instruments: dict[str, Instrument], now_ms: int) -> Json:
    """GET /fapi/v1/exchangeInfo: the shipped document, its symbols filtered, serverTime = now."""
    symbols = [s for s in doc.get("symbols", []) if s.get("symbol") in instruments]
    return {**doc, "serverTime": now_ms, "symbols": symbols}
