"""`backtest --html OUT`: one self-contained HTML report (plotly's JS inlined: opens offline).

What it shows: the key numbers; the equity curve and its drawdown; per symbol the candles with
the anchored VWAP and its bands — computed by the strategy's own indicator
(`strategies.indicators.vwap.AnchoredVwap`) with the run's parameters, on the candles the
strategy saw — and every entry and exit, marked at its fill with its reason. Long runs are drawn
as coarser candles (at most `MAX_DRAWN` per symbol, the interval said in the title); VWAP and
bands are still computed per traded candle and drawn at each drawn candle's close.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backtest.report import iso
from backtest.series import BarSeries
from backtest.trades import Trade
from core.events import Signal
from strategies.indicators.vwap import Anchor, AnchoredVwap

MAX_DRAWN = 4_000
_STEPS_MIN = (1, 3, 5, 15, 30, 60, 120, 240, 480, 1_440, 10_080)
_GREEN, _RED, _BLUE, _GREY = "#26a69a", "#ef5350", "#1f77b4", "#9e9e9e"


def _dates(times: Sequence[int]) -> list[str]:
    return [iso(t) for t in times]


def _equity_points(report: Mapping[str, Any], trades: Sequence[Trade]) -> list[tuple[int, float]]:
    """Equity at the start, after each trade (realised) and at each day's end (marked), in time order."""
    start = report["period"]["start_ms"]
    balance = Decimal(report["summary"]["starting_balance"])
    points = {start: float(balance)}
    running = balance
    for trade in sorted(trades, key=lambda t: t.exit_time):
        running += trade.net_pnl
        points[trade.exit_time] = float(running)
    for mark in report.get("equity", []):
        points[mark["time_ms"]] = float(mark["equity"])
    return sorted(points.items())


