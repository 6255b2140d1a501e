"""Money stores exact Decimals on both backends and refuses floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlmodel import select

from database.engine import Database
from database.models import PositionRow, SignalRow
from database.types import canonical, to_money

D = Decimal


def _store_and_read(db: Database, value: object, symbol: str = "BTCUSDT") -> Decimal:
    """Write `value` as a position's entry price, read it back through a new session."""
    with db.session() as session:
        row = session.get(PositionRow, symbol) or PositionRow(symbol=symbol)
        row.entry_price = value  # type: ignore[assignment]
        session.add(row)
        session.commit()
    with db.session() as session:
        stored = session.get(PositionRow, symbol)
        assert stored is not None
        return stored.entry_price


@st.composite
def _money(draw: st.DrawFn) -> Decimal:
    """Up to 20 integer digits and up to 18 decimal places, signs and zeros included."""
    places = draw(st.integers(0, 18))
    bound = 10 ** (20 + places) - 1
    # From text: Decimal arithmetic (scaleb) would round to the context's 28 digits.
    return Decimal(f"{draw(st.integers(-bound, bound))}E-{places}")


def test_random_decimals_round_trip_exactly(any_db: Database) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(value=_money())
    def check(value: Decimal) -> None:
        stored = _store_and_read(any_db, value)
        assert type(stored) is Decimal
        assert stored == value
        assert stored.as_tuple() == canonical(value).as_tuple()  # no trailing zeros, never 1E+2

    check()


@pytest.mark.parametrize(
    ("written", "text_read"),
    [
        (D("1.50"), "1.5"),
        (D("100"), "100"),
        (D("1E+2"), "100"),
        (D("0.000000000000000001"), "0.000000000000000001"),
        (D("-0.000"), "0"),
        (D("99999999999999999999.999999999999999999"), "99999999999999999999.999999999999999999"),
        (7, "7"),
    ],
)
def test_values_read_back_in_canonical_form(any_db: Database, written: object, text_read: str) -> None:
    stored = _store_and_read(any_db, written)
    assert stored == Decimal(text_read)
    assert format(stored, "f") == text_read
    assert stored.as_tuple().exponent == Decimal(text_read).as_tuple().exponent


def test_digits_beyond_18_places_are_rounded_half_even_the_same_way_on_both_backends(
    any_db: Database,
) -> None:
    assert _store_and_read(any_db, D("0.1234567890123456785")) == D("0.123456789012345678")
    assert _store_and_read(any_db, D("0.1234567890123456775")) == D("0.123456789012345678")
    assert _store_and_read(any_db, D("2.0000000000000000001")) == D(2)


@pytest.mark.parametrize("bad", [0.1, 1.0, True, "1.5"])
def test_anything_but_decimal_or_int_is_refused_and_nothing_is_written(any_db: Database, bad: object) -> None:
    with any_db.session() as session:
        session.add(PositionRow(symbol="BTCUSDT", quantity=bad))  # type: ignore[arg-type]
        with pytest.raises(StatementError) as caught:
            session.commit()
        assert isinstance(caught.value.orig, TypeError)
        session.rollback()
    with any_db.session() as session:
        assert session.exec(select(PositionRow)).all() == []


@pytest.mark.parametrize(
    "bad", [D("NaN"), D("Infinity"), D("-Infinity"), D("1E+20"), D("-123456789012345678901")]
)
def test_non_finite_and_too_large_values_are_refused(any_db: Database, bad: Decimal) -> None:
    with any_db.session() as session:
        session.add(PositionRow(symbol="BTCUSDT", quantity=bad))
        with pytest.raises(StatementError) as caught:
            session.commit()
        assert isinstance(caught.value.orig, ValueError)


def test_a_float_is_refused_in_queries_too(any_db: Database) -> None:
    with any_db.session() as session, pytest.raises(StatementError) as caught:
        session.exec(select(SignalRow).where(SignalRow.price == 0.1)).all()
    assert isinstance(caught.value.orig, TypeError)


def test_sqlite_stores_the_decimal_text_never_a_real(db: Database) -> None:
    _store_and_read(db, D("0.10"))
    with db.engine.connect() as connection:
        row = connection.execute(text("SELECT typeof(entry_price), entry_price FROM positions")).one()
    assert tuple(row) == ("text", "0.1")


@pytest.mark.postgres
def test_postgresql_stores_numeric_38_18(postgres_url: str) -> None:
    from database.migrate import upgrade

    upgrade(postgres_url)
    database = Database(postgres_url)
    try:
        with database.engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns"
                    " WHERE table_name = 'positions' AND column_name = 'entry_price'"
                )
            ).one()
        assert tuple(row) == ("numeric", 38, 18)
    finally:
        database.close()


def test_to_money_and_canonical_without_a_database() -> None:
    assert to_money(D("1.2300")) == D("1.23") and str(to_money(D("1.2300"))) == "1.23"
    assert str(to_money(D("-0"))) == "0"
    assert str(to_money(12)) == "12"
    assert str(canonical(D("1.000E+5"))) == "100000"
    with pytest.raises(TypeError, match="float"):
        to_money(0.5)
    with pytest.raises(TypeError):
        to_money(False)
