"""The matching engine's pure rules: crossing, reduce-only, taker price, fill parts, avgPrice."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.events import Side
from simulator.engine_types import Order

_ZERO = Decimal(0)
_AVG_PRICE_QUANTUM = Decimal("1e-8")  # avgPrice as Binance prints it: at most 8 decimals


def taker_price(
    side: Side, limit: Decimal | None, current: Decimal, tick: Decimal, slippage_bps: Decimal
) -> Decimal:
    """A taker fill's price: `current` ± slippage, rounded to the tick against the taker, never
    beyond the order's `limit` (None for MARKET)."""
    slip = current * slippage_bps / 10_000
    if side is Side.BUY:
        price = ((current + slip) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        return min(price, limit) if limit is not None else price
    price = ((current - slip) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    return max(price, limit) if limit is not None else price


def next_part(order: Order, fill_parts: int, step: Decimal) -> Decimal:
    """The quantity of `order`'s next trade: what remains, or a `fill_parts` share of it (whole steps)."""
    remaining = order.orig_qty - order.executed_qty
    if fill_parts <= 1:
        return remaining
    part = (order.orig_qty / fill_parts / step).to_integral_value(ROUND_FLOOR) * step
    return remaining if part <= _ZERO or remaining < 2 * part else part


def average_price(quote: Decimal, qty: Decimal) -> Decimal:
    """avgPrice as Binance prints it: at most 8 decimals, no trailing zeros."""
    return (quote / qty).quantize(_AVG_PRICE_QUANTUM).normalize()


def crosses(side: Side, limit: Decimal, low: Decimal, high: Decimal) -> bool:
    """Whether a limit order trades against prices spanning [low, high]."""
    return low <= limit if side is Side.BUY else high >= limit


def opposite(position: Decimal, side: Side) -> bool:
    """Whether an order on `side` works against the current `position`."""
    return (position > 0 and side is Side.SELL) or (position < 0 and side is Side.BUY)


def reduces(position: Decimal, side: Side, qty: Decimal) -> bool:
    """Whether `qty` on `side` shrinks `position` without flipping it (reduce-only's rule)."""
    return opposite(position, side) and qty <= abs(position)
