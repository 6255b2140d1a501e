"""Market reads for the chart: symbols, 1m candles, and the signals and fills to mark on them."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from dashboard.money import dec
from dashboard.source import cached

# A loose index scan: one primary-key seek per symbol instead of reading every candle.
_SYMBOLS = text(
    "WITH RECURSIVE s(symbol) AS ("
    " SELECT MIN(symbol) FROM candles_1m"
    " UNION ALL SELECT (SELECT MIN(symbol) FROM candles_1m WHERE symbol > s.symbol) FROM s"
    " WHERE s.symbol IS NOT NULL)"
    " SELECT symbol FROM s WHERE symbol IS NOT NULL"
)


def market_symbols(connection: Connection) -> list[str]:
    """Every symbol with stored candles, in order."""
    return [str(r[0]) for r in connection.execute(_SYMBOLS)]


def latest_candle_time(connection: Connection, symbol: str) -> int | None:
    """Open time of the symbol's newest candle (one primary-key seek): the chart's cache key."""
    value = connection.execute(
        text("SELECT MAX(open_time) FROM candles_1m WHERE symbol = :s"), {"s": symbol}
    ).scalar()
    return None if value is None else int(value)


@cached()
def candles(connection: Connection, symbol: str, start_ms: int, end_ms: int, _latest: int) -> pd.DataFrame:
    """1m candles of `symbol` with open time in [start_ms, end_ms]; `_latest` only keys the cache."""
    rows = connection.execute(
        text(
            "SELECT open_time, open, high, low, close, volume FROM candles_1m"
            " WHERE symbol = :s AND open_time >= :a AND open_time <= :b ORDER BY open_time"
        ),
        {"s": symbol, "a": start_ms, "b": end_ms},
    ).all()
    return pd.DataFrame(
        {
            "open_time": [int(r[0]) for r in rows],
            **{
                name: [float(dec(r[i])) for r in rows]
                for i, name in enumerate(("open", "high", "low", "close", "volume"), 1)
            },
        }
    )


_INPUT_KEYS = ("rule", "vwap", "sigma", "adx", "adx_max", "band_k", "exit_band_k")


@cached("signals", "risk_decisions")
def chart_signals(
    connection: Connection, symbol: str, start_ms: int, end_ms: int, limit: int = 2000
) -> pd.DataFrame:
    """The symbol's signals in the range with the risk gate's verdict, newest `limit` of them."""
    rows = connection.execute(
        text(
            "SELECT s.event_time, s.action, s.reason, s.price, s.inputs, r.accepted, r.reason"
            " FROM signals s LEFT JOIN risk_decisions r ON r.signal_id = s.signal_id"
            " WHERE s.symbol = :s AND s.event_time >= :a AND s.event_time <= :b"
            " ORDER BY s.event_time DESC LIMIT :n"
        ),
        {"s": symbol, "a": start_ms, "b": end_ms, "n": limit},
    ).all()
    records: list[dict[str, Any]] = []
    for time, action, reason, price, inputs, accepted, verdict in rows:
        values = _inputs(inputs)
        records.append(
            {
                "time": int(time),
                "action": action,
                "reason": reason,
                "price": float(dec(price)),
                "accepted": accepted,
                "verdict": verdict,
                **{k: values.get(k, "") for k in _INPUT_KEYS},
            }
        )
    return pd.DataFrame(
        records, columns=["time", "action", "reason", "price", "accepted", "verdict", *_INPUT_KEYS]
    )


def _inputs(document: object) -> dict[str, str]:
    try:
        parsed = json.loads(str(document))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


@cached("fills")
def chart_fills(
    connection: Connection, symbol: str, start_ms: int, end_ms: int, limit: int = 2000
) -> pd.DataFrame:
    """The symbol's fills in the range, newest `limit` of them."""
    rows = connection.execute(
        text(
            "SELECT time, side, price, quantity, realized_pnl FROM fills"
            " WHERE symbol = :s AND time >= :a AND time <= :b ORDER BY time DESC LIMIT :n"
        ),
        {"s": symbol, "a": start_ms, "b": end_ms, "n": limit},
    ).all()
    return pd.DataFrame(
        [
            {
                "time": int(r[0]),
                "side": r[1],
                "price": float(dec(r[2])),
                "quantity": str(dec(r[3])),
                "realized_pnl": float(dec(r[4])),
            }
            for r in rows
        ],
        columns=["time", "side", "price", "quantity", "realized_pnl"],
    )


__all__ = ["candles", "chart_fills", "chart_signals", "latest_candle_time", "market_symbols"]