def equity_figure(report: Mapping[str, Any], trades: Sequence[Trade]) -> go.Figure:
    """The equity curve above its drawdown from the running peak."""
    points = _equity_points(report, trades)
    times = _dates([t for t, _ in points])
    values = [v for _, v in points]
    peak = float("-inf")
    drawdown = []
    for v in values:
        peak = max(peak, v)
        drawdown.append(v - peak)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    fig.add_trace(
        go.Scatter(x=times, y=values, name="equity", line={"color": _BLUE}, line_shape="hv"), row=1, col=1
    )
    fig.add_trace(
        go.Scatter(
            x=times, y=drawdown, name="drawdown", fill="tozeroy", line={"color": _RED}, line_shape="hv"
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="equity (USDT)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", row=2, col=1)
    fig.update_layout(title="Equity and drawdown", height=520, margin={"t": 50, "b": 30}, showlegend=False)
    return fig


def _levels(series: BarSeries, params: Any) -> tuple[list[float | None], list[float | None]]:
    """VWAP and σ after each candle, by the strategy's own indicator (None before any volume)."""
    anchor: Anchor = getattr(params, "anchor", "day")
    offset = getattr(params, "anchor_offset_minutes", 0)
    indicator = AnchoredVwap(anchor, offset, plain_sums=getattr(params, "sigma_formula", "west") == "sums")
    vwaps: list[float | None] = []
    sigmas: list[float | None] = []
    for i, t in enumerate(series.open_times):
        indicator.update(t, series.highs[i], series.lows[i], series.closes[i], series.volumes[i])
        vwaps.append(indicator.vwap)
        sigmas.append(indicator.sigma)
    return vwaps, sigmas


def _drawn_step(series: BarSeries) -> int:
    minutes = series.interval_ms // 60_000 or 1
    for step in _STEPS_MIN:
        if step % minutes == 0 and len(series) * minutes / step <= MAX_DRAWN:
            return step // minutes
    return max(1, len(series) // MAX_DRAWN)


def _coarse(
    series: BarSeries, per: int
) -> tuple[list[int], list[float], list[float], list[float], list[float], list[int]]:
    """OHLC of `per` consecutive candles each; the last index of each group (where VWAP is read)."""
    times, opens, highs, lows, closes, last = [], [], [], [], [], []
    n = len(series)
    for lo in range(0, n, per):
        hi = min(lo + per, n)
        times.append(series.open_times[lo])
        opens.append(series.opens[lo])
        highs.append(max(series.highs[lo:hi]))
        lows.append(min(series.lows[lo:hi]))
        closes.append(series.closes[hi - 1])
        last.append(hi - 1)
    return times, opens, highs, lows, closes, last


def _entry_reason(trade: Trade, signals: Sequence[Signal]) -> str:
    entries = [
        s
        for s in signals
        if s.symbol == trade.symbol and s.action.is_entry and s.event_time <= trade.entry_time
    ]
    return entries[-1].reason if entries else "entry"


def symbol_figure(
    series: BarSeries, trades: Sequence[Trade], signals: Sequence[Signal], params: Any
) -> go.Figure:
    """One symbol's candles, VWAP and bands, and its trades marked with their reasons."""
    per = _drawn_step(series)
    times, opens, highs, lows, closes, last = _coarse(series, per)
    x = _dates(times)
    minutes = per * series.interval_ms // 60_000
    fig = go.Figure()
    fig.add_trace(
        go.Candlestick(
            x=x, open=opens, high=highs, low=lows, close=closes, name="candles",
            increasing_line_color=_GREEN, decreasing_line_color=_RED,
        )
    )  # fmt: skip
    if hasattr(params, "band_k"):
        vwaps, sigmas = _levels(series, params)
        vwap = [vwaps[i] for i in last]
        sigma = [sigmas[i] for i in last]
        fig.add_trace(go.Scatter(x=x, y=vwap, name="VWAP", line={"color": _BLUE, "width": 1.5}))
        for k, dash in ((params.band_k, "dot"), (getattr(params, "exit_band_k", None), "dash")):
            if k is None:
                continue
            for sign, side in ((1, "+"), (-1, "−")):
                band = [
                    v + sign * k * s if v is not None and s is not None else None
                    for v, s in zip(vwap, sigma, strict=True)
                ]
                fig.add_trace(
                    go.Scatter(
                        x=x, y=band, name=f"VWAP {side} {k}σ", line={"color": _GREY, "width": 1, "dash": dash}
                    )
                )
    mine = [t for t in trades if t.symbol == series.symbol]
    if mine:
        fig.add_trace(
            go.Scatter(
                x=_dates([t.entry_time for t in mine]),
                y=[float(t.entry_price) for t in mine],
                mode="markers",
                name="entry",
                marker={
                    "symbol": ["triangle-up" if t.side == "LONG" else "triangle-down" for t in mine],
                    "size": 11,
                    "color": [_GREEN if t.side == "LONG" else _RED for t in mine],
                    "line": {"width": 1, "color": "black"},
                },
                text=[f"{t.side} entry: {_entry_reason(t, signals)}" for t in mine],
                hoverinfo="text+x+y",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=_dates([t.exit_time for t in mine]),
                y=[float(t.exit_price) for t in mine],
                mode="markers+text",
                name="exit",
                marker={"symbol": "x", "size": 10, "color": "black"},
                text=[t.reason for t in mine],
                textposition="top center",
                textfont={"size": 9},
                hovertext=[
                    f"exit ({t.reason}): net {t.net_pnl.quantize(Decimal('0.01'))} USDT" for t in mine
                ],
                hoverinfo="text+x+y",
            )
        )
    shown = f"{minutes}m candles" if minutes < 60 else f"{minutes // 60}h candles"
    fig.update_layout(
        title=f"{series.symbol}: {len(mine)} trades ({shown})",
        height=620,
        xaxis_rangeslider_visible=False,
        margin={"t": 50, "b": 30},
        legend={"orientation": "h", "y": -0.08},
    )
    return fig


def _summary_table(report: Mapping[str, Any]) -> str:
    s, p, c = report["summary"], report["period"], report["costs"]
    rows = [
        ("period", f"{p['start']} → {p['end']} UTC ({p['candles']:,} candles)"),
        ("symbols", ", ".join(report["symbols"])),
        (
            "costs",
            f"taker {c['taker_fee_bps']} bps, slippage {c['slippage_bps']} bps, funding: {c['funding']}",
        ),
        ("trades / win rate", f"{s['trades']} / {s['win_rate_pct']} %"),
        ("net PnL (gross, fees, funding)", f"{s['net_pnl']} ({s['gross_pnl']}, {s['fees']}, {s['funding']})"),
        ("final equity", f"{s['final_equity']} from {s['starting_balance']}"),
        ("max drawdown", f"{s['max_drawdown']} ({s['max_drawdown_pct']} %)"),
        ("Sharpe / Sortino (daily)", f"{s['sharpe_daily']} / {s['sortino_daily']}"),
        ("profit factor", str(s["profit_factor"])),
        ("exits by reason", ", ".join(f"{k} {v}" for k, v in s["exits_by_reason"].items()) or "none"),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def render_html(
    report: Mapping[str, Any],
    trades: Sequence[Trade],
    series: Mapping[str, BarSeries],
    signals: Sequence[Signal],
    params: Mapping[str, Any],
) -> str:
    """The whole report page; `params` maps each symbol to its strategy's validated parameters."""
    figures = [equity_figure(report, trades)]
    figures += [symbol_figure(series[s], trades, signals, params.get(s)) for s in sorted(series)]
    parts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
        for i, fig in enumerate(figures)
    ]
    title = (
        f"Backtest {report['period']['start']} → {report['period']['end']} · config {report['config_hash']}"
    )
    meta = html.escape(json.dumps({"config_hash": report["config_hash"], "symbols": report["symbols"]}))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><meta name='backtest' content='{meta}'>"
        "<style>body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
        "th{text-align:left;padding:2px 14px 2px 0;color:#555;font-weight:normal}td{padding:2px 0}</style>"
        f"</head><body><h2>{html.escape(title)}</h2>{_summary_table(report)}"
        + "".join(f"<div>{part}</div>" for part in parts)
        + "</body></html>\n"
    )


__all__ = ["MAX_DRAWN", "equity_figure", "render_html", "symbol_figure"]
