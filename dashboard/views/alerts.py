"""Alerts: every alert raised, how often, and whether it reached Slack."""

from __future__ import annotations

import streamlit as st

from dashboard.context import Context
from dashboard.history_queries import alert_count, alerts
from dashboard.page import run_page
from dashboard.widgets import paged, utc


def body(context: Context) -> None:
    """The Alerts page."""
    source = context.source
    assert source is not None
    st.caption("Newest first. `delivery` says whether the alert reached its channel (Slack).")
    paged(
        alert_count(source),
        lambda offset, limit: alerts(source, offset, limit),
        key="alerts",
        empty="No alert.",
        prepare=lambda f: utc(f, "time"),
    )


run_page("Alerts", body)
