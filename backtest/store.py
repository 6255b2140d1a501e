"""Imported history in the database: bulk upserts for `data import`, columns out for the backtest.

Writes go around the ORM on purpose: a million candles through SQLAlchemy objects take minutes,
the driver's own bulk path takes seconds. SQLite gets one `executemany` of INSERT ... ON CONFLICT
DO UPDATE per batch; PostgreSQL a COPY into a temporary table, then one INSERT ... SELECT ... ON
CONFLICT DO UPDATE. Either way a candle is stored once (the last import wins) and each batch is
its own transaction, so what was imported before a bad row stays. Prices arrive as canonical
decimal text (backtest/archive.py), the form `database.types.Money` stores on SQLite; PostgreSQL
parses the same text into NUMERIC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from backtest.archive import Candle, Funding, interval_label
from simulator.bars import MINUTE_MS

_PRICES = ("open", "high", "low", "close", "volume", "quote_volume")
_ONE_MINUTE = (
    "candles_1m",
    ("symbol", "open_time", "close_time", *_PRICES, "trades"),
    ("symbol", "open_time"),
)
_OTHER = (
    "candles",
    ("symbol", "interval", "open_time", "close_time", *_PRICES, "trades"),
    ("symbol", "interval", "open_time"),
)
_FUNDING = ("funding_rates", ("symbol", "funding_time", "interval_hours", "rate"), ("symbol", "funding_time"))


@dataclass(frozen=True, slots=True)
class Stored:
    """What the database holds for one symbol and interval."""

    symbol: str
    interval: str
    candles: int
    first_open_time: int
    last_open_time: int


@dataclass(frozen=True, slots=True)
class Columns:
    """One symbol's candles as plain columns (what `backtest.series.BarSeries` is built from)."""

    open_times: list[int]
    opens: list[float]
    highs: list[float]
    lows: list[float]
    closes: list[float]
    volumes: list[float]
    quote_volumes: list[float]


def _upsert(
    engine: Engine, table: tuple[str, tuple[str, ...], tuple[str, ...]], rows: Sequence[tuple[Any, ...]]
) -> None:
    name, columns, key = table
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    names = ", ".join(columns)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS import_{name} (LIKE {name}) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY import_{name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            # DISTINCT ON: one row per key, as ON CONFLICT updates a row once; the last one copied
            # (the highest ctid of the freshly emptied temporary table) wins, as on SQLite.
            keys = ", ".join(key)
            cursor.execute(
                f"INSERT INTO {name} ({names}) SELECT DISTINCT ON ({keys}) {names} "
                f"FROM import_{name} ORDER BY {keys}, ctid DESC {conflict}"
            )
        else:
            marks = ", ".join("?" for _ in columns)
            connection.exec_driver_sql(
                f"INSERT INTO {name} ({names}) VALUES ({marks}) {conflict}", list(rows)
            )


def put_candles(engine: Engine, interval: str, rows: Sequence[Candle]) -> None:
    """Store checked candles of `interval` (1m to candles_1m, others to candles)."""
    if interval == "1m":
        _upsert(engine, _ONE_MINUTE, rows)
    else:
        _upsert(engine, _OTHER, [(r[0], interval, *r[1:]) for r in rows])


def put_funding(engine: Engine, rows: Sequence[Funding]) -> None:
    """Store checked funding rates."""
    _upsert(engine, _FUNDING, rows)


def stored(engine: Engine) -> list[Stored]:
    """Every (symbol, interval) the database holds candles of."""
    with engine.connect() as connection:
        ones = connection.execute(
            text("SELECT symbol, count(*), min(open_time), max(open_time) FROM candles_1m GROUP BY symbol")
        ).all()
        others = connection.execute(
            text(
                "SELECT symbol, interval, count(*), min(open_time), max(open_time) FROM candles "
                "GROUP BY symbol, interval"
            )
        ).all()
    out = [Stored(s, "1m", n, a, b) for s, n, a, b in ones]
    out += [Stored(s, i, n, a, b) for s, i, n, a, b in others]
    return sorted(out, key=lambda x: (x.symbol, x.interval))


def read_candles(
    engine: Engine, symbol: str, interval: str, start_ms: int | None = None, end_ms: int | None = None
) -> Columns:
    """`symbol`'s candles of `interval` opened in [start_ms, end_ms), oldest first."""
    where = "symbol = :symbol"
    params: dict[str, Any] = {"symbol": symbol}
    table = "candles_1m"
    if interval != "1m":
        table, where = "candles", where + " AND interval = :interval"
        params["interval"] = interval
    if start_ms is not None:
        where += " AND open_time >= :start"
        params["start"] = start_ms
    if end_ms is not None:
        where += " AND open_time < :end"
        params["end"] = end_ms
    sql = f"SELECT open_time, {', '.join(_PRICES)} FROM {table} WHERE {where} ORDER BY open_time"
    with engine.connect() as connection:
        rows = connection.execute(text(sql), params).all()
    columns: tuple[list[Any], ...] = tuple([] for _ in range(7))
    for row in rows:
        columns[0].append(row[0])
        for i in range(1, 7):
            columns[i].append(float(row[i]))
    return Columns(*columns)


def read_funding(engine: Engine, symbols: Sequence[str]) -> dict[str, dict[int, Decimal]]:
    """The stored funding rates of `symbols`: symbol -> {funding time: rate}."""
    out: dict[str, dict[int, Decimal]] = {s: {} for s in symbols}
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT symbol, funding_time, rate FROM funding_rates ORDER BY funding_time")
        )
        for symbol, time, rate in rows:
            if symbol in out:
                out[symbol][time] = Decimal(str(rate)).normalize()
    return out


def label_of(interval_ms: int) -> str:
    """The stored label of an interval in ms (1m for `MINUTE_MS`)."""
    return "1m" if interval_ms == MINUTE_MS else interval_label(interval_ms)


__all__ = [
    "Columns",
    "Stored",
    "label_of",
    "put_candles",
    "put_funding",
    "read_candles",
    "read_funding",
    "stored",
]
