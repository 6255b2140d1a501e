"""The volatility guard reads (max − min) / min over a sliding time window and activates once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.indicators.volatility import VolatilityGuard


def test_one_activation_per_breach_episode_and_cooldown_from_the_last_breach() -> None:
    guard = VolatilityGuard(window_ms=5_000, max_range=0.008, cooldown_ms=60_000)
    assert guard.add_mark(1_000, 100.0) is False
    assert guard.add_mark(2_000, 100.5) is False  # 0.5 %
    assert guard.add_mark(3_000, 101.0) is True  # 1 %: activates
    assert guard.until_ms == 63_000
    assert guard.add_mark(4_000, 101.2) is False  # still breaching: extends, no new activation
    assert guard.until_ms == 64_000
    assert guard.active(63_999) and not guard.active(64_000)
    assert guard.add_mark(70_000, 100.0) is False  # quiet again
    assert guard.add_mark(71_000, 102.0) is True  # a new episode after the cool-down


def test_old_samples_leave_the_window() -> None:
    guard = VolatilityGuard(window_ms=5_000, max_range=0.008, cooldown_ms=60_000)
    guard.add_mark(0, 100.0)
    assert guard.add_mark(5_001, 101.0) is False  # 100.0 is older than 5 s
    assert guard.reading == 0.0


def test_mark_and_last_price_windows_are_separate() -> None:
    # Mark and last price differ by the basis; mixing them would read the basis as volatility.
    guard = VolatilityGuard(window_ms=5_000, max_range=0.008, cooldown_ms=60_000)
    guard.add_mark(1_000, 100.0)
    assert guard.add_trade(1_500, 101.0) is False
    assert guard.add_trade(2_000, 102.0) is True


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=3_000), st.floats(min_value=0.5, max_value=2.0)),
        min_size=1,
        max_size=80,
    ),
    window=st.integers(min_value=1, max_value=10_000),
)
def test_reading_equals_brute_force_range(steps: list[tuple[int, float]], window: int) -> None:
    guard = VolatilityGuard(window_ms=window, max_range=1e9, cooldown_ms=0)
    t = 0
    samples: list[tuple[int, float]] = []
    for dt, price in steps:
        t += dt
        samples.append((t, price))
        guard.add_trade(t, price)
        inside = [p for ts, p in samples if ts >= t - window]
        expected = (max(inside) - min(inside)) / min(inside)
        assert abs(guard.reading - expected) <= 1e-12 * max(1.0, expected)
