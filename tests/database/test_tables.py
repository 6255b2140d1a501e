"""The constraints and keys the order path and the market-data service rely on, on both backends."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from database.engine import Database, upsert_candles
from database.models import (
    CandleRow,
    ControlRow,
    FillRow,
    FundingPaymentRow,
    FundingRow,
    OrderEventRow,
    OrderRow,
    SignalRow,
)

D = Decimal
NOW = 1_732_400_000_000  # epoch ms: does not fit a 32-bit integer


def _fill(trade_id: int, *, symbol: str = "BTCUSDT", price: str = "97000.1") -> FillRow:
    return FillRow(
        symbol=symbol,
        trade_id=trade_id,
        order_id=2**40 + trade_id,
        client_order_id="vwap-entry-1",
        side="BUY",
        price=D(price),
        quantity=D("0.001"),
        commission=D("0.0388"),
        commission_asset="USDT",
        realized_pnl=D(0),
        is_maker=True,
        time=NOW,
    )


def _order(client_order_id: str) -> OrderRow:
    return OrderRow(
        client_order_id=client_order_id,
        symbol="BTCUSDT",
        strategy="vwap",
        side="BUY",
        order_type="LIMIT",
        time_in_force="GTC",
        quantity=D("0.002"),
        price=D("97000.10"),
        state="PENDING_NEW",
        intent="ENTRY",
        created_time=NOW,
        updated_time=NOW,
        expire_time=NOW + 60_000,
    )


def _signal(signal_id: str) -> SignalRow:
    return SignalRow(
        signal_id=signal_id, symbol="BTCUSDT", strategy="vwap", action="OPEN_LONG", price=D(1), event_time=NOW
    )


def _candle(open_time: int, close: str, *, symbol: str = "ADAUSDT", trades: int = 4) -> CandleRow:
    price = D(close)
    return CandleRow(
        symbol=symbol,
        open_time=open_time,
        close_time=open_time + 59_999,
        open=price,
        high=price + D("0.01"),
        low=price - D("0.01"),
        close=price,
        volume=D("1234.5"),
        quote_volume=D("308.625"),
        trades=trades,
    )


def _commit_fails(session: Session) -> bool:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return True
    return False


def test_a_fill_is_stored_once_per_symbol_and_trade_id(any_db: Database) -> None:
    with any_db.session() as session:
        session.add(_fill(1))
        session.commit()
        session.add(_fill(1, price="1"))  # the same trade again (a repeated event)
        assert _commit_fails(session)
        session.add(_fill(1, symbol="ETHUSDT"))  # trade ids are per symbol
        session.commit()
        stored = session.exec(select(FillRow).order_by(col(FillRow.symbol))).all()
    assert [(f.symbol, f.trade_id, f.price, f.order_id) for f in stored] == [
        ("BTCUSDT", 1, D("97000.1"), 2**40 + 1),
        ("ETHUSDT", 1, D("97000.1"), 2**40 + 1),
    ]


def test_client_order_ids_signal_ids_and_funding_times_are_unique(any_db: Database) -> None:
    with any_db.session() as session:
        session.add(_order("c-1"))
        session.commit()
        session.add(_order("c-1"))
        assert _commit_fails(session)

        session.add(_signal("s-1"))
        session.commit()
        session.add(_signal("s-1"))
        assert _commit_fails(session)

        session.add(FundingPaymentRow(symbol="BTCUSDT", amount=D("-0.0123"), time=NOW))
        session.commit()
        session.add(FundingRow(symbol="BTCUSDT", amount=D("-0.0123"), time=NOW))
        assert _commit_fails(session)


def test_an_order_row_round_trips_every_column(any_db: Database) -> None:
    with any_db.session() as session:
        session.add(_order("c-2"))
        session.add(OrderEventRow(client_order_id="c-2", event="PENDING_NEW", detail="", event_time=NOW))
        session.commit()
    with any_db.session() as session:
        row = session.exec(select(OrderRow).where(OrderRow.client_order_id == "c-2")).one()
        events = session.exec(select(OrderEventRow)).all()
    assert row.id is not None and row.price == D("97000.1") and row.quantity == D("0.002")
    assert (row.state, row.reduce_only, row.venue_order_id, row.filled_qty, row.send_attempts) == (
        "PENDING_NEW",
        False,
        None,
        D(0),
        0,
    )
    assert (row.created_time, row.expire_time) == (NOW, NOW + 60_000)
    assert [(e.client_order_id, e.event) for e in events] == [("c-2", "PENDING_NEW")]


def test_a_misspelt_column_is_an_error_not_a_silently_dropped_value() -> None:
    with pytest.raises(TypeError, match="venue_orderid"):
        OrderRow(client_order_id="c", venue_orderid=5)  # type: ignore[call-arg]


def test_upserting_candles_twice_keeps_one_row_per_minute_with_the_latest_values(any_db: Database) -> None:
    with any_db.session() as session:
        assert upsert_candles(session, [_candle(0, "0.25"), _candle(60_000, "0.26")]) == 2
        session.commit()
        # The stream's final bar and a REST back-fill overlapping it, with a corrected value.
        assert upsert_candles(session, [_candle(60_000, "0.27", trades=9), _candle(120_000, "0.28")]) == 2
        session.commit()
    with any_db.session() as session:
        rows = session.exec(select(CandleRow).order_by(col(CandleRow.open_time))).all()
    assert [(r.open_time, r.close, r.high, r.trades) for r in rows] == [
        (0, D("0.25"), D("0.26"), 4),
        (60_000, D("0.27"), D("0.28"), 9),
        (120_000, D("0.28"), D("0.29"), 4),
    ]


def test_a_batch_holding_one_minute_twice_stores_the_last(any_db: Database) -> None:
    batch = [_candle(0, "1"), _candle(0, "2"), _candle(0, "3", symbol="WLDUSDT")]
    with any_db.session() as session:
        assert upsert_candles(session, batch) == 2
        session.commit()
        rows = session.exec(select(CandleRow).order_by(col(CandleRow.symbol))).all()
    assert [(r.symbol, r.close) for r in rows] == [("ADAUSDT", D(2)), ("WLDUSDT", D(3))]


async def test_a_large_back_fill_is_upserted_through_the_database_thread(any_db: Database) -> None:
    candles = [_candle(i * 60_000, "0.5") for i in range(1_500)]  # one REST page: several statements
    assert await any_db.run(lambda s: upsert_candles(s, candles)) == 1_500
    assert await any_db.run(lambda s: upsert_candles(s, candles[-10:])) == 10
    count = await any_db.run(lambda s: s.exec(select(func.count()).select_from(CandleRow)).one())
    assert count == 1_500
    assert await any_db.run(lambda s: upsert_candles(s, [])) == 0


def test_the_kill_switch_row_survives_a_restart(any_db_url: str) -> None:
    from database.migrate import upgrade

    upgrade(any_db_url)
    first = Database(any_db_url)
    with first.session() as session:
        session.add(ControlRow(key="halt", value='{"reason": "manual"}', updated_time=NOW))
        session.commit()
    first.close()
    second = Database(any_db_url)
    try:
        with second.session() as session:
            row = session.get(ControlRow, "halt")
        assert row is not None and row.value == '{"reason": "manual"}'
    finally:
        second.close()
