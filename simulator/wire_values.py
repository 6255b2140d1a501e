"""Binance's number formats for the simulator's JSON, shared by every `simulator/wire_*.py` module.

The `wire_*` modules are the only ones that know Binance's field names; their field sets follow the
SDK's response and stream models (binance_sdk_derivatives_trading_usds_futures 18.0.1).

Number formats: prices and quantities as plain decimal strings (`to_api_string`: no exponent, no
trailing zeros, the way the client sent them); USDT amounts (balances, margins, PnL, commissions)
with Binance's 8 fixed decimals; times and ids as JSON integers; flags as JSON booleans.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from core.decimals import to_api_string

Json = dict[str, Any]
_MONEY = Decimal("0.00000001")


@functools.lru_cache(maxsize=8192)
def num(value: Decimal) -> str:
    """A price or quantity: plain digits, no exponent, no trailing zeros."""
    # Cached by value: a fast simulator renders the same prices hundreds of times a candle, and the
    # text depends on the value only (equal Decimals such as 1.0 and 1.00 both give "1").
    return to_api_string(value)


def usdt(value: Decimal) -> str:
    """A USDT amount with 8 fixed decimals, never "-0.00000000"."""
    text = format(value.quantize(_MONEY), "f")
    return text[1:] if text.startswith("-") and not value.quantize(_MONEY) else text

