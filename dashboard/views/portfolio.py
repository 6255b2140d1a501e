"""Portfolio: what it holds now, what is working, what it made (net of fees and funding), and where."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from dashboard.charts import daily_figure, line_figure
from dashboard.context import Context
from dashboard.heartbeat_view import Health, Status, symbols_of
from dashboard.ledger import ledger
from dashboard.money import maybe_dec, usd
from dashboard.page import run_page
from dashboard.portfolio_queries import (
    PositionLine,
    equity_curve,
    fill_count,
    last_closes,
    open_orders,
    positions,
    recent_fills,
)
from dashboard.source import Source
from dashboard.widgets import money_columns, numbers, paged, table, utc


def _marks(source: Source, health: Health, symbols: list[str]) -> dict[str, tuple[Decimal, str]]:
    """Mark price per symbol: the heartbeat's while it is fresh, else the newest stored 1m close."""
    marks: dict[str, tuple[Decimal, str]] = {}
    if health.status in (Status.UP, Status.DEGRADED):
        for symbol, entry in symbols_of(health.document).items():
            position = entry.get("position")
            mark = maybe_dec(position.get("mark_price")) if isinstance(position, dict) else None
            if mark is not None:
                marks[symbol] = (mark, "mark (heartbeat)")
    missing = [s for s in symbols if s not in marks]
    if missing:
        with source.connect() as connection:
            for symbol, (close, open_time) in last_closes(connection, missing).items():
                when = pd.Timestamp(open_time + 60_000, unit="ms", tz="UTC").strftime("%H:%M")
                marks[symbol] = (close, f"last 1m close {when}")
    return marks


def _positions(source: Source, health: Health) -> None:
    st.subheader("Positions")
    lines: list[PositionLine] = [p for p in positions(source) if p.quantity != 0]
    marks = _marks(source, health, [p.symbol for p in lines])
    rows, total = [], Decimal(0)
    for p in lines:
        mark, where = marks.get(p.symbol, (None, "no price"))
        pnl = p.unrealized(mark)
        total += pnl or 0
        rows.append(
            {
                "symbol": p.symbol,
                "side": "LONG" if p.quantity > 0 else "SHORT",
                "quantity": str(abs(p.quantity)),
                "entry": str(p.entry_price),
                "mark": str(mark) if mark is not None else "—",
                "mark from": where,
                "unrealized PnL": usd(pnl),
                "realized": usd(p.realized_pnl),
                "fees": usd(p.fees),
                "funding": usd(p.funding),
                "strategy": p.strategy,
            }
        )
    columns = st.columns(3)
    columns[0].metric("Open positions", len(lines))
    columns[1].metric("Unrealized PnL", usd(total))
    pnl_today = health.document.get("pnl_today")
    columns[2].metric(
        "Net PnL today (heartbeat)", pnl_today.get("net", "—") if isinstance(pnl_today, dict) else "—"
    )
    table(pd.DataFrame(rows), empty="No open position.", key="positions")


def _orders(source: Source) -> None:
    st.subheader("Open orders")
    frame = numbers(utc(open_orders(source), "time"), "price", "quantity", "filled")
    table(frame, empty="No open order.", key="open-orders")


def _money(source: Source) -> None:
    book = ledger(source)
    st.subheader("Realized PnL by day")
    if book.daily.empty:
        st.caption("No fill yet.")
    else:
        st.plotly_chart(daily_figure(book.daily, "daily"), key="daily-chart", config={"displaylogo": False})
        with st.expander("Per day, net of fees and funding"):
            table(
                book.daily,
                empty="",
                key="daily-table",
                column_config=money_columns(("realized", "fees", "funding", "net")),
            )
    st.subheader("Equity")
    equity = equity_curve(source) if source.schema.has("equity_snapshots") else pd.DataFrame()
    if not equity.empty:
        st.plotly_chart(line_figure(equity, "time", "equity", "Equity (USDT)", "equity"), key="equity-chart")
    elif not book.curve.empty:
        st.caption(
            "No equity snapshots recorded: cumulative net realized PnL from fills and funding instead."
        )
        st.plotly_chart(
            line_figure(book.curve, "time", "net", "Cumulative net PnL (USDT)", "equity"), key="equity-chart"
        )
    else:
        st.caption("Nothing to draw yet.")
    st.subheader("Performance by symbol")
    config = money_columns(("volume", "realized", "fees", "funding", "net"))
    config["win_rate"] = st.column_config.NumberColumn("win rate", format="percent")
    table(book.by_symbol, empty="No fill yet.", key="by-symbol", column_config=config)


def body(context: Context) -> None:
    """The Portfolio page."""
    source = context.source
    assert source is not None
    if not source.has_rows("fills") and not source.has_rows("positions"):
        st.info(
            "Nothing traded yet. Start the daemon with `make run` (simulator):"
            " positions and fills appear here."
        )
    _positions(source, context.health)
    _orders(source)
    _money(source)
    st.subheader("Recent fills")
    paged(
        fill_count(source),
        lambda offset, limit: recent_fills(source, offset, limit),
        key="fills",
        empty="No fill yet.",
        prepare=lambda f: numbers(utc(f, "time"), "price", "quantity", "commission", "realized_pnl"),
    )


run_page("Portfolio", body)
