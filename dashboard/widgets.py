"""Pieces every page uses: paged tables, times shown in UTC, the health banner and the mode badge."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.heartbeat_view import Health, Status
from dashboard.money import dec

PAGE_SIZE = 50
_STATUS_COLORS = {
    Status.UP: "green",
    Status.DEGRADED: "orange",
    Status.STALE: "red",
    Status.STOPPED: "gray",
    Status.MISSING: "red",
}


def utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Epoch-millisecond columns shown as UTC date-times (missing values stay empty)."""
    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(pd.to_numeric(frame[column], errors="coerce"), unit="ms", utc=True)
    return frame


def numbers(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Money columns (decimal text or Decimal) as sortable numbers; the database keeps them exact."""
    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            frame[column] = [None if v is None else float(dec(v)) for v in frame[column]]
    return frame


def paged(
    total: int,
    fetch: Callable[[int, int], pd.DataFrame],
    *,
    key: str,
    empty: str,
    prepare: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f,
    column_config: dict[str, Any] | None = None,
) -> None:
    """A table that reads one page of `total` rows at a time (newest first)."""
    if total == 0:
        st.caption(empty)
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    page = 1
    if pages > 1:
        page = int(
            st.number_input(
                f"page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1, key=f"{key}-page"
            )
        )
    offset = (page - 1) * PAGE_SIZE
    frame = prepare(fetch(offset, PAGE_SIZE))
    st.dataframe(frame, hide_index=True, width="stretch", column_config=column_config, key=f"{key}-table")
    st.caption(f"rows {offset + 1:,}–{offset + len(frame):,} of {total:,}, newest first")


def table(frame: pd.DataFrame, *, empty: str, key: str, column_config: dict[str, Any] | None = None) -> None:
    """A small table, or a line saying there is nothing to show."""
    if frame.empty:
        st.caption(empty)
    else:
        st.dataframe(frame, hide_index=True, width="stretch", column_config=column_config, key=key)


def money_columns(names: Iterable[str], places: int = 2) -> dict[str, Any]:
    """Column formats for money columns."""
    return {name: st.column_config.NumberColumn(format=f"%.{places}f") for name in names}


def banner(health: Health) -> None:
    """The red banner when there is no fresh heartbeat: prices and states below may be old."""
    if health.status is Status.MISSING:
        st.error(
            f"**No heartbeat.** {health.problem}. What is shown comes from the database only.",
            icon=":material/error:",
        )
    elif health.status is Status.STALE:
        st.error(
            f"**Heartbeat STALE**: {health.reasons[0]}. Check `logs/trader.log`; states shown are old.",
            icon=":material/error:",
        )


def mode_badges(health: Health) -> None:
    """The LIVE badge (real money) and the health status, at the top of every page."""
    columns = st.columns([1, 1, 6])
    with columns[0]:
        if health.is_live:
            st.badge("LIVE — REAL MONEY", icon=":material/warning:", color="red")
        else:
            st.badge(health.mode.upper(), color="blue")
    with columns[1]:
        st.badge(health.status.value, color=_STATUS_COLORS[health.status])  # type: ignore[arg-type]
    if health.is_live:
        st.markdown(
            "<div style='background:#d00000;color:white;font-weight:700;padding:0.4rem 0.8rem;"
            "border-radius:0.4rem;text-align:center;letter-spacing:0.05em'>"
            "LIVE TRADING — orders on Binance with real money</div>",
            unsafe_allow_html=True,
        )
