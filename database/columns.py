"""Column helpers and the base class every table shares (conventions in database/models.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, MetaData, Text
from sqlmodel import Field, SQLModel

from database.types import Money

# Deterministic constraint names, so a later migration can alter or drop them by name on every
# backend (SQLite batch mode needs the name; PostgreSQL would invent its own). Set before any table
# is declared: names are given when a constraint is attached to its table.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata: MetaData = SQLModel.metadata

_ZERO = Decimal(0)

# Column widths. PostgreSQL enforces them (SQLite does not), so they are generous where the value
# comes from configuration or a strategy, and exact where the venue fixes the format.
SYMBOL_WIDTH = 32
STRATEGY_WIDTH = 64
ENUM_WIDTH = 32  # side, order type, state, intent, action, level...
CLIENT_ID_WIDTH = 36  # Binance: ^[.A-Z:/a-z0-9_-]{1,36}$
SIGNAL_ID_WIDTH = 255
ASSET_WIDTH = 16
INSTANCE_WIDTH = 64  # config's instance_id


def text_column(default: str = "") -> Any:
    """A NOT NULL TEXT column (free text or a JSON document)."""
    return Field(default=default, sa_type=Text())


def millis_column(*, default: int | None = 0, index: bool = False) -> Any:
    """An epoch-milliseconds BIGINT column (nullable when the annotation says `| None`)."""
    return Field(default=default, sa_type=BigInteger(), index=index)


def money_column(default: Decimal | None = _ZERO) -> Any:
    """An exact Decimal column (nullable when the annotation says `| None`)."""
    return Field(default=default, sa_type=Money())


class Table(SQLModel):
    """Base of every table: construction with an unknown column name is an error, not a no-op."""

    def __init__(self, **data: Any) -> None:
        unknown = data.keys() - type(self).model_fields.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no column(s) {', '.join(sorted(unknown))}")
        super().__init__(**data)
