"""Shared test inputs for the risk tests: one instrument, limits, signals and events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from config.models import RiskLimits
from core.events import MarkPrice, OrderUpdate, PositionUpdate, Side, Signal, SignalAction
from core.instruments import Instrument, parse_instrument

SYMBOL = "WLDUSDT"
OTHER = "ADAUSDT"
STRATEGY = "vwap"
DAY_MS = 86_400_000
MINUTE_MS = 60_000
# 2024-03-04 00:00:00 UTC, a day boundary: tests add time of day to it.
DAY0 = 1_709_510_400_000
NOON = DAY0 + 12 * 3_600_000


def instrument(symbol: str = SYMBOL, **filters: str) -> Instrument:
    """A WLD-like instrument: tick 0.01, step 0.1, min qty 0.1, MIN_NOTIONAL 5."""
    values = {
        "tick": "0.01",
        "step": "0.1",
        "min_qty": "0.1",
        "max_qty": "100000",
        "min_notional": "5",
        "status": "TRADING",
    } | filters
    raw: dict[str, Any] = {
        "symbol": symbol,
        "status": values["status"],
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01",
                "maxPrice": "100000",
                "tickSize": values["tick"],
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": values["min_qty"],
                "maxQty": values["max_qty"],
                "stepSize": values["step"],
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": values["min_qty"],
                "maxQty": values["max_qty"],
                "stepSize": values["step"],
            },
            {"filterType": "MIN_NOTIONAL", "notional": values["min_notional"]},
        ],
    }
    return parse_instrument(raw)


def limits(**overrides: Any) -> RiskLimits:
    """The shipped config's global limits, with overrides."""
    values: dict[str, Any] = {
        "max_total_exposure_usdt": Decimal(4000),
        "daily_loss_limit_usdt": Decimal(300),
        "daily_loss_includes_unrealized": False,
        "max_consecutive_losses": 3,
        "loss_cooldown_minutes": 120,
        "funding_window_minutes": 5,
        "max_orders_per_minute": 30,
        "max_exposure_usdt": Decimal(1500),
        "max_daily_quantity": None,
        "allocation": Decimal("0.4"),
    } | overrides
    return RiskLimits(**values)


def signal(
    action: SignalAction = SignalAction.OPEN_LONG,
    *,
    notional: str | None = "100",
    price: str = "2",
    signal_id: str = "sig-1",
    symbol: str = SYMBOL,
    time: int = NOON,
) -> Signal:
    """A strategy signal (CLOSE signals carry no notional)."""
    return Signal(
        signal_id=signal_id,
        symbol=symbol,
        strategy=STRATEGY,
        action=action,
        reason="test",
        price=Decimal(price),
        event_time=time,
        notional=None if action is SignalAction.CLOSE or notional is None else Decimal(notional),
    )


def mark(
    price: str, *, next_funding: int = DAY0 + 16 * 3_600_000, symbol: str = SYMBOL, time: int = NOON
) -> MarkPrice:
    """A mark-price update."""
    return MarkPrice(
        symbol=symbol,
        mark_price=Decimal(price),
        index_price=Decimal(price),
        funding_rate=Decimal("0.0001"),
        next_funding_time=next_funding,
        event_time=time,
    )


def position(
    qty: str,
    realized: str = "0",
    *,
    entry: str = "2",
    symbol: str = SYMBOL,
    time: int = NOON,
    fees: str = "0",
    funding: str = "0",
) -> PositionUpdate:
    """A position update; `realized` (gross), `fees` (USDT paid) and `funding` (received > 0) are
    the symbol's cumulative numbers."""
    return PositionUpdate(
        symbol=symbol,
        quantity=Decimal(qty),
        entry_price=Decimal(entry) if Decimal(qty) != 0 else Decimal(0),
        realized_pnl=Decimal(realized),
        event_time=time,
        strategy=STRATEGY,
        fees=Decimal(fees),
        funding=Decimal(funding),
    )


def order_update(
    client_order_id: str,
    state: str,
    *,
    quantity: str,
    filled: str = "0",
    side: Side = Side.BUY,
    symbol: str = SYMBOL,
    reduce_only: bool = False,
) -> OrderUpdate:
    """The order manager's view of one of the gate's orders."""
    return OrderUpdate(
        client_order_id=client_order_id,
        symbol=symbol,
        strategy=STRATEGY,
        side=side,
        state=state,
        quantity=Decimal(quantity),
        filled_qty=Decimal(filled),
        avg_price=Decimal(2),
        event_time=NOON,
        reduce_only=reduce_only,
    )
