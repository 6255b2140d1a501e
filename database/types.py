"""Column types that keep money exact.

`Money` stores a `Decimal` exactly on every backend:

- PostgreSQL: NUMERIC(38, 18) — up to 20 integer digits and 18 decimal places;
- SQLite: TEXT holding the canonical decimal string ("1.5", "-0.00001", "100"). SQLite has no decimal
  type: a NUMERIC column would give the value REAL affinity and turn 0.1 into 0.1000000000000000055...

Both backends accept the same domain and give back the same value: on write a value is rounded
(half-even) to 18 decimal places — only derived numbers such as an average price carry more digits
than that, and 1e-18 is ten orders of magnitude below the finest tick on the venue — and a value
with more than 20 integer digits is refused. On read the value is canonical: trailing zeros are
stripped (Decimal('1.50') reads back as Decimal('1.5'), Decimal('100') as Decimal('100'), never
'1E+2'), and -0 reads back as 0.

A float is refused with TypeError: a float anywhere in the money path is a bug, and storing it would
hide the damage (0.1 is not 1/10).

Caveat of the SQLite representation: SQL comparisons, ORDER BY and SUM on a Money column are textual
there; do arithmetic and ordering in Python with Decimal, or on PostgreSQL.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

PRECISION = 38
SCALE = 18
MAX_INTEGER_DIGITS = PRECISION - SCALE

_QUANTUM = Decimal(1).scaleb(-SCALE)  # 1E-18
# Wide enough for 38 significant digits; the default context (28 digits) would round them.
_CONTEXT = decimal.Context(
    prec=PRECISION + 10, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation]
)


def canonical(value: Decimal) -> Decimal:
    """`value` with trailing zeros stripped, in plain (non-exponent) form, and -0 as 0."""
    if value.is_zero():
        return Decimal(0)
    return Decimal(format(value.normalize(_CONTEXT), "f"))


def to_money(value: object) -> Decimal:
    """Check and round a value for a Money column: finite Decimal or int, ≤ 20 integer digits.

    Raises TypeError for anything else (float above all, and bool, which is an int by accident),
    ValueError for NaN, infinity or a value too large for NUMERIC(38, 18).
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(
            f"Money columns take Decimal or int, got {type(value).__name__} {value!r}"
            " (a float in the money path is a bug: build the Decimal from a string)"
        )
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"Money columns take finite numbers, got {number}")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    rounded = number.quantize(_QUANTUM, context=_CONTEXT) if exponent < -SCALE else number
    if rounded.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(
            f"{number} has more than {MAX_INTEGER_DIGITS} integer digits (NUMERIC({PRECISION}, {SCALE}))"
        )
    return canonical(rounded)


class Money(TypeDecorator[Decimal]):
    """An exact Decimal column: NUMERIC(38, 18) on PostgreSQL, canonical decimal TEXT elsewhere."""

    impl = Numeric(PRECISION, SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """NUMERIC where the database has an exact decimal type, TEXT on SQLite."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(PRECISION, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Validate, round to 18 places; a string on SQLite, the Decimal elsewhere."""
        if value is None:
            return None
        number = to_money(value)
        return format(number, "f") if dialect.name == "sqlite" else number

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        """Literal SQL (alembic offline mode, compiled statements): the same canonical text."""
        if value is None:
            return "NULL"
        text = format(to_money(value), "f")
        return f"'{text}'" if dialect.name == "sqlite" else text

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """The canonical Decimal (NUMERIC comes back padded to 18 places; TEXT as a string)."""
        if value is None:
            return None
        if isinstance(value, float):
            # Only possible for a row written around this type (e.g. raw SQL into SQLite); refuse to
            # pass a binary float on as money.
            raise TypeError(f"a Money column holds a float ({value!r}): it was written around the Money type")
        return canonical(Decimal(value))

    @property
    def python_type(self) -> type[Decimal]:
        """Decimal, for tools that introspect column types."""
        return Decimal


__all__ = ["MAX_INTEGER_DIGITS", "PRECISION", "SCALE", "Money", "canonical", "to_money"]
