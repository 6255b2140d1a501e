"""Decimal helpers for every price and quantity that goes into an order.

Rounding is always to a multiple of the venue's tick or step, in the direction that is safe for
what the caller is doing:

- a PASSIVE price never gets worse than asked (a buy rounds down, a sell rounds up);
- an AGGRESSIVE price never gets less likely to fill (a buy rounds up, a sell rounds down);
- a quantity rounds toward zero, so rounding never adds risk.

The grid is `origin + k x step`: Binance counts it from minPrice (prices) and minQty (quantities),
not from zero, which matters when the minimum is not itself a multiple of the step.

`to_api_string` renders a Decimal the way Binance wants it: plain digits, no exponent, no
float noise (`Decimal("1E-5")` -> "0.00001").
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum

from core.events import Side

_ZERO = Decimal(0)


class PriceIntent(StrEnum):
    """Which way a price may move when it is rounded to the tick."""

    PASSIVE = "PASSIVE"
    AGGRESSIVE = "AGGRESSIVE"


def _to_multiple(value: Decimal, step: Decimal, rounding: str, origin: Decimal = _ZERO) -> Decimal:
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    if not value.is_finite():
        raise ValueError(f"value must be finite, got {value}")
    units = ((value - origin) / step).to_integral_value(rounding=rounding)
    result = origin + units * step
    # Carry the finest exponent of step and origin so "0.10" steps print as 0.1-multiples, never
    # as 1E+1, and an origin of 556.85 keeps its second decimal.
    exponent = min(_exponent(step), _exponent(origin))
    return result.quantize(Decimal(1).scaleb(exponent)) if exponent < 0 else result


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def is_multiple(value: Decimal, step: Decimal, origin: Decimal = _ZERO) -> bool:
    """True when `value` lies on the grid `origin + k x step`."""
    return ((value - origin) % step) == 0


def quantize_price(
    price: Decimal, tick_size: Decimal, side: Side, intent: PriceIntent, *, origin: Decimal = _ZERO
) -> Decimal:
    """Round `price` to the grid `origin + k x tick_size` in the safe direction for `side` and
    `intent`. Binance counts the grid from PRICE_FILTER's minPrice: pass it as `origin`."""
    buy_down = (side is Side.BUY) == (intent is PriceIntent.PASSIVE)
    return _to_multiple(price, tick_size, ROUND_FLOOR if buy_down else ROUND_CEILING, origin)


def quantize_quantity(quantity: Decimal, step_size: Decimal, *, origin: Decimal = _ZERO) -> Decimal:
    """Round `quantity` toward zero to the grid `origin + k x step_size`. Binance counts the grid
    from LOT_SIZE's minQty: pass it as `origin`. Below the origin it rounds down further, never up
    (the caller rejects what is then below the minimum)."""
    return _to_multiple(quantity, step_size, ROUND_DOWN if origin == _ZERO else ROUND_FLOOR, origin)


def split_quantity(
    quantity: Decimal, max_qty: Decimal, step: Decimal, *, origin: Decimal = _ZERO
) -> list[Decimal]:
    """`quantity` in parts of at most `max_qty` (rounded down onto the grid `origin + k x step`);
    the last part may be smaller. A `max_qty` of 0 means no maximum. For a close above
    MARKET_LOT_SIZE's maxQty, which the venue refuses whole (-4005)."""
    if quantity <= _ZERO:
        return []
    largest = quantize_quantity(max_qty, step, origin=origin) if max_qty > _ZERO else quantity
    if largest <= _ZERO:
        largest = quantity
    parts: list[Decimal] = []
    left = quantity
    while left > _ZERO:
        part = min(left, largest)
        parts.append(part)
        left -= part
    return parts


def to_api_string(value: Decimal) -> str:
    """Render for the API: no exponent, no trailing zeros, never "-0"."""
    if not value.is_finite():
        raise ValueError(f"cannot send a non-finite number: {value}")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        return "0"
    return text
