"""Portfolio reads: positions, open orders, fills and the equity curve (the ledger is dashboard/ledger.py).

Each function takes a read-only connection; `cached(...)` keys it by the tables it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from dashboard.money import dec
from dashboard.source import cached
from dashboard.versions import OPEN_STATES


@dataclass(frozen=True)
class PositionLine:
    """One symbol's position as stored by the order manager (quantity signed, short < 0)."""

    symbol: str
    strategy: str
    quantity: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    opened_time: int | None

    def unrealized(self, mark: Decimal | None) -> Decimal | None:
        """(mark − entry) × signed quantity, as the order manager computes it."""
        return None if mark is None else (mark - self.entry_price) * self.quantity


@cached("positions")
def positions(connection: Connection) -> list[PositionLine]:
    """Every position row, open ones first."""
    rows = connection.execute(
        text(
            "SELECT symbol, strategy, quantity, entry_price, realized_pnl, fees, funding, opened_time"
            " FROM positions"
        )
    ).all()
    lines = [
        PositionLine(r[0], r[1], dec(r[2]), dec(r[3]), dec(r[4]), dec(r[5]), dec(r[6]), r[7]) for r in rows
    ]
    return sorted(lines, key=lambda p: (p.quantity == 0, p.symbol))


def last_closes(connection: Connection, symbols: list[str]) -> dict[str, tuple[Decimal, int]]:
    """Each symbol's newest stored 1m close and its open time (one primary-key seek each)."""
    found: dict[str, tuple[Decimal, int]] = {}
    query = text("SELECT close, open_time FROM candles_1m WHERE symbol = :s ORDER BY open_time DESC LIMIT 1")
    for symbol in symbols:
        row = connection.execute(query, {"s": symbol}).first()
        if row is not None:
            found[symbol] = (dec(row[0]), int(row[1]))
    return found


@cached("orders")
def open_orders(connection: Connection) -> pd.DataFrame:
    """Orders not yet final, newest first."""
    states = ", ".join(f"'{s}'" for s in OPEN_STATES)
    return pd.read_sql_query(
        text(
            "SELECT created_time AS time, symbol, side, order_type AS type, price, quantity,"
            " filled_qty AS filled,"
            f" state, intent, reduce_only, client_order_id FROM orders WHERE state IN ({states})"
            " ORDER BY id DESC LIMIT 500"
        ),
        connection,
    )


@cached("fills")
def fill_count(connection: Connection) -> int:
    """How many fills are stored."""
    return int(connection.execute(text("SELECT COUNT(*) FROM fills")).scalar() or 0)


@cached("fills")
def recent_fills(connection: Connection, offset: int, limit: int) -> pd.DataFrame:
    """One page of fills, newest first."""
    return pd.read_sql_query(
        text(
            "SELECT time, symbol, side, price, quantity, commission, realized_pnl, is_maker, client_order_id"
            " FROM fills ORDER BY id DESC LIMIT :limit OFFSET :offset"
        ),
        connection,
        params={"limit": limit, "offset": offset},
    )


@cached("equity_snapshots")
def equity_curve(connection: Connection, points: int = 1000) -> pd.DataFrame:
    """The equity snapshots, thinned in SQL to about `points` (the newest of each time bucket)."""
    first, last, count = connection.execute(
        text("SELECT MIN(time), MAX(time), COUNT(*) FROM equity_snapshots")
    ).one()
    if not count:
        return pd.DataFrame({"time": [], "equity": []})
    bucket = max(1, (int(last) - int(first)) // points + 1)
    rows = connection.execute(
        text(
            "SELECT time, equity FROM equity_snapshots WHERE id IN"
            " (SELECT MAX(id) FROM equity_snapshots GROUP BY time / :bucket) ORDER BY time"
        ),
        {"bucket": bucket},
    ).all()
    return pd.DataFrame(
        {
            "time": pd.to_datetime([r[0] for r in rows], unit="ms", utc=True),
            "equity": [float(dec(r[1])) for r in rows],
        }
    )
