"""Signals and risk: what the strategies asked for, what the risk gate decided, halts and limits."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.context import Context
from dashboard.market_queries import market_symbols
from dashboard.money import dec
from dashboard.page import run_page
from dashboard.signals_queries import (
    decision_count,
    halts,
    recent_signals,
    rejections_by_rule,
    risk_decisions,
    signal_count,
    volatility_count,
    volatility_events,
)
from dashboard.source import Source
from dashboard.widgets import paged, table, utc


def _limits(document: dict[str, Any]) -> None:
    st.subheader("Limits: used vs allowed")
    limits = document.get("risk_limits")
    if not isinstance(limits, list):
        st.caption("Not reported by this heartbeat." if document else "No heartbeat.")
        return
    rows = []
    for limit in limits:
        used, allowed = dec(limit.get("used")), dec(limit.get("allowed"))
        rows.append(
            {
                "limit": limit.get("name"),
                "scope": limit.get("scope"),
                "used": limit.get("used"),
                "allowed": limit.get("allowed"),
                "share": float(used / allowed) if allowed else None,
            }
        )
    config = {
        "share": st.column_config.ProgressColumn("used", format="percent", min_value=0.0, max_value=1.0)
    }
    table(pd.DataFrame(rows), empty="No limit reported.", key="limits", column_config=config)


def _halts(source: Source, document: dict[str, Any]) -> None:
    st.subheader("Halts")
    risk = document.get("risk")
    if isinstance(risk, dict) and risk.get("kill_switch"):
        st.error("Kill switch ON: no new entries on any symbol (`python -m trader resume` lifts it).")
    table(utc(halts(source), "until", "since"), empty="No halt in force.", key="halts")


def _filters(source: Source) -> tuple[str | None, str]:
    with source.connect() as connection:
        symbols = market_symbols(connection)
    left, right = st.columns([2, 3])
    symbol = left.selectbox("Symbol", ["all", *symbols], key="signals-symbol")
    outcome = right.segmented_control(
        "Risk decisions", ["all", "accepted", "rejected"], default="all", key="signals-outcome"
    )
    return (None if symbol == "all" else str(symbol)), str(outcome or "all")


def body(context: Context) -> None:
    """The Signals & risk page."""
    source = context.source
    assert source is not None
    document = context.health.document
    _halts(source, document)
    _limits(document)
    symbol, outcome = _filters(source)
    st.subheader("Signals")
    paged(
        signal_count(source, symbol),
        lambda offset, limit: recent_signals(source, symbol, offset, limit),
        key="signals",
        empty="No signal yet: the strategies have not fired (or the daemon has not run).",
        prepare=lambda f: utc(f, "time"),
    )
    st.subheader("Risk decisions")
    paged(
        decision_count(source, symbol, outcome),
        lambda offset, limit: risk_decisions(source, symbol, outcome, offset, limit),
        key="decisions",
        empty="No risk decision matches.",
        prepare=lambda f: utc(f, "time"),
    )
    st.subheader("Rejections by rule")
    table(utc(rejections_by_rule(source), "last_time"), empty="No signal was rejected.", key="rejections")
    st.subheader("Volatility guard activations")
    paged(
        volatility_count(source),
        lambda offset, limit: volatility_events(source, offset, limit),
        key="volatility",
        empty="The volatility guard has not fired.",
        prepare=lambda f: utc(f, "time", "blocked_until"),
    )


run_page("Signals & risk", body)
