"""The chart's vectorised VWAP bands and ADX equal the strategy's own indicators, and thinning keeps
candles candles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.indicators import adx, anchored_vwap, resample, session_start, timeframe_for
from strategies.indicators.adx import Adx
from strategies.indicators.vwap import AnchoredVwap

START = 1_700_000_000_000 // 3_600_000 * 3_600_000


def _candles(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    volume = rng.uniform(0, 10, n)
    volume[5:40] = 0.0  # a quiet stretch: no VWAP until something trades
    return pd.DataFrame(
        {
            "open_time": START + np.arange(n) * 60_000,
            "open": close,
            "high": close * (1 + rng.uniform(0, 0.002, n)),
            "low": close * (1 - rng.uniform(0, 0.002, n)),
            "close": close,
            "volume": volume,
        }
    )


@pytest.mark.parametrize(("anchor", "offset"), [("day", 0), ("day", 480), ("week", 0)])
def test_vwap_and_sigma_equal_the_strategys_anchored_vwap(anchor: str, offset: int) -> None:
    frame = _candles()
    ours = anchored_vwap(frame, (2.0,), anchor, offset)
    reference = AnchoredVwap(anchor, offset)  # type: ignore[arg-type]
    vwaps, sigmas = [], []
    for row in frame.itertuples():
        reference.update(int(row.open_time), row.high, row.low, row.close, row.volume)
        vwaps.append(np.nan if reference.vwap is None else reference.vwap)
        sigmas.append(np.nan if reference.sigma is None else reference.sigma)
    np.testing.assert_allclose(ours["vwap"], vwaps, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(ours["sigma"], sigmas, rtol=1e-6, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(ours["band_2_upper"], ours["vwap"] + 2 * ours["sigma"], equal_nan=True)
    assert session_start(int(frame["open_time"].iloc[-1]), anchor, offset) == reference.session_start(
        int(frame["open_time"].iloc[-1])
    )


@pytest.mark.parametrize("period", [5, 14])
def test_adx_equals_the_strategys_ta_lib_seeded_adx(period: int) -> None:
    frame = _candles()
    reference = Adx(period)
    expected = [reference.update(r.high, r.low, r.close) for r in frame.itertuples()]
    ours = adx(frame, period).to_numpy()
    np.testing.assert_allclose(
        ours, [np.nan if v is None else v for v in expected], rtol=1e-9, equal_nan=True
    )


def test_too_few_candles_give_no_adx() -> None:
    assert adx(_candles(20), 14).isna().all()


def test_resampling_keeps_open_high_low_close_and_sums_volume() -> None:
    frame = _candles(60)
    bars = resample(frame, 15)
    assert len(bars) == 4
    first = frame.iloc[:15]
    assert bars.iloc[0]["open"] == first["open"].iloc[0] and bars.iloc[0]["close"] == first["close"].iloc[-1]
    assert bars.iloc[0]["high"] == first["high"].max() and bars.iloc[0]["low"] == first["low"].min()
    assert bars.iloc[0]["volume"] == pytest.approx(first["volume"].sum())
    assert timeframe_for(1440, 720) == 5 and timeframe_for(360, 720) == 1 and timeframe_for(43_200, 720) == 60
