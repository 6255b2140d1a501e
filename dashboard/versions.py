"""A cheap fingerprint per table that changes whenever the table's data does.

Cached queries are keyed by the fingerprints of the tables they read, so an auto-refresh re-runs a
query only after the daemon wrote to one of its tables. Every fingerprint is one or two index
look-ups (a primary key's maximum, an indexed column's maximum), never a scan of a large table:

- insert-only tables (fills, signals, risk decisions...): the largest id;
- orders: the largest id, the number of open orders and the newest update among them (open
  orders change in place; an order leaving the open states changes the count);
- small tables updated in place (positions, control, alerts, backtests...): row count plus the
  newest `*_time` and the sum of any counters, whatever columns another issue gave them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.order_state import TERMINAL_STATE_NAMES, OrderState
from dashboard.schema import Schema

Version = tuple[object, ...]

OPEN_STATES: tuple[str, ...] = tuple(s.value for s in OrderState if s.value not in TERMINAL_STATE_NAMES)
_INSERT_ONLY = frozenset(
    {
        "fills",
        "signals",
        "risk_decisions",
        "volatility_events",
        "funding_payments",
        "order_events",
        "equity_snapshots",
        "reconciliation_runs",
        "reconciliation_differences",
    }
)
_COUNTERS = ("count", "attempts", "delivery_attempts", "occurrences")


def _open_list() -> str:
    return ", ".join(f"'{s}'" for s in OPEN_STATES)


def _expression(schema: Schema, table: str) -> str:
    columns = schema.columns[table]
    if table in _INSERT_ONLY and "id" in columns:
        return f"SELECT MAX(id) FROM {table}"
    if table == "orders":
        return (
            f"SELECT MAX(id), (SELECT COUNT(*) FROM orders WHERE state IN ({_open_list()})),"
            f" (SELECT MAX(updated_time) FROM orders WHERE state IN ({_open_list()})) FROM orders"
        )
    parts = ["COUNT(*)"]
    parts += [f"MAX({c})" for c in sorted(columns) if c == "id" or c == "time" or c.endswith("_time")]
    parts += [f"SUM({c})" for c in _COUNTERS if c in columns]
    if "delivered" in columns:  # an alert delivered later changes only this flag
        parts.append("SUM(CASE WHEN delivered THEN 1 ELSE 0 END)")
    if table == "alerts" and "status" in columns:  # ... or only its delivery status
        parts += [f"SUM(CASE WHEN status = '{s}' THEN 1 ELSE 0 END)" for s in ("pending", "delivered")]
    return f"SELECT {', '.join(parts)} FROM {table}"


def table_versions(connection: Connection, schema: Schema, tables: Iterable[str]) -> dict[str, Version]:
    """The fingerprint of each of `tables`; a table that does not exist has the version ()."""
    versions: dict[str, Version] = {}
    for table in tables:
        if not schema.has(table):
            versions[table] = ()
            continue
        row = connection.execute(text(_expression(schema, table))).one()
        versions[table] = tuple(str(v) if v is not None else None for v in row)
    return versions


def is_terminal_state(state: str) -> bool:
    """True for an order state that cannot change any more (FILLED, CANCELED, ...)."""
    return state not in OPEN_STATES


__all__ = ["OPEN_STATES", "Version", "is_terminal_state", "table_versions"]
