"""Funding payments in the database: one per symbol and funding time, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from database.engine import Database
from executor.orders import store as order_store

EIGHT_HOURS_MS = 8 * 3_600_000
T = 1_700_006_400_000  # a funding time


async def test_one_payment_per_symbol_and_funding_time_even_when_reported_milliseconds_apart(
    any_db: Database,
) -> None:
    book = partial(order_store.book_funding, asset="USDT")
    first = await any_db.run(partial(book, symbol="WLDUSDT", amount=Decimal("-0.0123"), time=T))
    assert first is not None and first.funding == Decimal("-0.0123")
    # The same payment as the income history may time it (a few ms off the stream's T): not again.
    assert await any_db.run(partial(book, symbol="WLDUSDT", amount=Decimal("-0.0123"), time=T + 7)) is None
    # Another symbol at the same time, and the same symbol at the next funding time, are new payments.
    assert await any_db.run(partial(book, symbol="ADAUSDT", amount=Decimal("0.5"), time=T)) is not None
    next_time = T + EIGHT_HOURS_MS
    later = await any_db.run(partial(book, symbol="WLDUSDT", amount=Decimal("-0.0100"), time=next_time))
    assert later is not None and later.funding == Decimal("-0.0223")
    assert await any_db.run(order_store.last_funding_times) == {"WLDUSDT": next_time, "ADAUSDT": T}
