"""Reconciliation: each comparison of our records with the venue's, and what differed."""

from __future__ import annotations

import streamlit as st

from dashboard.context import Context
from dashboard.history_queries import differences, reconciliation_runs, run_count
from dashboard.page import run_page
from dashboard.widgets import paged, table, utc


def body(context: Context) -> None:
    """The Reconciliation page."""
    source = context.source
    assert source is not None
    st.caption(
        "ok: nothing differed · repaired: differences found and fixed · mismatch: a position differs"
        " and that symbol's entries are paused · failed: the venue could not be asked."
    )
    paged(
        run_count(source),
        lambda offset, limit: reconciliation_runs(source, offset, limit),
        key="runs",
        empty="No reconciliation has run.",
        prepare=lambda f: utc(f, "time"),
    )
    if source.schema.has("reconciliation_differences", "run_id"):
        st.subheader("Differences of one run")
        run_id = st.number_input(
            "run id", min_value=1, step=1, value=None, key="run-id", placeholder="a run's id"
        )
        if run_id is not None:
            table(
                utc(differences(source, int(run_id)), "time"),
                empty="That run found no difference.",
                key="differences",
            )


run_page("Reconciliation", body)
