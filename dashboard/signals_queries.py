"""Signals and risk reads: what the strategies asked for, what the risk gate said, and why."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from dashboard.money import dec
from dashboard.source import cached

SIGNAL_INPUTS = ("rule", "vwap", "sigma", "upper", "lower", "adx", "adx_max", "volatility_range_pct")


def _where(symbol: str | None, alias: str = "", extra: str = "") -> str:
    clauses = [f"{alias}symbol = :symbol"] if symbol else []
    if extra:
        clauses.append(extra)
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def _document(value: object) -> dict[str, str]:
    try:
        parsed = json.loads(str(value))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


@cached("signals")
def signal_count(connection: Connection, symbol: str | None) -> int:
    """How many signals (of one symbol, or all)."""
    query = text(f"SELECT COUNT(*) FROM signals{_where(symbol)}")
    return int(connection.execute(query, {"symbol": symbol}).scalar() or 0)


@cached("signals", "risk_decisions")
def recent_signals(connection: Connection, symbol: str | None, offset: int, limit: int) -> pd.DataFrame:
    """One page of signals, newest first, with their indicator inputs and the risk verdict."""
    rows = connection.execute(
        text(
            "SELECT s.event_time, s.symbol, s.strategy, s.action, s.reason, s.price, s.inputs,"
            " r.accepted, r.reason"
            f" FROM signals s LEFT JOIN risk_decisions r ON r.signal_id = s.signal_id{_where(symbol, 's.')}"
            " ORDER BY s.id DESC LIMIT :limit OFFSET :offset"
        ),
        {"symbol": symbol, "limit": limit, "offset": offset},
    ).all()
    records: list[dict[str, Any]] = []
    for time, sym, strategy, action, reason, price, inputs, accepted, verdict in rows:
        values = _document(inputs)
        records.append(
            {
                "time": time,
                "symbol": sym,
                "strategy": strategy,
                "action": action,
                "price": float(dec(price)),
                "reason": reason,
                "risk": verdict or "—",
                "accepted": accepted,
                **{k: values.get(k, "") for k in SIGNAL_INPUTS},
            }
        )
    columns = ["time", "symbol", "strategy", "action", "price", "reason", "risk", "accepted", *SIGNAL_INPUTS]
    return pd.DataFrame(records, columns=columns)


def _outcome(outcome: str) -> str:
    return {"accepted": "accepted = :yes", "rejected": "accepted = :no"}.get(outcome, "")


@cached("risk_decisions")
def decision_count(connection: Connection, symbol: str | None, outcome: str) -> int:
    """How many risk decisions match the filters (outcome: all, accepted, rejected)."""
    query = text(f"SELECT COUNT(*) FROM risk_decisions{_where(symbol, '', _outcome(outcome))}")
    return int(connection.execute(query, {"symbol": symbol, "yes": True, "no": False}).scalar() or 0)


@cached("risk_decisions")
def risk_decisions(
    connection: Connection, symbol: str | None, outcome: str, offset: int, limit: int
) -> pd.DataFrame:
    """One page of risk decisions, newest first; `rule` is the reason the gate gave."""
    rows = connection.execute(
        text(
            "SELECT event_time, symbol, strategy, accepted, reason, details FROM risk_decisions"
            f"{_where(symbol, '', _outcome(outcome))} ORDER BY id DESC LIMIT :limit OFFSET :offset"
        ),
        {"symbol": symbol, "yes": True, "no": False, "limit": limit, "offset": offset},
    ).all()
    records = [
        {
            "time": r[0],
            "symbol": r[1],
            "strategy": r[2],
            "accepted": bool(r[3]),
            "rule": r[4],
            "details": ", ".join(f"{k}={v}" for k, v in _document(r[5]).items()),
        }
        for r in rows
    ]
    return pd.DataFrame(records, columns=["time", "symbol", "strategy", "accepted", "rule", "details"])


@cached("risk_decisions")
def rejections_by_rule(connection: Connection) -> pd.DataFrame:
    """Rejected signals counted by the rule that rejected them, most frequent first."""
    return pd.read_sql_query(
        text(
            "SELECT reason AS rule, COUNT(*) AS rejections, MAX(event_time) AS last_time FROM risk_decisions"
            " WHERE accepted = :no GROUP BY reason ORDER BY COUNT(*) DESC"
        ),
        connection,
        params={"no": False},
    )


@cached("control")
def halts(connection: Connection) -> pd.DataFrame:
    """The kill switch and per-symbol halts in force (the `control` table)."""
    rows = connection.execute(
        text(
            "SELECT key, value, updated_time FROM control"
            " WHERE key = 'halt' OR key LIKE 'halt:%' ORDER BY key"
        )
    ).all()
    records = []
    for key, value, updated in rows:
        document = _document(value)
        records.append(
            {
                "scope": "every symbol" if key == "halt" else key.split(":", 1)[1],
                "reason": document.get("reason", str(value)),
                "until": document.get("until_ms", "None"),
                "since": updated,
            }
        )
    return pd.DataFrame(records, columns=["scope", "reason", "until", "since"])


@cached("volatility_events")
def volatility_count(connection: Connection) -> int:
    """How many volatility-guard activations are stored."""
    return int(connection.execute(text("SELECT COUNT(*) FROM volatility_events")).scalar() or 0)


@cached("volatility_events")
def volatility_events(connection: Connection, offset: int, limit: int) -> pd.DataFrame:
    """One page of volatility-guard activations, newest first."""
    rows = connection.execute(
        text(
            "SELECT event_time, symbol, strategy, range_fraction, threshold, until_time"
            " FROM volatility_events"
            " ORDER BY id DESC LIMIT :limit OFFSET :offset"
        ),
        {"limit": limit, "offset": offset},
    ).all()
    records = [
        {
            "time": r[0],
            "symbol": r[1],
            "strategy": r[2],
            "range_pct": float(dec(r[3]) * 100),
            "threshold_pct": float(dec(r[4]) * 100),
            "blocked_until": r[5],
        }
        for r in rows
    ]
    return pd.DataFrame(
        records, columns=["time", "symbol", "strategy", "range_pct", "threshold_pct", "blocked_until"]
    )
