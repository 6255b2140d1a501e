"""The matching engine on a hand-built price path: rejections with their boundaries, fills, fees,
positions and PnL, margin, reduce-only, client ids and funding."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pytest

from core.events import Side
from core.instruments import Instrument, parse_exchange_info
from simulator.bars import DAY_MS, MINUTE_MS, Bar
from simulator.engine import MatchingEngine
from simulator.engine_types import EngineConfig, NewOrder
from simulator.errors import SimError
from simulator.kline_files import KlineSeries
from simulator.order_rules import parse_new_order
from simulator.replay import Replay

INFO = parse_exchange_info(
    json.loads((Path(__file__).resolve().parents[2] / "data" / "exchange_info.json").read_text())
)
ADA = INFO.instruments["ADAUSDT"]
T0 = 19_000 * DAY_MS - MINUTE_MS  # 23:59 UTC: the next minute starts a funding time
M1 = T0 + MINUTE_MS
D = Decimal


def _bar(open_time: int, o: str, h: str, low: str, c: str) -> Bar:
    z = D(0)
    return Bar(open_time, D(o), D(h), D(low), D(c), D(1000), z, 0, z, z)


# minute 0 flat at 0.5; minute 1 (up bar) 0.5 -> 0.49 at +20 s -> 0.51 at +40 s -> 0.505 at +59.999 s
BARS = [_bar(T0, "0.5", "0.5", "0.5", "0.5"), _bar(M1, "0.5", "0.51", "0.49", "0.505")]


def engine(config: EngineConfig | None = None, instrument: Instrument = ADA) -> MatchingEngine:
    replay = Replay(KlineSeries(BARS, ADA.tick_size), ADA.tick_size, start_ms=T0, history_ms=0)
    return MatchingEngine({"ADAUSDT": instrument}, {"ADAUSDT": replay}, config or EngineConfig(), T0)


def place(e: MatchingEngine, now: int = T0, **params: str) -> str:
    """Place through the same parsing the REST endpoint uses; return the resulting status."""
    base = {
        "symbol": "ADAUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "100",
        "price": "0.4800",
    }
    base.update(params)
    if base["type"] == "MARKET":
        base.pop("price", None)
        base.pop("timeInForce", None)
    return e.place_order(parse_new_order(base, e.instrument("ADAUSDT")), now).status


def rejected(e: MatchingEngine, **params: str) -> SimError:
    with pytest.raises(SimError) as info:
        place(e, **params)
    return info.value


# --- rejections and their boundaries -------------------------------------------------------------


def test_price_on_the_tick_is_accepted_and_off_the_tick_rejected() -> None:
    e = engine()
    assert place(e, price="0.4801") == "NEW"
    err = rejected(e, price="0.48005")
    assert (err.code, err.msg) == (-4014, "Price not increased by tick size.")


def test_precision_beyond_the_symbol_is_minus_1111() -> None:
    e = engine()
    assert rejected(e, price="0.480001").code == -1111
    assert rejected(e, quantity="100.5").code == -1111
    assert rejected(e, quantity="1e2").code == -1111  # str(float) exponent notation
    assert place(e, quantity="100.000") == "NEW"  # trailing zeros are not precision


def test_quantity_not_on_the_step_is_minus_4023() -> None:
    e = engine(instrument=dataclasses.replace(ADA, step_size=D(10), min_qty=D(10)))
    assert place(e, quantity="110") == "NEW"
    err = rejected(e, quantity="115")
    assert (err.code, err.msg) == (-4023, "Qty not increased by step size.")


def test_non_positive_quantity_is_minus_4003_and_missing_is_minus_1102() -> None:
    e = engine()
    assert rejected(e, quantity="0").code == -4003
    assert rejected(e, quantity="-5").code == -4003
    err = rejected(e, quantity="")
    assert (err.code, err.msg) == (
        -1102,
        "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
    )
    with pytest.raises(SimError) as info:
        e.place_order(
            parse_new_order(
                {"symbol": "ADAUSDT", "side": "BUY", "type": "LIMIT", "quantity": "10", "price": "0.48"}, ADA
            ),
            T0,
        )
    assert info.value.code == -1102 and "'timeInForce'" in info.value.msg


def test_min_notional_boundary_and_reduce_only_exemption() -> None:
    e = engine()
    assert place(e, quantity="10", price="0.5000") == "FILLED"  # 10 × 0.5 = 5 exactly: allowed
    err = rejected(e, quantity="9", price="0.4800")
    assert (err.code, err.msg) == (
        -4164,
        "Order's notional must be no smaller than 5 (unless you choose reduce only).",
    )
    assert place(e, side="SELL", type="MARKET", quantity="9", reduceOnly="true") == "FILLED"


def test_percent_price_caps_buy_and_floors_sell_at_the_mark() -> None:
    e = engine()  # mark 0.5, PERCENT_PRICE 1.15 / 0.85 -> [0.425, 0.575]
    assert place(e, price="0.5750") == "FILLED"
    err = rejected(e, price="0.5751")
    assert (err.code, err.msg) == (-4016, "Limit price can't be higher than 0.575.")
    assert place(e, side="SELL", price="0.4250") == "FILLED"
    err = rejected(e, side="SELL", price="0.4249")
    assert (err.code, err.msg) == (-4024, "Limit price can't be lower than 0.425.")


def test_margin_boundary_is_minus_2019() -> None:
    e = engine(EngineConfig(starting_balance=D(100), default_leverage=1))
    assert place(e, quantity="200", price="0.5000") == "FILLED"  # exactly 100 of margin
    e = engine(EngineConfig(starting_balance=D(100), default_leverage=1))
    err = rejected(e, quantity="201", price="0.5000")
    assert (err.code, err.msg) == (-2019, "Margin is insufficient.")


def test_reduce_only_rejected_when_it_would_increase_or_flip() -> None:
    e = engine()
    assert rejected(e, side="SELL", type="MARKET", reduceOnly="true").code == -2022  # flat
    place(e, type="MARKET", quantity="100")
    err = rejected(e, side="BUY", type="MARKET", quantity="10", reduceOnly="true")
    assert (err.code, err.msg) == (-2022, "ReduceOnly Order is rejected.")
    assert rejected(e, side="SELL", type="MARKET", quantity="101", reduceOnly="true").code == -2022
    assert place(e, side="SELL", type="MARKET", quantity="100", reduceOnly="true") == "FILLED"
    assert e.account.position("ADAUSDT").amount == 0


def test_client_id_pattern_and_duplicates_among_open_orders_only() -> None:
    e = engine()
    assert place(e, newClientOrderId="a" * 36) == "NEW"
    assert rejected(e, newClientOrderId="a" * 37).code == -4015
    err = rejected(e, newClientOrderId="has space")
    assert (err.code, err.msg) == (-4015, "Client order id is not valid.")
    err = rejected(e, newClientOrderId="a" * 36)
    assert (err.code, err.msg) == (-4116, "ClientOrderId is duplicated.")
    assert place(e, type="MARKET", newClientOrderId="reuse-1") == "FILLED"
    assert place(e, type="MARKET", newClientOrderId="reuse-1") == "FILLED"  # Binance allows it after a fill
    assert len(e.trades("ADAUSDT")) == 2
    assert e.get_order("ADAUSDT", client_order_id="reuse-1").order_id == e.trades("ADAUSDT")[-1].order_id


def test_unknown_symbol_position_side_and_order_lookups() -> None:
    e = engine()
    with pytest.raises(SimError) as info:
        e.instrument("NOPEUSDT")
    assert (info.value.code, info.value.msg) == (-1121, "Invalid symbol.")
    assert rejected(e, positionSide="LONG").code == -4061
    assert place(e, positionSide="BOTH") == "NEW"
    with pytest.raises(SimError) as info:
        e.get_order("ADAUSDT", order_id=1)
    assert (info.value.code, info.value.msg) == (-2013, "Order does not exist.")
    with pytest.raises(SimError) as info:
        e.cancel_order("ADAUSDT", T0, order_id=1)
    assert (info.value.code, info.value.msg) == (-2011, "Unknown order sent.")


def test_cancel_of_a_filled_order_is_unknown_order() -> None:
    e = engine()
    place(e, type="MARKET", newClientOrderId="m1")
    with pytest.raises(SimError) as info:
        e.cancel_order("ADAUSDT", T0, client_order_id="m1")
    assert info.value.code == -2011


def test_max_open_orders() -> None:
    e = engine(instrument=dataclasses.replace(ADA, max_num_orders=2))
    place(e)
    place(e)
    err = rejected(e)
    assert (err.code, err.msg) == (-2025, "Reach max open order limit.")


# --- fills ---------------------------------------------------------------------------------------


def test_resting_buy_fills_when_the_path_reaches_the_limit_not_before() -> None:
    e = engine()
    assert place(e, price="0.4950") == "NEW"
    # path 0.5 -> 0.49 over 20 s: it prints 0.4950 from offset 9 900 ms (half-even rounding)
    e.advance(M1 + 9_899)
    assert e.open_orders()[0].status == "NEW"
    e.advance(M1 + 9_900)
    order = e.get_order("ADAUSDT", client_order_id=e.orders("ADAUSDT")[0].client_order_id)
    assert order.status == "FILLED" and order.avg_price == D("0.4950") and order.update_time == M1 + 9_900
    trade = e.trades("ADAUSDT")[0]
    assert trade.maker and trade.price == D("0.4950")
    assert trade.commission == D("0.00990000")  # 100 × 0.495 × 0.02 %


def test_wick_between_two_advances_still_fills() -> None:
    e = engine()
    place(e, side="SELL", price="0.5100")  # the high prints only at +40 s
    e.advance(M1 + 59_000)
    assert e.trades("ADAUSDT")[0].price == D("0.5100")


def test_fill_parts_split_a_marketable_order_into_trades_at_once() -> None:
    e = engine(EngineConfig(fill_parts=3))
    assert place(e, type="MARKET", quantity="100") == "FILLED"
    trades = e.trades("ADAUSDT")
    assert [t.qty for t in trades] == [D(33), D(33), D(34)]  # a third on the step; the last takes the rest
    assert len({t.trade_id for t in trades}) == 3 and all(not t.maker and t.price == D("0.5") for t in trades)
    updates = [ev for ev in e.drain_events() if hasattr(ev, "execution")]
    assert [(ev.execution, ev.order.status, ev.order.executed_qty) for ev in updates] == [
        ("NEW", "NEW", D(0)),
        ("TRADE", "PARTIALLY_FILLED", D(33)),
        ("TRADE", "PARTIALLY_FILLED", D(66)),
        ("TRADE", "FILLED", D(100)),
    ]
    assert e.account.position("ADAUSDT").amount == D(100)


def test_fill_parts_fill_a_resting_order_one_trade_per_step_and_a_cancel_keeps_what_filled() -> None:
    e = engine(EngineConfig(fill_parts=3))
    assert place(e, price="0.4950") == "NEW"
    reserved = e.summary().open_order_initial_margin
    e.advance(M1 + 9_900)  # the path reaches the limit: the first third
    [order] = e.open_orders()
    assert (order.status, order.executed_qty, order.avg_price) == ("PARTIALLY_FILLED", D(33), D("0.4950"))
    assert e.summary().open_order_initial_margin == reserved * 67 / 100  # only the unfilled part
    e.advance(M1 + 10_000)  # still through the limit: the second third
    assert e.summary().open_order_initial_margin == reserved * 34 / 100
    cancelled = e.cancel_order("ADAUSDT", M1 + 10_000, client_order_id=order.client_order_id)
    assert (cancelled.status, cancelled.executed_qty) == ("CANCELED", D(66))
    trades = e.trades("ADAUSDT")
    assert [t.qty for t in trades] == [D(33), D(33)] and all(t.maker for t in trades)
    assert e.account.position("ADAUSDT").amount == D(66) and e.open_orders() == []
    assert e.summary().open_order_initial_margin == 0


def test_ioc_fok_expire_when_not_marketable_and_fill_as_taker_when_marketable() -> None:
    e = engine()
    for tif in ("IOC", "FOK"):
        assert place(e, timeInForce=tif, price="0.4900") == "EXPIRED"
        assert place(e, timeInForce=tif, price="0.5100") == "FILLED"
    takers = e.trades("ADAUSDT")
    assert all(not t.maker and t.price == D("0.5") for t in takers)  # at the market, never beyond the limit
    assert [ev.execution for ev in e.drain_events() if hasattr(ev, "execution")][:2] == ["NEW", "EXPIRED"]


def test_gtx_rests_or_is_rejected_with_minus_5022() -> None:
    e = engine()
    assert place(e, timeInForce="GTX", price="0.4999") == "NEW"
    err = rejected(e, timeInForce="GTX", price="0.5000")
    assert err.code == -5022 and err.msg.startswith("Due to the order could not be executed as maker")


def test_market_order_pays_slippage_and_taker_fee() -> None:
    e = engine(EngineConfig(slippage_bps=D(10)))
    place(e, type="MARKET", quantity="1000")
    buy = e.trades("ADAUSDT")[0]
    assert buy.price == D("0.5005") and not buy.maker  # 0.5 × 1.001, rounded up to the tick
    assert buy.commission == D("0.25025000")  # 1000 × 0.5005 × 0.05 %
    place(e, side="SELL", type="MARKET", quantity="1000")
    assert e.trades("ADAUSDT")[1].price == D("0.4995")


def test_average_entry_flip_realized_and_unrealized_pnl() -> None:
    e = engine(EngineConfig(maker_fee=D(0), taker_fee=D(0)))
    place(e, type="MARKET", quantity="100")  # 0.5
    e.advance(M1 + 40_000)  # path at 0.51
    place(e, now=M1 + 40_000, type="MARKET", quantity="100")
    pos = e.account.position("ADAUSDT")
    assert (pos.amount, pos.entry_price) == (D(200), D("0.505"))
    place(e, now=M1 + 40_000, side="SELL", type="MARKET", quantity="300")  # close 200, open 100 short
    pos = e.account.position("ADAUSDT")
    assert (pos.amount, pos.entry_price, pos.realized) == (D(-100), D("0.51"), D("1.00000000"))
    e.advance(M1 + 59_999)  # mark 0.505
    assert e.position_snapshot("ADAUSDT").unrealized == D("0.50000000")
    # +1 realized, -0.005 funding paid at 00:00 by the 100 long (100 × 0.5 × 0.0001)
    assert e.account.wallet == D("10000.99500000")


def test_funding_debits_a_long_at_the_funding_time_when_the_rate_is_positive() -> None:
    e = engine(EngineConfig(maker_fee=D(0), taker_fee=D(0)))
    place(e, type="MARKET", quantity="1000")
    e.advance(M1 - 1)
    assert e.account.wallet == D("10000")
    e.drain_events()
    e.advance(M1)  # 00:00 UTC, mark 0.5, rate 0.0001: 1000 × 0.5 × 0.0001 = 0.05
    assert e.account.wallet == D("9999.95000000")
    (event,) = e.drain_events()
    assert event.reason == "FUNDING_FEE" and event.balances[0].balance_change == D("-0.05000000")
    assert e.account.income[-1].income_type == "FUNDING_FEE"
    assert e.next_funding_time("ADAUSDT", M1) == M1 + 8 * 3_600_000


def test_per_symbol_funding_interval() -> None:
    e = engine(EngineConfig(symbol_funding_hours={"ADAUSDT": 4}))
    assert e.next_funding_time("ADAUSDT", M1) == M1 + 4 * 3_600_000


def test_resting_reduce_only_expires_when_the_position_is_gone() -> None:
    e = engine()
    place(e, type="MARKET", quantity="100")
    assert place(e, side="SELL", price="0.5100", quantity="100", reduceOnly="true") == "NEW"
    place(e, side="SELL", type="MARKET", quantity="100")
    e.advance(M1 + 59_000)
    assert e.orders("ADAUSDT")[1].status == "EXPIRED"


def test_side_and_engine_typed_use_without_strings() -> None:
    e = engine()
    order = e.place_order(NewOrder("ADAUSDT", Side.BUY, "MARKET", D(20)), T0)
    assert order.status == "FILLED" and order.executed_qty == D(20)
