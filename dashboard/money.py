"""Money read back exactly and shown plainly.

SQLite keeps Money columns as decimal text and PostgreSQL as NUMERIC, so raw queries get `str` or
`Decimal`; both become Decimal here, and sums stay exact. Floats appear only in charts.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

ZERO = Decimal(0)


def dec(value: object) -> Decimal:
    """A Money value from a raw row (str, Decimal, int or None) as a Decimal; None and '' are 0."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return ZERO


def maybe_dec(value: object) -> Decimal | None:
    """Like `dec`, but None (no value) stays None."""
    return None if value is None or value == "" else dec(value)


def usd(value: Decimal | None, places: int = 2) -> str:
    """`1,234.56` with a sign for negatives; '—' for no value."""
    if value is None:
        return "—"
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum):,}"


def plain(value: Decimal | None) -> str:
    """The exact value without exponent or trailing zeros ('—' for none)."""
    if value is None:
        return "—"
    if value.is_zero():
        return "0"
    text = format(value.normalize(), "f")
    return text


__all__ = ["ZERO", "dec", "maybe_dec", "plain", "usd"]
