"""Portfolio reads: positions, open orders, fills, and the money they made (exact, in Decimal).

Each function takes a read-only connection; `cached(...)` keys it by the tables it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from dashboard.money import dec
from dashboard.source import cached
from dashboard.versions import OPEN_STATES

_DAY_MS = 86_400_000


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


@dataclass(frozen=True)
class Ledger:
    """What the fills and funding payments add up to: by day, by symbol, and over time."""

    daily: pd.DataFrame  # day, realized, fees, funding, net
    by_symbol: pd.DataFrame  # symbol, fills, volume, realized, fees, funding, net, win_rate
    curve: pd.DataFrame  # time, net (cumulative), at most `points` rows


def _bucket() -> list[Decimal]:
    return [Decimal(0), Decimal(0), Decimal(0), Decimal(0)]  # realized, fees, funding, volume


@cached("fills", "funding_payments")
def ledger(connection: Connection, points: int = 1000) -> Ledger:
    """Realized PnL net of fees and funding, summed exactly in Decimal over every fill."""
    days: dict[int, list[Decimal]] = {}
    symbols: dict[str, list[Decimal]] = {}
    counts: dict[str, list[int]] = {}  # fills, wins, losses
    events: list[tuple[int, Decimal]] = []
    fills = connection.execute(
        text("SELECT symbol, time, price, quantity, commission, realized_pnl FROM fills")
    )
    for symbol, time, price, quantity, commission, realized in fills:
        pnl, fee = dec(realized), dec(commission)
        for slot in (days.setdefault(time // _DAY_MS, _bucket()), symbols.setdefault(symbol, _bucket())):
            slot[0] += pnl
            slot[1] += fee
        symbols[symbol][3] += dec(price) * dec(quantity)
        count = counts.setdefault(symbol, [0, 0, 0])
        count[0] += 1
        count[1] += pnl > 0
        count[2] += pnl < 0
        events.append((time, pnl - fee))
    for symbol, time, amount in connection.execute(text("SELECT symbol, time, amount FROM funding_payments")):
        paid = dec(amount)
        days.setdefault(time // _DAY_MS, _bucket())[2] += paid
        symbols.setdefault(symbol, _bucket())[2] += paid
        counts.setdefault(symbol, [0, 0, 0])
        events.append((time, paid))
    return Ledger(_daily(days), _by_symbol(symbols, counts), _curve(events, points))


def _daily(days: dict[int, list[Decimal]]) -> pd.DataFrame:
    rows = [
        {
            "day": pd.Timestamp(day * _DAY_MS, unit="ms").date(),
            "realized": float(v[0]),
            "fees": float(v[1]),
            "funding": float(v[2]),
            "net": float(v[0] - v[1] + v[2]),
        }
        for day, v in sorted(days.items(), reverse=True)
    ]
    return pd.DataFrame(rows, columns=["day", "realized", "fees", "funding", "net"])


def _by_symbol(symbols: dict[str, list[Decimal]], counts: dict[str, list[int]]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for symbol, v in symbols.items():
        fills, wins, losses = counts[symbol]
        rows.append(
            {
                "symbol": symbol,
                "fills": fills,
                "volume": float(v[3]),
                "realized": float(v[0]),
                "fees": float(v[1]),
                "funding": float(v[2]),
                "net": float(v[0] - v[1] + v[2]),
                "win_rate": wins / (wins + losses) if wins + losses else None,
            }
        )
    columns = ["symbol", "fills", "volume", "realized", "fees", "funding", "net", "win_rate"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("net", ascending=False, ignore_index=True) if rows else frame


def _curve(events: list[tuple[int, Decimal]], points: int) -> pd.DataFrame:
    events.sort(key=lambda e: e[0])
    total = Decimal(0)
    every = max(1, len(events) // points)
    times: list[int] = []
    values: list[float] = []
    for i, (time, change) in enumerate(events):
        total += change
        if i % every == every - 1 or i == len(events) - 1:
            times.append(time)
            values.append(float(total))
    return pd.DataFrame({"time": pd.to_datetime(times, unit="ms", utc=True), "net": values})


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
