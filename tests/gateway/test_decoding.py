"""Decoding real recorded kline frames and Binance's documented user-data/REST samples; strictness."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from core.events import (
    AccountUpdate,
    Candle,
    ExecutionReport,
    ExecutionType,
    MarkPrice,
    Side,
    VenueOrderStatus,
)
from executor.binance.json_fields import MalformedMessage
from executor.binance.rest_decoding import (
    balance_from_rest,
    candle_from_rest,
    income_from_rest,
    order_from_rest,
    position_from_rest,
)
from executor.binance.stream_decoding import ListenKeyExpired, decode_market_payload, decode_user_payload

from .conftest import FIXTURES


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def real_klines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / "kline_1m_real.jsonl").read_text().splitlines()]


def test_every_recorded_kline_frame_decodes_exactly() -> None:
    frames = real_klines()
    candles = [decode_market_payload(f["data"]) for f in frames]
    assert all(type(c) is Candle for c in candles)
    for frame, candle in zip(frames, candles, strict=True):
        k = frame["data"]["k"]
        assert isinstance(candle, Candle)
        assert candle.symbol == k["s"] == frame["stream"].split("@")[0].upper()
        assert (candle.open_time, candle.close_time) == (k["t"], k["T"])
        # exact: the Decimal prints back to the wire text
        assert (str(candle.open), str(candle.close), str(candle.volume)) == (k["o"], k["c"], k["v"])
        assert candle.quote_volume == Decimal(k["q"])
        assert candle.closed is k["x"]
        assert candle.event_time == frame["data"]["E"]
    assert sum(c.closed for c in candles if isinstance(c, Candle)) == 4


def test_mark_price_and_documented_closed_kline() -> None:
    mark = decode_market_payload(load("mark_price_stream.json"))
    assert mark == MarkPrice("BTCUSDT", Decimal("11794.15000000"), Decimal("11784.62659091"),
                             Decimal("0.00038167"), 1562306400000, 1562305380000)
    candle = decode_market_payload(load("kline_stream_closed.json"))
    assert isinstance(candle, Candle) and candle.closed and candle.trades == 100


def test_order_trade_update_with_a_fill() -> None:
    report = decode_user_payload(load("order_update_trade.json"))
    assert isinstance(report, ExecutionReport)
    assert report.side is Side.BUY and report.status is VenueOrderStatus.PARTIALLY_FILLED
    assert report.execution_type is ExecutionType.TRADE and report.trade_id == 12345678
    assert report.last_filled_qty == Decimal("0.001") and report.last_filled_price == Decimal("7100.50")
    assert report.commission == Decimal("0.01000000") and report.commission_asset == "USDT"
    assert report.realized_pnl == Decimal("12.34") and report.is_maker is True
    assert report.client_order_id == "TEST" and report.order_id == 8886774


def test_order_update_new_has_no_trade_id() -> None:
    report = decode_user_payload(load("order_update_new.json"))
    assert isinstance(report, ExecutionReport)
    assert report.execution_type is ExecutionType.NEW and report.trade_id is None


def test_account_update() -> None:
    update = decode_user_payload(load("account_update.json"))
    assert isinstance(update, AccountUpdate)
    assert update.reason == "ORDER"
    assert update.balances[0].wallet_balance == Decimal("122624.12345678")
    assert [p.quantity for p in update.positions] == [Decimal("0"), Decimal("20"), Decimal("-10")]
    assert update.positions[2].accumulated_realized == Decimal("-45.04000000")


def test_listen_key_expired_accepts_a_string_event_time() -> None:
    event = decode_user_payload({"e": "listenKeyExpired", "E": "1576653824250", "listenKey": "abc"})
    assert event == ListenKeyExpired("abc", 1576653824250)


def test_unused_user_events_are_ignored_not_malformed() -> None:
    assert decode_user_payload({"e": "TRADE_LITE", "E": 1}) is None


def _mutations() -> list[tuple[str, Any]]:
    kline = real_klines()[0]["data"]
    cases: list[tuple[str, Any]] = []
    for field, bad in [("o", 1.01), ("c", None), ("t", "1626992700000"), ("x", "false"), ("n", 4.0),
                       ("h", "abc"), ("l", "NaN")]:
        data = copy.deepcopy(kline)
        data["k"][field] = bad
        cases.append((f"k.{field}={bad!r}", data))
    missing = copy.deepcopy(kline)
    del missing["k"]["v"]
    cases.append(("k.v missing", missing))
    cases.append(("no k", {"e": "kline", "E": 1, "s": "X"}))
    cases.append(("unknown e", {"e": "bookTicker"}))
    cases.append(("array", [kline]))
    return cases


@pytest.mark.parametrize(("case", "payload"), _mutations(), ids=[c for c, _ in _mutations()])
def test_mistyped_or_missing_market_fields_are_malformed(case: str, payload: Any) -> None:
    with pytest.raises(MalformedMessage):
        decode_market_payload(payload)


@pytest.mark.parametrize("field", ["S", "X", "x", "q", "i", "T", "R"])
def test_mistyped_order_update_fields_are_malformed(field: str) -> None:
    data = load("order_update_trade.json")
    data["o"][field] = 12.5 if field != "R" else "false"
    with pytest.raises(MalformedMessage):
        decode_user_payload(data)


def test_rest_samples_decode() -> None:
    order = order_from_rest(load("order_response.json"))
    assert order.status is VenueOrderStatus.NEW and order.price == Decimal("50000.00") and order.is_open
    position = position_from_rest(load("position_risk.json")[0])
    assert position.quantity == Decimal("0.001") and position.leverage == 20
    balance = balance_from_rest(load("balance.json")[0])
    assert balance.available_balance == Decimal("122.12345678")


def test_rest_kline_closed_flag_follows_server_time() -> None:
    row = [1000, "1.0", "2.0", "0.5", "1.5", "10", 60999, "15", 3, "5", "7", "0"]
    assert candle_from_rest("X", row, server_now_ms=61000).closed is True
    assert candle_from_rest("X", row, server_now_ms=60999).closed is False
    with pytest.raises(MalformedMessage):
        candle_from_rest("X", [*row[:1], 1.0, *row[2:]], 61000)


def test_income_entries_decode_exactly_and_reject_a_float_amount() -> None:
    # The shape of Binance's documented GET /fapi/v1/income response.
    entry = {
        "symbol": "BTCUSDT", "incomeType": "FUNDING_FEE", "income": "-0.01234567", "asset": "USDT",
        "info": "FUNDING_FEE", "time": 1570636800000, "tranId": 9689322392, "tradeId": "",
    }
    income = income_from_rest(entry)
    assert income.amount == Decimal("-0.01234567") and income.tran_id == 9689322392
    assert income_from_rest({**entry, "symbol": ""}).symbol == ""  # account-wide entries (transfers)
    with pytest.raises(MalformedMessage):
        income_from_rest({**entry, "income": -0.01234567})
    with pytest.raises(MalformedMessage):
        income_from_rest({k: v for k, v in entry.items() if k != "tranId"})
