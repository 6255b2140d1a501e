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
    st.caption(
        "Newest first; repeats of a kind and symbol are one row (`count`, `last` seen). `delivery`: "
        "delivered, pending, undelivered (`error` says why), dropped, or logged (no Slack configured)."
    )
    paged(
        alert_count(source),
        lambda offset, limit: alerts(source, offset, limit),
        key="alerts",
        empty="No alert.",
        prepare=lambda f: utc(f, "time", "last"),
    )


run_page("Alerts", body)
