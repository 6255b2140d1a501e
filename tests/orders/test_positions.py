"""Position accounting: average entry, realized PnL on reduce and flip, fees, funding, dedupe."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.events import Side
from executor.orders.positions import Position, PositionBook, apply_fill, apply_funding

D = Decimal


def test_increase_averages_the_entry_price() -> None:
    p, r = apply_fill(Position("X"), Side.BUY, D("1"), D("100"), time=1)
    assert (p.quantity, p.entry_price, r, p.opened_time) == (D("1"), D("100"), D(0), 1)
    p, r = apply_fill(p, Side.BUY, D("3"), D("120"), time=2)
    assert p.quantity == D("4") and p.entry_price == D("115") and r == 0
    assert p.opened_time == 1


def test_reduce_long_realizes_and_keeps_entry() -> None:
    p, _ = apply_fill(Position("X"), Side.BUY, D("2"), D("100"))
    p, r = apply_fill(p, Side.SELL, D("0.5"), D("110"))
    assert r == D("5") and p.realized_pnl == D("5")
    assert p.quantity == D("1.5") and p.entry_price == D("100")


def test_reduce_short_realizes_with_the_short_sign() -> None:
    p, _ = apply_fill(Position("X"), Side.SELL, D("2"), D("100"))
    assert p.quantity == D("-2")
    p, r = apply_fill(p, Side.BUY, D("1"), D("90"))
    assert r == D("10") and p.quantity == D("-1")


def test_close_to_flat_resets_entry() -> None:
    p, _ = apply_fill(Position("X"), Side.BUY, D("1"), D("100"), time=1)
    p, r = apply_fill(p, Side.SELL, D("1"), D("95"), time=2)
    assert p.is_flat and p.entry_price == 0 and p.opened_time is None and r == D("-5")


def test_flip_closes_then_opens_the_remainder_at_the_fill_price() -> None:
    p, _ = apply_fill(Position("X"), Side.BUY, D("1"), D("100"), time=1)
    p, r = apply_fill(p, Side.SELL, D("3"), D("110"), time=5)
    assert r == D("10")
    assert p.quantity == D("-2") and p.entry_price == D("110") and p.opened_time == 5


def test_fees_and_funding_accumulate() -> None:
    p, _ = apply_fill(Position("X"), Side.BUY, D("1"), D("100"), commission=D("0.05"))
    p, _ = apply_fill(p, Side.SELL, D("1"), D("100"), commission=D("0.02"))
    p = apply_funding(p, D("-0.013"), time=9)
    p = apply_funding(p, D("0.003"), time=10)
    assert p.fees == D("0.07") and p.funding == D("-0.010") and p.updated_time == 10


def test_a_commission_in_bnb_is_not_added_to_the_usdt_fees() -> None:
    p, _ = apply_fill(Position("X"), Side.BUY, D("1"), D("100"), commission=D("0.04"))
    p, _ = apply_fill(p, Side.SELL, D("1"), D("101"), commission=D("0.0001"), commission_asset="BNB")
    assert p.fees == D("0.04")  # USDT only; the BNB stays in the fills table with its asset
    assert p.net_realized == D("0.96")


def test_zero_quantity_fill_is_refused() -> None:
    with pytest.raises(ValueError):
        apply_fill(Position("X"), Side.BUY, D("0"), D("1"))


def test_book_ignores_a_repeated_trade_id() -> None:
    book = PositionBook()
    assert book.book("X", 1, Side.BUY, D("1"), D("100")) is not None
    assert book.book("X", 1, Side.BUY, D("1"), D("100")) is None
    assert book.book("Y", 1, Side.BUY, D("1"), D("100")) is not None  # same id, other symbol
    assert book.get("X").quantity == D("1")


# --- property: equal to an independent exact replay ---------------------------------------------


def _replay(fills: list[tuple[int, Side, Decimal, Decimal]]) -> tuple[Fraction, Fraction, Fraction]:
    """Independent recomputation in exact rationals with a cost basis (not an entry price).

    `cost` is the signed money paid for the open quantity; a reduction takes its proportional share
    of that cost. Returns (quantity, entry price, realized PnL).
    """
    qty = Fraction(0)
    cost = Fraction(0)
    realized = Fraction(0)
    for _, side, q, p in fills:
        dq = Fraction(q) if side is Side.BUY else -Fraction(q)
        price = Fraction(p)
        if qty == 0 or (qty > 0) == (dq > 0):
            qty += dq
            cost += dq * price
            continue
        # the part of the fill that closes: the sign of qty, magnitude min(|qty|, |dq|)
        closing = min(abs(qty), abs(dq)) * (1 if qty > 0 else -1)
        share = cost * closing / qty
        realized += closing * price - share
        qty -= closing
        cost -= share
        rest = dq + closing
        if rest != 0:
            qty += rest
            cost += rest * price
    entry = cost / qty if qty != 0 else Fraction(0)
    return qty, entry, realized


_fill = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=5000).map(lambda n: D(n) / 1000),
    st.integers(min_value=1, max_value=200_000).map(lambda n: D(n) / 10),
)


def _close(a: Decimal, b: Fraction, scale: Fraction) -> bool:
    # Decimal division rounds at 28 significant digits; anything beyond that is a real bug.
    return abs(Fraction(a) - b) <= scale * Fraction(1, 10**20)


@given(st.lists(_fill, min_size=1, max_size=40), st.data())
def test_book_matches_an_exact_replay_of_the_unique_fills(
    raw: list[tuple[Side, Decimal, Decimal]], data: st.DataObject
) -> None:
    fills = [(i, side, q, p) for i, (side, q, p) in enumerate(raw)]
    # The stream repeats and reorders events: each fill may arrive several times, in any order.
    repeats = data.draw(st.lists(st.sampled_from(fills), max_size=len(fills)))
    delivered = data.draw(st.permutations(fills + repeats))
    book = PositionBook()
    first_seen: list[tuple[int, Side, Decimal, Decimal]] = []
    seen: set[int] = set()
    for trade_id, side, q, p in delivered:
        book.book("BTCUSDT", trade_id, side, q, p, commission=q * p / 1000)
        if trade_id not in seen:
            seen.add(trade_id)
            first_seen.append((trade_id, side, q, p))

    qty, entry, realized = _replay(first_seen)
    pos = book.get("BTCUSDT")
    scale = max((Fraction(q) * Fraction(p) for _, _, q, p in fills), default=Fraction(1)) * len(fills)
    assert Fraction(pos.quantity) == qty
    assert _close(pos.entry_price, entry, scale)
    assert _close(pos.realized_pnl, realized, scale)
    assert pos.fees == sum((q * p / 1000 for _, _, q, p in fills), D(0))

    # Path independence: realized + unrealized at any mark equals the cash flow of all fills.
    mark = Fraction(50_000)
    cash = sum(
        ((-1 if s is Side.BUY else 1) * Fraction(q) * Fraction(p) for _, s, q, p in fills), Fraction(0)
    )
    total = Fraction(pos.realized_pnl) + Fraction(pos.unrealized_pnl(D(50_000)))
    assert abs(total - (cash + qty * mark)) <= scale * Fraction(1, 10**18)
