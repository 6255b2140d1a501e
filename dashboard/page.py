"""The frame of every page: badges and banner on top, the body, a footer, refreshed in place.

The body runs inside an `st.fragment` that re-runs every few seconds (the sidebar's choice): only
the page's own elements are replaced, in place, so nothing flickers, and its cached queries re-run
only when their tables changed. The footer tells how long the render took and how many queries
ran; its container (`st-key-page-rendered`) is what the browser test and the benchmark wait for.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.context import Context, load_context
from dashboard.widgets import banner, mode_badges

REFRESH_KEY = "refresh_s"
REFRESH_CHOICES: dict[str, float | None] = {"off": None, "2 s": 2.0, "5 s": 5.0, "10 s": 10.0, "30 s": 30.0}
DEFAULT_REFRESH = "5 s"

Body = Callable[[Context], None]


def refresh_seconds() -> float | None:
    """The auto-refresh interval chosen in the sidebar (None: off)."""
    return REFRESH_CHOICES.get(str(st.session_state.get(REFRESH_KEY, DEFAULT_REFRESH)), 5.0)


def run_page(title: str, body: Body, *, needs_database: bool = True) -> None:
    """Render `body` under the shared header and footer, re-run every refresh interval."""

    def frame() -> None:
        started = time.perf_counter()
        context = load_context()
        mode_badges(context.health)
        banner(context.health)
        st.title(title)
        if context.source is None and needs_database:
            explain_missing_database(context)
        else:
            try:
                body(context)
            except SQLAlchemyError as exc:  # a locked file, a restarted server: say so, retry next refresh
                st.error(
                    f"Reading the database failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                )
        _footer(title, context, started)

    st.fragment(frame, run_every=refresh_seconds(), key=f"page-{title}")()


def explain_missing_database(context: Context) -> None:
    """What to run when there is nothing to read yet."""
    st.info(f"{context.problem} {context.hint or ''}".strip(), icon=":material/info:")


def _footer(title: str, context: Context, started: float) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    source = context.source
    queries = (
        f"{source.queries_run} queries run, {source.queries_cached} from cache" if source else "no database"
    )
    refresh = refresh_seconds()
    every = f"refreshes every {refresh:g} s" if refresh else "auto-refresh off"
    with st.container(key="page-rendered"):
        st.caption(
            f"{title} rendered in {elapsed_ms:,.0f} ms · {queries} · {every} · database {context.url_shown}"
            f" · heartbeat {context.heartbeat_path} · times in UTC"
        )
