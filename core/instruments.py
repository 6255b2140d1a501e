"""Instrument rules read from an exchangeInfo document.

One parser for everyone: the simulator builds its matching rules from the same document the
daemon reads from the venue, so both sides agree on ticks, steps and notional limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Instrument:
    """The trading rules of one symbol (exchangeInfo filters), all exact decimals."""

    symbol: str
    status: str
    contract_type: str
    base_asset: str
    quote_asset: str
    margin_asset: str
    price_precision: int
    quantity_precision: int
    # PRICE_FILTER
    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal
    # LOT_SIZE (limit orders)
    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal
    # MARKET_LOT_SIZE (market orders)
    market_min_qty: Decimal
    market_max_qty: Decimal
    market_step_size: Decimal
    # MIN_NOTIONAL
    min_notional: Decimal
    # PERCENT_PRICE: a BUY limit price <= mark * up, a SELL limit price >= mark * down
    multiplier_up: Decimal
    multiplier_down: Decimal
    # MAX_NUM_ORDERS
    max_num_orders: int
    maint_margin_percent: Decimal = Decimal("2.5")
    required_margin_percent: Decimal = Decimal("5.0")

    @property
    def is_trading(self) -> bool:
        return self.status == "TRADING"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One entry of exchangeInfo.rateLimits, e.g. REQUEST_WEIGHT 2400 per 1 MINUTE."""

    kind: str  # REQUEST_WEIGHT | ORDERS
    interval: str  # SECOND | MINUTE | DAY
    interval_num: int
    limit: int

    @property
    def window_ms(self) -> int:
        unit = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}[self.interval]
        return unit * self.interval_num


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """The parsed exchangeInfo: instruments by symbol and the venue's rate limits."""

    instruments: Mapping[str, Instrument]
    rate_limits: tuple[RateLimit, ...]
    server_time: int


def _filters(raw_symbol: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f["filterType"]: f for f in raw_symbol.get("filters", [])}


def parse_instrument(raw: Mapping[str, Any]) -> Instrument:
    """Build an Instrument from one element of exchangeInfo.symbols (Binance's field names)."""
    f = _filters(raw)
    price = f["PRICE_FILTER"]
    lot = f["LOT_SIZE"]
    market_lot = f.get("MARKET_LOT_SIZE", lot)
    percent = f.get("PERCENT_PRICE", {"multiplierUp": "100", "multiplierDown": "0"})
    return Instrument(
        symbol=raw["symbol"],
        status=raw.get("status", "TRADING"),
        contract_type=raw.get("contractType", "PERPETUAL"),
        base_asset=raw.get("baseAsset", ""),
        quote_asset=raw.get("quoteAsset", "USDT"),
        margin_asset=raw.get("marginAsset", "USDT"),
        price_precision=int(raw.get("pricePrecision", 8)),
        quantity_precision=int(raw.get("quantityPrecision", 8)),
        min_price=Decimal(price["minPrice"]),
        max_price=Decimal(price["maxPrice"]),
        tick_size=Decimal(price["tickSize"]),
        min_qty=Decimal(lot["minQty"]),
        max_qty=Decimal(lot["maxQty"]),
        step_size=Decimal(lot["stepSize"]),
        market_min_qty=Decimal(market_lot["minQty"]),
        market_max_qty=Decimal(market_lot["maxQty"]),
        market_step_size=Decimal(market_lot["stepSize"]),
        min_notional=Decimal(f.get("MIN_NOTIONAL", {"notional": "0"})["notional"]),
        multiplier_up=Decimal(percent["multiplierUp"]),
        multiplier_down=Decimal(percent["multiplierDown"]),
        max_num_orders=int(f.get("MAX_NUM_ORDERS", {"limit": 200})["limit"]),
        maint_margin_percent=Decimal(raw.get("maintMarginPercent", "2.5")),
        required_margin_percent=Decimal(raw.get("requiredMarginPercent", "5.0")),
    )


def parse_exchange_info(doc: Mapping[str, Any]) -> ExchangeInfo:
    """Parse a whole exchangeInfo response (the JSON document as Binance sends it)."""
    instruments = {s["symbol"]: parse_instrument(s) for s in doc.get("symbols", [])}
    limits = tuple(
        RateLimit(
            kind=r["rateLimitType"],
            interval=r["interval"],
            interval_num=int(r["intervalNum"]),
            limit=int(r["limit"]),
        )
        for r in doc.get("rateLimits", [])
    )
    server_time = int(doc.get("serverTime", 0))
    return ExchangeInfo(instruments=instruments, rate_limits=limits, server_time=server_time)
