"""Decimal helpers for every price and quantity that goes into an order.

Rounding is always to a multiple of the venue's tick or step, in the direction that is safe for
what the caller is doing:

- a PASSIVE price never gets worse than asked (a buy rounds down, a sell rounds up);
- an AGGRESSIVE price never gets less likely to fill (a buy rounds up, a sell rounds down);
- a quantity rounds toward zero, so rounding never adds risk.

`to_api_string` renders a Decimal the way Binance wants it: plain digits, no exponent, no
float noise (`Decimal("1E-5")` -> "0.00001").
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum

from core.events import Side


class PriceIntent(StrEnum):
    """Which way a price may move when it is rounded to the tick."""

    PASSIVE = "PASSIVE"
    AGGRESSIVE = "AGGRESSIVE"


def _to_multiple(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    if not value.is_finite():
        raise ValueError(f"value must be finite, got {value}")
    units = (value / step).to_integral_value(rounding=rounding)
    # Carry the step's exponent so "0.10" steps print as 0.1-multiples, never as 1E+1.
    return (units * step).quantize(step) if step.as_tuple().exponent < 0 else units * step  # type: ignore[operator]


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when `value` is an exact multiple of `step`."""
    return (value % step) == 0


def quantize_price(price: Decimal, tick_size: Decimal, side: Side, intent: PriceIntent) -> Decimal:
    """Round `price` to `tick_size` in the safe direction for `side` and `intent`."""
    buy_down = (side is Side.BUY) == (intent is PriceIntent.PASSIVE)
    return _to_multiple(price, tick_size, ROUND_FLOOR if buy_down else ROUND_CEILING)


def quantize_quantity(quantity: Decimal, step_size: Decimal) -> Decimal:
    """Round `quantity` toward zero to a multiple of `step_size`."""
    return _to_multiple(quantity, step_size, ROUND_DOWN)


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
