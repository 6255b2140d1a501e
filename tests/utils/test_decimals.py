"""Rounding to tick and step is exact and always in the safe direction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.decimals import PriceIntent, is_multiple, quantize_price, quantize_quantity, to_api_string
from core.events import Side

_TICKS = st.sampled_from([Decimal(t) for t in ("0.1", "0.10", "0.01", "0.0001", "0.00001", "1", "5", "0.5")])
_VALUES = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("1000000"), places=8)


@given(_VALUES, _TICKS, st.sampled_from(list(Side)), st.sampled_from(list(PriceIntent)))
def test_prices_land_on_the_tick_in_the_safe_direction(
    price: Decimal, tick: Decimal, side: Side, intent: PriceIntent
) -> None:
    rounded = quantize_price(price, tick, side, intent)
    assert is_multiple(rounded, tick)
    assert abs(rounded - price) < tick
    rounds_down = (side is Side.BUY) == (intent is PriceIntent.PASSIVE)
    assert rounded <= price if rounds_down else rounded >= price


@given(_VALUES, _TICKS)
def test_quantities_round_toward_zero(quantity: Decimal, step: Decimal) -> None:
    rounded = quantize_quantity(quantity, step)
    assert is_multiple(rounded, step)
    assert Decimal(0) <= quantity - rounded < step


@given(_VALUES)
def test_api_strings_are_plain_decimals_that_parse_back_exactly(value: Decimal) -> None:
    text = to_api_string(value)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == value
    assert not (("." in text) and text.endswith("0"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E-5"), "0.00001"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.30000"), "0.3"),
        (Decimal("-0"), "0"),
        (Decimal("25000.10"), "25000.1"),
        (Decimal("0.1") * 3, "0.3"),
    ],
)
def test_known_renderings(value: Decimal, text: str) -> None:
    assert to_api_string(value) == text


def test_a_tick_with_trailing_zero_keeps_its_exponent() -> None:
    price = quantize_price(Decimal("25000.17"), Decimal("0.10"), Side.BUY, PriceIntent.PASSIVE)
    assert str(price) == "25000.10"
    assert quantize_quantity(Decimal("0.0299"), Decimal("0.001")) == Decimal("0.029")


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError):
        to_api_string(Decimal("NaN"))
    with pytest.raises(ValueError):
        quantize_quantity(Decimal("Infinity"), Decimal("1"))
    with pytest.raises(ValueError):
        quantize_quantity(Decimal("1"), Decimal("0"))


_ORIGINS = st.sampled_from([Decimal(o) for o in ("0", "0.015", "556.85", "0.0015", "3")])


@given(_VALUES, _TICKS, _ORIGINS, st.sampled_from(list(Side)), st.sampled_from(list(PriceIntent)))
def test_prices_land_on_the_grid_counted_from_the_origin(
    price: Decimal, tick: Decimal, origin: Decimal, side: Side, intent: PriceIntent
) -> None:
    rounded = quantize_price(price, tick, side, intent, origin=origin)
    assert is_multiple(rounded, tick, origin)
    assert abs(rounded - price) < tick
    rounds_down = (side is Side.BUY) == (intent is PriceIntent.PASSIVE)
    assert rounded <= price if rounds_down else rounded >= price


@given(_VALUES, _TICKS, _ORIGINS)
def test_quantities_on_the_grid_from_the_origin_never_grow(
    quantity: Decimal, step: Decimal, origin: Decimal
) -> None:
    rounded = quantize_quantity(quantity, step, origin=origin)
    assert is_multiple(rounded, step, origin)
    assert Decimal(0) <= quantity - rounded < step
