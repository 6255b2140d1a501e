"""Plotly figures: the market chart (candles, VWAP bands, ADX, signals and fills) and money over time.

Every figure keeps `uirevision`, so an auto-refresh redraws the data without resetting the zoom.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_MARKERS = {
    "OPEN_LONG": ("triangle-up", "#1a9850", "entry long"),
    "OPEN_SHORT": ("triangle-down", "#d73027", "entry short"),
    "CLOSE": ("x", "#4575b4", "exit"),
}
_LAYOUT: dict[str, Any] = {"margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "hovermode": "closest"}


def _times(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, unit="ms", utc=True)


def market_figure(
    bars: pd.DataFrame, bands: tuple[float, ...], signals: pd.DataFrame, fills: pd.DataFrame, revision: str
) -> go.Figure:
    """Candles with VWAP and its bands on top, ADX below, signals and fills marked with their reasons."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.03)
    x = _times(bars["open_time"])
    figure.add_trace(
        go.Candlestick(
            x=x, open=bars["open"], high=bars["high"], low=bars["low"], close=bars["close"], name="price"
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(x=x, y=bars["vwap"], name="VWAP", line={"color": "#ff7f0e", "width": 1.5}), row=1, col=1
    )
    for k in bands:
        for side in ("upper", "lower"):
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=bars[f"band_{k:g}_{side}"],
                    name=f"VWAP ± {k:g}σ",
                    legendgroup=f"band{k:g}",
                    showlegend=side == "upper",
                    line={"color": "#9467bd", "width": 1, "dash": "dot"},
                ),
                row=1,
                col=1,
            )
    for action, (symbol, color, label) in _MARKERS.items():
        rows = signals[signals["action"] == action]
        if not rows.empty:
            figure.add_trace(
                go.Scatter(
                    x=_times(rows["time"]),
                    y=rows["price"],
                    mode="markers",
                    name=label,
                    marker={
                        "symbol": symbol,
                        "size": 11,
                        "color": color,
                        "line": {"width": 1, "color": "black"},
                    },
                    text=[_signal_hover(r) for r in rows.itertuples()],
                    hoverinfo="text",
                ),
                row=1,
                col=1,
            )
    if not fills.empty:
        figure.add_trace(
            go.Scatter(
                x=_times(fills["time"]),
                y=fills["price"],
                mode="markers",
                name="fills",
                marker={"size": 5, "color": "black"},
                text=[
                    f"fill {r.side} {r.quantity} @ {r.price:g}<br>realized {r.realized_pnl:.2f}"
                    for r in fills.itertuples()
                ],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
    figure.add_trace(
        go.Scatter(x=x, y=bars["adx"], name="ADX", line={"color": "#2ca02c", "width": 1.2}), row=2, col=1
    )
    stored = signals[signals["adx"] != ""]
    if not stored.empty:
        figure.add_trace(
            go.Scatter(
                x=_times(stored["time"]),
                y=pd.to_numeric(stored["adx"], errors="coerce"),
                mode="markers",
                name="ADX at signal",
                marker={"size": 6, "color": "#2ca02c", "symbol": "diamond"},
            ),
            row=2,
            col=1,
        )
    figure.update_layout(
        height=640,
        uirevision=revision,
        xaxis_rangeslider_visible=False,
        legend={"orientation": "h", "y": 1.06},
        **_LAYOUT,
    )
    figure.update_yaxes(title_text="ADX", row=2, col=1)
    return figure


def _signal_hover(row: Any) -> str:
    verdict = (
        "risk: —"
        if row.verdict is None
        else f"risk: {'accepted' if row.accepted else 'rejected'} ({row.verdict})"
    )
    facts = ", ".join(f"{k} {getattr(row, k)}" for k in ("vwap", "sigma", "adx") if getattr(row, k))
    return f"<b>{row.action}</b> @ {row.price:g}<br>{row.reason}<br>{verdict}<br>{facts}"


def line_figure(frame: pd.DataFrame, x: str, y: str, title: str, revision: str) -> go.Figure:
    """One line over time (equity, cumulative PnL), already thinned to what a screen can show."""
    figure = go.Figure(go.Scatter(x=frame[x], y=frame[y], mode="lines", name=title, line={"width": 1.5}))
    figure.update_layout(height=300, title=title, uirevision=revision, **_LAYOUT)
    return figure


def daily_figure(daily: pd.DataFrame, revision: str, days: int = 60) -> go.Figure:
    """Net PnL per UTC day (green above zero, red below), the last `days` days."""
    recent = daily.head(days).iloc[::-1]
    colors = ["#1a9850" if v >= 0 else "#d73027" for v in recent["net"]]
    figure = go.Figure(go.Bar(x=recent["day"], y=recent["net"], marker_color=colors, name="net PnL"))
    figure.update_layout(
        height=260, title="Net realized PnL per day (after fees and funding)", uirevision=revision, **_LAYOUT
    )
    return figure
