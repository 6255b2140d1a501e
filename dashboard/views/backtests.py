"""Backtests: every run, and one run's report, equity curve and trades."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.charts import line_figure
from dashboard.context import Context
from dashboard.history_queries import backtest_documents, backtest_runs, backtest_trades
from dashboard.page import run_page
from dashboard.source import Source
from dashboard.widgets import table, utc

MAX_POINTS = 1000


def _curve(result: dict[str, Any]) -> pd.DataFrame:
    """The run's equity curve from its result document ([time, equity] pairs or records), thinned."""
    lists = [result[k] for k in ("equity_curve", "equity") if isinstance(result.get(k), list)]
    points: list[Any] = lists[0] if lists else []
    rows = [
        p if isinstance(p, dict) else {"time": p[0], "equity": p[1]}
        for p in points
        if isinstance(p, dict | list)
    ]
    frame = pd.DataFrame(rows)
    if frame.empty or not {"time", "equity"} <= set(frame.columns):
        return pd.DataFrame()
    frame = frame.iloc[:: max(1, len(frame) // MAX_POINTS)]
    return pd.DataFrame(
        {"time": pd.to_datetime(frame["time"], unit="ms", utc=True), "equity": pd.to_numeric(frame["equity"])}
    )


def _report(source: Source, run_id: int) -> None:
    config, result = backtest_documents(source, run_id)
    scalars = {k: v for k, v in result.items() if isinstance(v, str | int | float | bool) or v is None}
    st.subheader("Report")
    table(
        pd.DataFrame([{"figure": k, "value": str(v)} for k, v in scalars.items()]),
        empty="No result recorded.",
        key="report",
    )
    with st.expander("Configuration"):
        st.json(config)
    curve = _curve(result)
    if not curve.empty:
        st.plotly_chart(
            line_figure(curve, "time", "equity", "Backtest equity", f"bt-{run_id}"), key="backtest-equity"
        )
    st.subheader("Trades")
    if source.schema.has("backtest_trades", "run_id"):
        trades = backtest_trades(source, run_id)
    else:
        listed = result.get("trades")
        trades = pd.DataFrame(listed if isinstance(listed, list) else [])
    table(trades, empty="No trades recorded for this run.", key="backtest-trades")


def body(context: Context) -> None:
    """The Backtests page."""
    source = context.source
    assert source is not None
    runs = utc(backtest_runs(source), "time")
    table(runs, empty="No backtest run.", key="backtest-runs")
    if "id" in runs.columns and not runs.empty:
        choices = [int(i) for i in runs["id"]]
        run_id = st.selectbox(
            "Run", choices, format_func=lambda i: f"#{i} {_name(runs, i)}", key="backtest-run"
        )
        if run_id is not None:
            _report(source, int(run_id))


def _name(runs: pd.DataFrame, run_id: int) -> str:
    row = runs[runs["id"] == run_id]
    return str(row["name"].iloc[0]) if "name" in runs.columns and not row.empty else ""


run_page("Backtests", body)
