"""Anchored VWAP and σ equal a direct two-pass computation, and reset at the anchor."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.indicators.vwap import DAY_MS, AnchoredVwap
from tests.strategies._candles import MINUTE, T0, load_candles, real_data_path

Bar = tuple[int, float, float, float, float]  # open_time, high, low, close, volume


def _direct(bars: list[Bar]) -> tuple[float | None, float | None]:
    """VWAP and volume-weighted σ of the typical price, straight from the definition (two passes)."""
    weights = [v for *_, v in bars]
    total = math.fsum(weights)
    if total == 0:
        return None, None
    prices = [(h + lo + c) / 3 for _, h, lo, c, _ in bars]
    vwap = math.fsum(p * v for p, v in zip(prices, weights, strict=True)) / total
    var = math.fsum(v * (p - vwap) ** 2 for p, v in zip(prices, weights, strict=True)) / total
    return vwap, math.sqrt(var)


@st.composite
def _bars(draw: st.DrawFn) -> list[Bar]:
    base = draw(st.floats(min_value=0.001, max_value=100_000))
    n = draw(st.integers(min_value=1, max_value=200))
    bars: list[Bar] = []
    for i in range(n):
        moves = sorted(draw(st.floats(min_value=-0.05, max_value=0.05)) for _ in range(3))
        low, close, high = (base * (1 + m) for m in moves)
        volume = draw(st.one_of(st.just(0.0), st.floats(min_value=0.001, max_value=1e7)))
        bars.append((T0 + i * MINUTE, high, low, close, volume))
    return bars


@settings(max_examples=300, deadline=None)
@given(bars=_bars())
def test_vwap_and_sigma_equal_direct_recomputation(bars: list[Bar]) -> None:
    vwap = AnchoredVwap("day")
    for k, bar in enumerate(bars):  # all within one day: no reset
        vwap.update(*bar)
        expected_vwap, expected_sigma = _direct(bars[: k + 1])
        assert vwap.candles == k + 1
        if expected_vwap is None:
            assert vwap.vwap is None and vwap.sigma is None
            continue
        assert vwap.vwap == pytest.approx(expected_vwap, rel=1e-12)
        assert vwap.sigma is not None and expected_sigma is not None
        # σ can be tiny next to the price: compare against the price scale, tightly.
        assert vwap.sigma == pytest.approx(expected_sigma, rel=1e-7, abs=1e-12 * expected_vwap)


def test_real_data_bands_equal_direct_recomputation_per_day() -> None:
    # The direct computation is O(n) per candle: 2 000 candles (several UTC days) keep it fast
    # even when data/klines holds the full 90-day file.
    candles = load_candles(real_data_path())[:2000]
    vwap = AnchoredVwap("day")
    session: list[Bar] = []
    for c in candles:
        bar = (c.open_time, float(c.high), float(c.low), float(c.close), float(c.volume))
        if vwap.update(*bar):
            session = []
        session.append(bar)
        expected_vwap, expected_sigma = _direct(session)
        assert expected_vwap is not None and expected_sigma is not None
        assert vwap.vwap == pytest.approx(expected_vwap, rel=1e-12)
        assert vwap.sigma == pytest.approx(expected_sigma, rel=1e-8, abs=1e-12)
        assert all(c.open_time // DAY_MS == b[0] // DAY_MS for b in session)


def test_resets_at_utc_midnight() -> None:
    vwap = AnchoredVwap("day")
    assert vwap.update(T0 - 2 * MINUTE, 11.0, 9.0, 10.0, 100.0) is True  # first candle starts a session
    assert vwap.update(T0 - MINUTE, 13.0, 11.0, 12.0, 100.0) is False
    assert vwap.vwap == pytest.approx(11.0) and vwap.candles == 2
    assert vwap.update(T0, 21.0, 19.0, 20.0, 50.0) is True  # 00:00 UTC: a new day
    assert vwap.vwap == pytest.approx(20.0)
    assert vwap.sigma == 0.0
    assert vwap.candles == 1
    assert vwap.session_start(T0 + 5 * MINUTE) == T0


def test_session_offset_and_week_anchor() -> None:
    eight = AnchoredVwap("day", offset_minutes=480)
    eight.update(T0 + 479 * MINUTE, 2.0, 2.0, 2.0, 1.0)
    assert eight.update(T0 + 480 * MINUTE, 4.0, 4.0, 4.0, 1.0) is True  # 08:00 UTC starts the session
    assert eight.session_start(T0 + 600 * MINUTE) == T0 + 480 * MINUTE

    week = AnchoredVwap("week")
    # T0 is Wednesday 2023-11-15: the week started Monday 2023-11-13 00:00 UTC.
    assert week.session_start(T0) == T0 - 2 * DAY_MS
    week.update(T0, 2.0, 2.0, 2.0, 1.0)
    assert week.update(T0 + DAY_MS, 4.0, 4.0, 4.0, 1.0) is False  # Thursday: same week
    assert week.update(T0 + 5 * DAY_MS, 4.0, 4.0, 4.0, 1.0) is True  # next Monday


def test_zero_volume_candles_count_but_do_not_move_the_vwap() -> None:
    vwap = AnchoredVwap("day")
    vwap.update(T0, 1.0, 1.0, 1.0, 0.0)
    assert vwap.vwap is None and vwap.sigma is None and vwap.candles == 1
    vwap.update(T0 + MINUTE, 3.0, 3.0, 3.0, 10.0)
    vwap.update(T0 + 2 * MINUTE, 100.0, 100.0, 100.0, 0.0)
    assert vwap.vwap == 3.0 and vwap.sigma == 0.0 and vwap.candles == 3


def test_sigma_stays_accurate_far_from_zero() -> None:
    # A 30 000 price with a 0.01 spread: the naive Σvp²/Σv − VWAP² loses most digits here.
    vwap = AnchoredVwap("day")
    bars: list[Bar] = [(T0 + i * MINUTE, p, p, p, 1.0) for i, p in enumerate([30_000.00, 30_000.01] * 500)]
    for bar in bars:
        vwap.update(*bar)
    assert vwap.sigma == pytest.approx(0.005, rel=1e-6)


def test_bad_anchor_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        AnchoredVwap("day", offset_minutes=1440)
    with pytest.raises(ValueError):
        AnchoredVwap("month")  # type: ignore[arg-type]
