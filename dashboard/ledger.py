"""The money the fills and funding payments add up to: by UTC day, by symbol, and over time.

Realized PnL net of fees and funding, summed exactly in Decimal. Fills and funding payments are
only ever inserted (booked once), so the sums are kept per server process and brought up to date
with the rows whose id is past the last one read: with 100,000 fills the first read takes a few
hundred milliseconds, a refresh after a new fill reads one row. A database whose ids went back
(replaced at the same URL) is summed again from scratch.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import text

from dashboard.source import Source
from dashboard.versions import Version

DAY_MS = 86_400_000
CURVE_POINTS = 1000
_TABLES = ("fills", "funding_payments")
_FILLS = (
    "SELECT id, symbol, time, price, quantity, commission, realized_pnl FROM fills"
    " WHERE id > {after} ORDER BY id"
)
_FUNDING = "SELECT id, symbol, time, amount FROM funding_payments WHERE id > {after} ORDER BY id"


def _zeros() -> list[Decimal]:
    return [Decimal(0), Decimal(0), Decimal(0), Decimal(0)]  # realized, fees, funding, traded volume


@dataclass(frozen=True)
class Ledger:
    """What the fills and funding payments add up to."""

    daily: pd.DataFrame  # day, realized, fees, funding, net (newest day first)
    by_symbol: pd.DataFrame  # symbol, fills, volume, realized, fees, funding, net, win_rate
    curve: pd.DataFrame  # time, net (cumulative), at most CURVE_POINTS rows


@dataclass
class _Sums:
    """Running sums, and the last fill and funding ids they include."""

    fill_id: int = 0
    funding_id: int = 0
    days: defaultdict[int, list[Decimal]] = field(default_factory=lambda: defaultdict(_zeros))
    symbols: defaultdict[str, list[Decimal]] = field(default_factory=lambda: defaultdict(_zeros))
    counts: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    events: list[tuple[int, Decimal]] = field(default_factory=list)  # (time, net change)
    versions: tuple[Version, ...] | None = None
    result: Ledger | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource(show_spinner=False)
def _sums_for(url: str) -> _Sums:
    return _Sums()


def ledger(source: Source) -> Ledger:
    """The ledger of `source`'s database, updated with the rows written since the last call."""
    versions = source.versions(_TABLES)
    sums = _sums_for(source.url)
    with sums.lock:
        if sums.result is not None and sums.versions == versions:
            source.queries_cached += 1
            return sums.result
        with source.connect() as connection:
            newest = connection.execute(text("SELECT MAX(id) FROM fills")).scalar() or 0
            if newest < sums.fill_id:  # another database at the same URL: start again
                sums.__init__()  # type: ignore[misc]
            # The driver's own cursor: 100,000 rows without building a SQLAlchemy Row for each.
            raw = connection.connection.driver_connection
            assert raw is not None
            fills = _rows(raw, _FILLS.format(after=int(sums.fill_id)))
            funding = _rows(raw, _FUNDING.format(after=int(sums.funding_id)))
        _add_fills(sums, fills)
        _add_funding(sums, funding)
        sums.result = Ledger(_daily(sums), _by_symbol(sums), _curve(sums.events))
        sums.versions = versions
        source.queries_run += 1
        return sums.result


def _rows(raw: Any, query: str) -> list[Sequence[Any]]:
    cursor = raw.cursor()
    try:
        cursor.execute(query)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _add_fills(sums: _Sums, rows: Sequence[Sequence[Any]]) -> None:
    days, symbols, counts, events = sums.days, sums.symbols, sums.counts, sums.events
    for _, symbol, time, price, quantity, commission, realized in rows:
        pnl, fee = Decimal(realized), Decimal(commission)
        day, per_symbol, count = days[time // DAY_MS], symbols[symbol], counts[symbol]
        day[0] += pnl
        day[1] += fee
        per_symbol[0] += pnl
        per_symbol[1] += fee
        per_symbol[3] += Decimal(price) * Decimal(quantity)
        count[0] += 1
        count[1] += pnl > 0
        count[2] += pnl < 0
        events.append((time, pnl - fee))
    if rows:
        sums.fill_id = rows[-1][0]  # read in id order


def _add_funding(sums: _Sums, rows: Sequence[Sequence[Any]]) -> None:
    for _, symbol, time, amount in rows:
        paid = Decimal(amount)
        sums.days[time // DAY_MS][2] += paid
        sums.symbols[symbol][2] += paid
        sums.counts[symbol]  # a symbol with funding and no fill still gets its row
        sums.events.append((time, paid))
    if rows:
        sums.funding_id = rows[-1][0]


def _daily(sums: _Sums) -> pd.DataFrame:
    rows = [
        {
            "day": pd.Timestamp(day * DAY_MS, unit="ms").date(),
            "realized": float(v[0]),
            "fees": float(v[1]),
            "funding": float(v[2]),
            "net": float(v[0] - v[1] + v[2]),
        }
        for day, v in sorted(sums.days.items(), reverse=True)
    ]
    return pd.DataFrame(rows, columns=["day", "realized", "fees", "funding", "net"])


def _by_symbol(sums: _Sums) -> pd.DataFrame:
    rows = []
    for symbol, v in sums.symbols.items():
        fills, wins, losses = sums.counts[symbol]
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


def _curve(events: list[tuple[int, Decimal]]) -> pd.DataFrame:
    events.sort(key=lambda e: e[0])  # nearly sorted already: timsort makes this cheap
    total = Decimal(0)
    every = max(1, len(events) // CURVE_POINTS)
    times: list[int] = []
    values: list[float] = []
    for i, (time, change) in enumerate(events):
        total += change
        if i % every == every - 1 or i == len(events) - 1:
            times.append(time)
            values.append(float(total))
    return pd.DataFrame({"time": pd.to_datetime(times, unit="ms", utc=True), "net": values})


__all__ = ["CURVE_POINTS", "Ledger", "ledger"]
