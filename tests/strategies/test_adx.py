"""The incremental ADX equals TA-Lib's ADX / PLUS_DI / MINUS_DI at every index TA-Lib fills."""

from __future__ import annotations

import math

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.indicators.adx import Adx
from tests.strategies._candles import load_candles, real_data_path


def _incremental(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int
) -> tuple[list[float], ...]:
    adx = Adx(period)
    values: list[float] = []
    plus: list[float] = []
    minus: list[float] = []
    for h, lo, c in zip(high.tolist(), low.tolist(), close.tolist(), strict=True):
        value = adx.update(h, lo, c)
        values.append(math.nan if value is None else value)
        plus.append(math.nan if adx.plus_di is None else adx.plus_di)
        minus.append(math.nan if adx.minus_di is None else adx.minus_di)
    return values, plus, minus


def _assert_same(mine: list[float], ref: np.ndarray, what: str) -> None:
    got = np.array(mine)
    # Same warm-up: a value exactly where TA-Lib has one.
    assert np.array_equal(np.isnan(got), np.isnan(ref)), f"{what}: valid indices differ"
    valid = ~np.isnan(ref)
    assert valid.any()
    np.testing.assert_allclose(got[valid], ref[valid], rtol=1e-9, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("period", [14, 5, 2, 30])
def test_adx_matches_talib_on_real_wldusdt_data(period: int) -> None:
    candles = load_candles(real_data_path())
    assert len(candles) >= 500
    high = np.array([float(c.high) for c in candles])
    low = np.array([float(c.low) for c in candles])
    close = np.array([float(c.close) for c in candles])
    values, plus, minus = _incremental(high, low, close, period)
    _assert_same(values, talib.ADX(high, low, close, timeperiod=period), "ADX")
    _assert_same(plus, talib.PLUS_DI(high, low, close, timeperiod=period), "+DI")
    _assert_same(minus, talib.MINUS_DI(high, low, close, timeperiod=period), "-DI")


def test_first_adx_comes_at_index_two_periods_minus_one() -> None:
    adx = Adx(14)
    outputs = [adx.update(10.0 + (i % 3), 9.0 + (i % 3), 9.5 + (i % 3)) for i in range(40)]
    assert all(v is None for v in outputs[:27])
    assert all(v is not None for v in outputs[27:])


_price = st.integers(min_value=1, max_value=2_000)  # ticks of 0.01: ties and flat bars happen


@st.composite
def _ohlc(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=3, max_value=120))
    highs, lows, closes = [], [], []
    for _ in range(n):
        a, b, c = draw(_price), draw(_price), draw(_price)
        lo, mid, hi = sorted((a, b, c))
        highs.append(hi / 100)
        lows.append(lo / 100)
        closes.append(mid / 100)
    return np.array(highs), np.array(lows), np.array(closes)


@settings(max_examples=300, deadline=None)
@given(data=_ohlc(), period=st.integers(min_value=2, max_value=20))
def test_adx_matches_talib_on_random_series(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], period: int
) -> None:
    high, low, close = data
    values, plus, minus = _incremental(high, low, close, period)
    ref = talib.ADX(high, low, close, timeperiod=period)
    if np.isnan(ref).all():  # too short for TA-Lib: no value from us either
        assert all(math.isnan(v) for v in values)
    else:
        _assert_same(values, ref, "ADX")
    ref_plus = talib.PLUS_DI(high, low, close, timeperiod=period)
    if not np.isnan(ref_plus).all():
        _assert_same(plus, ref_plus, "+DI")
        _assert_same(minus, talib.MINUS_DI(high, low, close, timeperiod=period), "-DI")


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=30, max_value=80), level=st.integers(min_value=1, max_value=1000))
def test_flat_market_keeps_talib_zero_range_rule(n: int, level: int) -> None:
    # A flat market has no true range at all: TA-Lib then reports ADX 0 and DI 0; so must we.
    price = level / 10
    high = low = close = np.full(n, price)
    values, plus, _ = _incremental(high, low, close, 14)
    _assert_same(values, talib.ADX(high, low, close, timeperiod=14), "ADX")
    _assert_same(plus, talib.PLUS_DI(high, low, close, timeperiod=14), "+DI")


def test_period_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        Adx(1)
