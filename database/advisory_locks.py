"""Which daemon trades which symbol, as PostgreSQL advisory locks on one dedicated connection.

A session-level advisory lock belongs to the connection that took it: when the daemon dies (or
its connection drops) the server frees it, and another daemon can take it. The key is a stable
hash of the symbol, the same in every process and every version. The connection's
`application_name` carries the instance id, so a daemon can say who holds a symbol it was refused.
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from database.engine import normalize_url

APPLICATION_PREFIX = "trader:"
_CONNECT_TIMEOUT_S = 5

_HOLDERS = """
SELECT l.classid, l.objid, l.pid = pg_backend_pid(), a.application_name
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def lock_key(symbol: str) -> int:
    """The signed 64-bit advisory-lock key of `symbol` (stable across processes and versions)."""
    digest = hashlib.sha256(f"trader.symbol:{symbol}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _key_of(classid: int, objid: int) -> int:
    """The bigint key of a pg_locks row (high half in classid, low half in objid)."""
    return int.from_bytes(((classid << 32) | objid).to_bytes(8, "big"), "big", signed=True)


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as the connection string psycopg takes."""
    return normalize_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    """True when `url` names a PostgreSQL database."""
    return make_url(url).get_backend_name() == "postgresql"


class SymbolLocks:
    """The dedicated connection and the advisory locks it holds for one daemon instance."""

    def __init__(self, url: str, instance_id: str) -> None:
        self._url = libpq_url(url)
        self.instance_id = instance_id
        self._conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None

    @property
    def connected(self) -> bool:
        """True while the dedicated connection is open (as far as the client knows)."""
        return self._conn is not None and not self._conn.closed

    async def connect(self) -> None:
        """Open the dedicated connection (autocommit: the locks are session-level)."""
        await self.close()
        self._conn = await psycopg.AsyncConnection.connect(
            self._url,
            autocommit=True,
            application_name=f"{APPLICATION_PREFIX}{self.instance_id}"[:63],
            connect_timeout=_CONNECT_TIMEOUT_S,
        )

    async def try_take(self, symbol: str) -> bool:
        """Take `symbol`'s lock if no other session holds it (True: ours now, or already ours)."""
        cursor = await self._connection().execute("SELECT pg_try_advisory_lock(%s)", (lock_key(symbol),))
        row = await cursor.fetchone()
        return bool(row and row[0])

    async def release(self, symbol: str) -> None:
        """Give `symbol` up (it left the configuration)."""
        await self._connection().execute("SELECT pg_advisory_unlock(%s)", (lock_key(symbol),))

    async def holders(self, symbols: list[str]) -> tuple[set[str], dict[str, str]]:
        """Asked of the server, not remembered: the symbols this connection holds, and the
        instance id holding each of the others that some session holds."""
        by_key = {lock_key(symbol): symbol for symbol in symbols}
        ours: set[str] = set()
        theirs: dict[str, str] = {}
        cursor = await self._connection().execute(_HOLDERS)
        for classid, objid, mine, application in await cursor.fetchall():
            symbol = by_key.get(_key_of(int(classid), int(objid)))
            if symbol is None:
                continue
            if mine:
                ours.add(symbol)
            else:
                name = str(application or "")
                theirs[symbol] = name.removeprefix(APPLICATION_PREFIX) or "another session"
        return ours, theirs

    async def close(self) -> None:
        """Close the connection: the server frees every lock it held."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()

    def _connection(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            raise psycopg.OperationalError("the ownership connection is closed")
        return self._conn


__all__ = ["SymbolLocks", "is_postgres", "libpq_url", "lock_key"]
