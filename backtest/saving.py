"""A finished backtest into the database: one `backtest_runs` row and its `backtest_trades`.

The run row holds the configuration (JSON), the report document (the same as `--json`, plus an
`equity_curve` of [time ms, equity] pairs for the dashboard's chart), the config's hash and the data
range; the trades are rows of exact numbers. One transaction: a run is saved whole or not at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import Session

from backtest.trades import Trade
from database.backtest_tables import BacktestTradeRow
from database.models import BacktestRunRow


def save_run(
    engine: Engine, name: str, config: Mapping[str, Any], report: Mapping[str, Any], trades: Sequence[Trade]
) -> int:
    """Store the run and its trades; returns the run's id."""
    result = {**report, "equity_curve": [[p["time_ms"], p["equity"]] for p in report.get("equity", [])]}
    run = BacktestRunRow(
        created_time=int(time.time() * 1000),
        name=name[:200],
        config=json.dumps(config, sort_keys=True, default=str),
        result=json.dumps(result),
        status="finished",
        config_hash=report["config_hash"],
        start_time=report["period"]["start_ms"],
        end_time=report["period"]["end_ms"],
    )
    with Session(engine) as session:
        session.add(run)
        session.flush()
        assert run.id is not None
        rows = [
            {
                "run_id": run.id,
                "symbol": t.symbol,
                "side": t.side,
                "quantity": t.quantity,
                "entry_time": t.entry_time,
                "entry_price": t.entry_price,
                "exit_time": t.exit_time,
                "exit_price": t.exit_price,
                "reason": t.reason,
                "gross_pnl": t.gross_pnl,
                "fees": t.fees,
                "funding": t.funding,
                "net_pnl": t.net_pnl,
            }
            for t in trades
        ]
        if rows:
            session.execute(insert(BacktestTradeRow.__table__), rows)  # type: ignore[attr-defined]
        session.commit()
        return run.id


__all__ = ["save_run"]
