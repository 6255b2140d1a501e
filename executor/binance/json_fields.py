"""Strict readers of Binance's JSON fields: the one place that says what a well-formed field is.

Every field an event needs must be present with the JSON type Binance uses (decimals are strings,
times and ids integers, flags booleans); anything else raises `MalformedMessage`, which the stream
supervisors count, log (rate-limited) and skip, and the gateway turns into a typed error.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from core.events import ExecutionType, Side, VenueOrderStatus


class MalformedMessage(ValueError):
    """A message that does not have the fields and types Binance documents."""


SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
STATUSES = {s.value: s for s in VenueOrderStatus}
EXEC_TYPES = {x.value: x for x in ExecutionType}


def decimal_field(value: Any, name: str) -> Decimal:
    """A finite decimal from its wire string."""
    if type(value) is not str:
        raise MalformedMessage(f"{name}: expected a decimal string, got {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise MalformedMessage(f"{name}: not a decimal: {value[:32]!r}") from None
    if not result.is_finite():
        raise MalformedMessage(f"{name}: not a finite decimal: {value[:32]!r}")
    return result


def int_field(value: Any, name: str) -> int:
    """An integer (times, ids)."""
    if type(value) is not int:
        raise MalformedMessage(f"{name}: expected an integer, got {type(value).__name__}")
    return value


def str_field(value: Any, name: str) -> str:
    """A non-empty string."""
    if type(value) is not str or not value:
        raise MalformedMessage(f"{name}: expected a non-empty string, got {type(value).__name__}")
    return value


def bool_field(value: Any, name: str) -> bool:
    """A boolean flag."""
    if type(value) is not bool:
        raise MalformedMessage(f"{name}: expected a boolean, got {type(value).__name__}")
    return value


def object_field(value: Any, name: str) -> Mapping[str, Any]:
    """A JSON object."""
    if type(value) is not dict:
        raise MalformedMessage(f"{name}: expected an object, got {type(value).__name__}")
    return value


def member(obj: Mapping[str, Any], key: str, where: str) -> Any:
    """`obj[key]`, or MalformedMessage naming `where.key`."""
    try:
        return obj[key]
    except KeyError:
        raise MalformedMessage(f"{where}.{key}: missing") from None
