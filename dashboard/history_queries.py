"""Alerts, reconciliation runs and backtests: tables other issues own, read whatever columns they have.

Each reader selects every column and renames the ones it knows under several names to one shown
name (alerts' `level` or `severity` is shown as severity), so a renamed column at merge time needs
one entry in `ALIASES`, not a new query.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from dashboard.source import cached

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "alerts": {
        "time": ("time", "created_time", "event_time"),
        "last": ("last_time",),
        "severity": ("severity", "level"),
        "kind": ("kind",),
        "symbol": ("symbol",),
        "text": ("text", "message"),
        "count": ("count", "occurrences"),
        "delivery": ("delivery_status", "delivery", "status", "delivered"),
        "attempts": ("attempts", "delivery_attempts"),
    },
    "reconciliation_runs": {
        "time": ("time", "event_time"),
        "trigger": ("trigger",),
        "result": ("result",),
        "differences": ("differences",),
        "duration_ms": ("duration_ms",),
        "detail": ("detail",),
    },
    "backtest_runs": {
        "time": ("created_time", "time"),
        "name": ("name",),
        "status": ("status",),
    },
}


def shown(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with known columns renamed and put first; unknown columns kept after them."""
    renames: dict[str, str] = {}
    for name, candidates in ALIASES.get(table, {}).items():
        found = next((c for c in candidates if c in frame.columns and c not in renames), None)
        if found is not None:
            renames[found] = name
    frame = frame.rename(columns=renames)
    known = list(renames.values())
    return frame[known + [c for c in frame.columns if c not in known]]


def _page(connection: Connection, table: str, offset: int, limit: int, where: str = "") -> pd.DataFrame:
    frame = pd.read_sql_query(
        text(f"SELECT * FROM {table}{where} ORDER BY id DESC LIMIT :limit OFFSET :offset"),
        connection,
        params={"limit": limit, "offset": offset},
    )
    return shown(table, frame)


def _count(connection: Connection, table: str) -> int:
    return int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() or 0)


@cached("alerts")
def alert_count(connection: Connection) -> int:
    """How many alerts are stored."""
    return _count(connection, "alerts")


@cached("alerts")
def alerts(connection: Connection, offset: int, limit: int) -> pd.DataFrame:
    """One page of alerts, newest first."""
    return _page(connection, "alerts", offset, limit).drop(columns=["id"], errors="ignore")


@cached("reconciliation_runs")
def run_count(connection: Connection) -> int:
    """How many reconciliation runs are stored."""
    return _count(connection, "reconciliation_runs")


@cached("reconciliation_runs")
def reconciliation_runs(connection: Connection, offset: int, limit: int) -> pd.DataFrame:
    """One page of reconciliation runs, newest first (with their id, to open the differences)."""
    return _page(connection, "reconciliation_runs", offset, limit)


@cached("reconciliation_differences")
def differences(connection: Connection, run_id: int) -> pd.DataFrame:
    """What one reconciliation run found and did (empty when that table does not exist)."""
    frame = pd.read_sql_query(
        text("SELECT * FROM reconciliation_differences WHERE run_id = :run ORDER BY id"),
        connection,
        params={"run": run_id},
    )
    return frame.drop(columns=["id", "run_id"], errors="ignore")


@cached("backtest_runs")
def backtest_runs(connection: Connection) -> pd.DataFrame:
    """Every backtest run without its documents, newest first."""
    frame = pd.read_sql_query(text("SELECT * FROM backtest_runs ORDER BY id DESC LIMIT 500"), connection)
    return shown("backtest_runs", frame.drop(columns=["config", "result"], errors="ignore"))


@cached("backtest_runs")
def backtest_documents(connection: Connection, run_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One run's configuration and result documents (JSON)."""
    row = connection.execute(
        text("SELECT config, result FROM backtest_runs WHERE id = :id"), {"id": run_id}
    ).first()
    if row is None:
        return {}, {}
    return _json(row[0]), _json(row[1])


@cached("backtest_trades")
def backtest_trades(connection: Connection, run_id: int, limit: int = 5000) -> pd.DataFrame:
    """One run's trades from the `backtest_trades` table."""
    frame = pd.read_sql_query(
        text("SELECT * FROM backtest_trades WHERE run_id = :run ORDER BY id LIMIT :limit"),
        connection,
        params={"run": run_id, "limit": limit},
    )
    return frame.drop(columns=["run_id"], errors="ignore")


def _json(value: object) -> dict[str, Any]:
    try:
        parsed = json.loads(str(value)) if value is not None else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
