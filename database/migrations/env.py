"""Alembic environment for trader's schema.

The URL comes from `database.migrate` (config.attributes["url"]) or, from the alembic command line,
`-x url=...`. Logging is left alone: the daemon configures it (no fileConfig here, which would also
disable every logger that already exists).

Each run is one transaction: SQLite gets BEGIN IMMEDIATE (its driver would otherwise run DDL outside
any transaction, and a second process upgrading at the same moment waits instead of failing);
PostgreSQL takes a transaction-scoped advisory lock for the same reason.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import Engine
from sqlmodel.sql.sqltypes import AutoString

from database.engine import make_engine, normalize_url
from database.models import metadata
from database.types import Money

_PG_LOCK_KEY = 0x7472_6164_6572  # "trader": one upgrade at a time per PostgreSQL database


def _url() -> Any:
    url = context.config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise RuntimeError("no database URL: call database.migrate.upgrade(url) or pass -x url=...")
    return normalize_url(url)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render column types so revisions depend on SQLAlchemy and database.types only."""
    if type_ == "type" and isinstance(obj, Money):
        autogen_context.imports.add("from database.types import Money")
        return "Money()"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _engine() -> Engine:
    engine = make_engine(_url())
    if engine.dialect.name == "sqlite":

        def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        def _begin_immediate(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        event.listen(engine, "connect", _no_driver_transactions)
        event.listen(engine, "begin", _begin_immediate)
    return engine


def run_migrations_online() -> None:
    """Migrate (or compare, for autogenerate) the database at the configured URL."""
    engine = _engine()
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                render_item=_render_item,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
