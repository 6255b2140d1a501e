"""The chart's indicator lines, vectorised over 1m candles: anchored VWAP with σ bands, Wilder's ADX.

The dashboard may not import strategies/, so these are small numpy/pandas versions of the same
definitions (strategies/indicators/vwap.py and adx.py): the typical price (H+L+C)/3 weighted by
volume since the anchor (00:00 UTC by default), σ the volume-weighted deviation from the running
VWAP, bands VWAP ± k·σ; ADX with TA-Lib's seeding. They draw the picture; the values the strategy
actually decided on are stored with each signal (`signals.inputs`) and shown on hover.
tests/dashboard/test_indicators.py checks both against the strategy's own indicators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY_MS = 86_400_000
_MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-05 was a Monday
TIMEFRAMES_MIN = (1, 5, 15, 60, 240, 1440)


def session_start(open_time_ms: int, anchor: str = "day", offset_minutes: int = 0) -> int:
    """Start of the VWAP session containing `open_time_ms`."""
    period = DAY_MS if anchor == "day" else 7 * DAY_MS
    offset = offset_minutes * 60_000 + (_MONDAY_OFFSET_MS if anchor == "week" else 0)
    return (open_time_ms - offset) // period * period + offset


def anchored_vwap(
    frame: pd.DataFrame, bands: tuple[float, ...], anchor: str = "day", offset_minutes: int = 0
) -> pd.DataFrame:
    """Columns vwap, sigma and `band_<k>_upper/lower` for each k in `bands`, from 1m candles."""
    period = DAY_MS if anchor == "day" else 7 * DAY_MS
    offset = offset_minutes * 60_000 + (_MONDAY_OFFSET_MS if anchor == "week" else 0)
    session = (frame["open_time"].to_numpy() - offset) // period
    typical = ((frame["high"] + frame["low"] + frame["close"]) / 3.0).to_numpy()
    volume = frame["volume"].to_numpy(dtype=float)
    # Shift each session's prices by its first typical price: the variance does not change and the
    # sums stay small, so Σvp²/Σv − mean² does not cancel away σ's digits.
    groups = pd.Series(session)
    base = pd.Series(typical).groupby(groups).transform("first").to_numpy()
    shifted = typical - base
    weight = pd.Series(volume).groupby(groups).cumsum().to_numpy()
    moment1 = pd.Series(volume * shifted).groupby(groups).cumsum().to_numpy()
    moment2 = pd.Series(volume * shifted * shifted).groupby(groups).cumsum().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(weight > 0, moment1 / weight, np.nan)
        variance = np.where(weight > 0, moment2 / weight - mean * mean, np.nan)
    sigma = np.sqrt(np.clip(variance, 0.0, None))
    vwap = mean + base
    result = pd.DataFrame({"vwap": vwap, "sigma": sigma}, index=frame.index)
    for k in bands:
        result[f"band_{k:g}_upper"] = vwap + k * sigma
        result[f"band_{k:g}_lower"] = vwap - k * sigma
    return result


def _wilder(values: np.ndarray, period: int) -> np.ndarray:
    """x_t = x_{t−1} − x_{t−1}/period + v_t, seeded with the plain sum of bars 1..period−1."""
    out = np.full(len(values), np.nan)
    if len(values) < period:
        return out
    seed = values[1:period].sum()
    alpha = 1.0 / period
    series = np.concatenate(([seed * alpha], values[period:]))
    out[period - 1 :] = pd.Series(series).ewm(alpha=alpha, adjust=False).mean().to_numpy() * period
    return out


def adx(frame: pd.DataFrame, period: int = 14) -> pd.Series:
    """Wilder's ADX(period) per candle (NaN during TA-Lib's 2·period−1 bars of seeding)."""
    high, low, close = (frame[c].to_numpy(dtype=float) for c in ("high", "low", "close"))
    n = len(high)
    result = np.full(n, np.nan)
    if n < 2 * period:
        return pd.Series(result, index=frame.index)
    up = np.diff(high, prepend=np.nan)
    down = -np.diff(low, prepend=np.nan)
    plus_dm = np.where((up > 0) & (up > down), up, 0.0)
    minus_dm = np.where((down > 0) & (up < down), down, 0.0)
    previous = np.concatenate(([np.nan], close[:-1]))
    true_range = np.nanmax(np.vstack([high - low, np.abs(high - previous), np.abs(low - previous)]), axis=0)
    tr, pdm, mdm = (_wilder(x, period) for x in (true_range, plus_dm, minus_dm))
    with np.errstate(invalid="ignore", divide="ignore"):
        plus_di = np.where(np.abs(tr) < 1e-14, 0.0, 100.0 * pdm / tr)
        minus_di = np.where(np.abs(tr) < 1e-14, 0.0, 100.0 * mdm / tr)
        di_sum = plus_di + minus_di
        dx = np.where(np.abs(di_sum) < 1e-14, np.nan, 100.0 * np.abs(minus_di - plus_di) / di_sum)
    first = 2 * period - 1
    seed = np.nansum(dx[period : first + 1]) / period
    series = np.concatenate(([seed], dx[first + 1 :]))
    result[first:] = pd.Series(series).ewm(alpha=1.0 / period, adjust=False, ignore_na=True).mean().to_numpy()
    return pd.Series(result, index=frame.index)


def timeframe_for(minutes: int, max_bars: int) -> int:
    """The smallest bar size (minutes) that shows `minutes` of 1m candles in at most `max_bars` bars."""
    return next((tf for tf in TIMEFRAMES_MIN if minutes / tf <= max_bars), TIMEFRAMES_MIN[-1])


def resample(frame: pd.DataFrame, minutes: int) -> pd.DataFrame:
    """1m rows grouped into `minutes` bars: OHLCV as candles do, every other column its last value."""
    if minutes == 1 or frame.empty:
        return frame
    key = frame["open_time"] // (minutes * 60_000)
    rules = {c: "last" for c in frame.columns}
    rules.update({"open_time": "first", "open": "first", "high": "max", "low": "min", "volume": "sum"})
    return frame.groupby(key, sort=True).agg(rules).reset_index(drop=True)


__all__ = ["TIMEFRAMES_MIN", "adx", "anchored_vwap", "resample", "session_start", "timeframe_for"]
