"""What the database holds, looked up at run time: the dashboard runs against older and newer schemas.

A page that needs a table another issue adds (alerts, reconciliation runs, backtest trades) asks
here first, so a missing table or column hides that page or column instead of failing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Schema:
    """Tables and their columns; empty when the database has not been migrated yet."""

    columns: dict[str, frozenset[str]] = field(default_factory=dict)

    def has(self, table: str, *columns: str) -> bool:
        """True when `table` exists with every one of `columns`."""
        found = self.columns.get(table)
        return found is not None and all(c in found for c in columns)

    def first_of(self, table: str, *candidates: str) -> str | None:
        """The first of `candidates` that `table` has (columns named differently by another issue)."""
        found = self.columns.get(table, frozenset())
        return next((c for c in candidates if c in found), None)

    @property
    def migrated(self) -> bool:
        """True once the daemon (or `python -m trader db upgrade`) has created the tables."""
        return self.has("orders") and self.has("fills")


def read_schema(connection: Connection) -> Schema:
    """Every table of the database and its columns."""
    inspector = inspect(connection)
    return Schema(
        {
            table: frozenset(c["name"] for c in inspector.get_columns(table))
            for table in inspector.get_table_names()
        }
    )


def has_rows(connection: Connection, schema: Schema, table: str) -> bool:
    """True when `table` exists and holds at least one row (a page with nothing to show is hidden)."""
    if not schema.has(table):
        return False
    return connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None


def schema_revision(connection: Connection, schema: Schema) -> str | None:
    """The Alembic revision the database is at; None before the first migration."""
    if not schema.has("alembic_version"):
        return None
    value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


__all__ = ["Schema", "has_rows", "read_schema", "schema_revision"]
