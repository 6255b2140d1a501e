"""Market: one symbol's candles with VWAP and its bands, ADX below, and every entry and exit marked.

The lines are computed here from candles_1m (dashboard/indicators.py); the numbers the strategy
decided on are stored with each signal and shown when hovering its marker.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.charts import market_figure
from dashboard.context import Context
from dashboard.indicators import adx, anchored_vwap, resample, session_start, timeframe_for
from dashboard.market_queries import candles, chart_fills, chart_signals, latest_candle_time, market_symbols
from dashboard.page import run_page
from dashboard.source import Source

RANGES_MIN = {"6 h": 360, "24 h": 1440, "3 d": 4320, "7 d": 10_080, "30 d": 43_200}
MAX_BARS = 720  # what a chart a screen wide can show without bars melting together
ADX_PERIOD = 14
_WARMUP_MIN = 10 * ADX_PERIOD  # Wilder smoothing forgets its seed within ~10 periods


def _bands(signals: pd.DataFrame) -> tuple[float, ...]:
    """Entry and stop band multiples from the newest signal that says them, else the defaults."""
    for _, row in signals.iterrows():
        try:
            return (float(row["band_k"]), float(row["exit_band_k"]))
        except (TypeError, ValueError):
            continue
    return (2.0, 3.0)


@st.cache_data(max_entries=16, show_spinner=False)
def _bars(raw: pd.DataFrame, start_ms: int, bands: tuple[float, ...], timeframe: int) -> pd.DataFrame:
    """Indicators over every fetched 1m candle, then the range cut out and thinned to bars."""
    if raw.empty:
        return raw
    frame = pd.concat([raw, anchored_vwap(raw, bands)], axis=1)
    frame["adx"] = adx(raw, ADX_PERIOD)
    return resample(frame[frame["open_time"] >= start_ms].reset_index(drop=True), timeframe)


@st.cache_resource(max_entries=8, ttl=600, show_spinner=False)
def _figure(
    _source: Source, symbol: str, minutes: int, latest: int, versions: object
) -> tuple[go.Figure | None, str]:
    """The chart and its caption, kept (not copied) until a candle, signal or fill arrives."""
    start = latest - (minutes - 1) * 60_000
    fetch_from = min(session_start(start), start - _WARMUP_MIN * 60_000)
    raw = candles(_source, symbol, fetch_from, latest, latest)
    end = latest + 60_000
    signals = chart_signals(_source, symbol, start, end)
    fills = chart_fills(_source, symbol, start, end)
    bands = _bands(signals)
    timeframe = timeframe_for(minutes, MAX_BARS)
    bars = _bars(raw, start, bands, timeframe)
    if bars.empty:
        return None, f"No candle of {symbol} in this range."
    caption = (
        f"{len(bars):,} bars of {timeframe} min · VWAP anchored at 00:00 UTC,"
        f" bands ±{bands[0]:g}σ (entry) and"
        f" ±{bands[1]:g}σ (stop) · ADX({ADX_PERIOD}) · {len(signals)} signals, {len(fills)} fills."
        " Lines are drawn from the stored 1m candles; hover a marker for the values the strategy decided on."
    )
    return market_figure(bars, bands, signals, fills, revision=f"{symbol}-{minutes}"), caption


def _chart(source: Source, symbol: str, minutes: int) -> None:
    with source.connect() as connection:
        latest = latest_candle_time(connection, symbol)
    if latest is None:
        st.caption(f"No candle stored for {symbol}.")
        return
    versions = source.versions(("signals", "risk_decisions", "fills"))
    figure, caption = _figure(source, symbol, minutes, latest, versions)
    if figure is not None:
        st.plotly_chart(figure, key="market-chart", config={"displaylogo": False, "scrollZoom": True})
    st.caption(caption)


def body(context: Context) -> None:
    """The Market page."""
    source = context.source
    assert source is not None
    with source.connect() as connection:
        symbols = market_symbols(connection)
    if not symbols:
        st.info("No candles yet. Start the daemon (`make run`): it stores every closed 1m candle.")
        return
    left, right = st.columns([2, 3])
    symbol = left.selectbox("Symbol", symbols, key="market-symbol")
    choice = right.segmented_control("Range", list(RANGES_MIN), default="24 h", key="market-range")
    _chart(source, str(symbol), RANGES_MIN[str(choice or "24 h")])


run_page("Market", body)
