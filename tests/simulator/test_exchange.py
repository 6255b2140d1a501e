"""SimulatedExchange through its REST methods and payloads, checked against the official SDK's own
pydantic models (the fidelity check), the api_samples field sets, and for determinism."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from binance_sdk_derivatives_trading_usds_futures.rest_api import models as rest
from binance_sdk_derivatives_trading_usds_futures.websocket_streams import models as ws

from simulator.errors import SimError
from simulator.exchange import SimulatedExchange
from simulator.exchange_core import USER_STREAM

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path("/work/shared/data/api_samples/nautilus_docs_derived/crate_futures")
START = 1_763_012_345_000  # any time: the replay is shifted onto it
MIN = 60_000


def exchange() -> SimulatedExchange:
    return SimulatedExchange.from_data(
        ROOT / "data", start_ms=START, synthetic_symbols=["SYN001USDT"], seed=3
    )


def fields(model: Any) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items() if name != "additional_properties"}


def check(model: Any, payload: Any, omitted: Iterable[str] = (), extra: Iterable[str] = ()) -> None:
    """Validate as the SDK does (strict, from JSON) and compare the field names both ways; `extra` are
    fields Binance documents that the SDK's model lacks."""
    model.model_validate_json(json.dumps(payload))
    names = fields(model) | set(extra)
    assert set(payload) <= names, f"{model.__name__}: fields the SDK does not know: {set(payload) - names}"
    missing = names - set(payload) - set(omitted)
    assert not missing, f"{model.__name__}: fields Binance sends that we do not: {missing}"


@pytest.fixture
def traded() -> tuple[SimulatedExchange, int]:
    """An exchange with a filled market buy, a resting limit sell and a funding payment behind it."""
    ex = exchange()
    now = START + 1_000
    ex.new_order({"symbol": "ADAUSDT", "side": "BUY", "type": "MARKET", "quantity": "100"}, now)
    price = ex.mark_price("ADAUSDT", now)
    ex.new_order(
        {
            "symbol": "ADAUSDT",
            "side": "SELL",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "50",
            "price": str(price * Decimal("1.1")).rstrip("0")[:6],
            "newClientOrderId": "rest-1",
        },
        now,
    )
    ex.advance_to(START + 9 * 3_600_000, set())
    return ex, START + 9 * 3_600_000


ORDER_OMITTED = {"activatePrice", "priceRate"}  # trailing-stop fields: no such orders here


def test_order_endpoints_match_the_sdk_models(traded: tuple[SimulatedExchange, int]) -> None:
    ex, now = traded
    body = ex.new_order(
        {
            "symbol": "ADAUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "20",
            "price": "0.3",
            "newClientOrderId": "rest-2",
        },
        now,
    )
    # Binance's documented response carries avgPrice and cumQuote; the SDK model lacks them
    check(rest.NewOrderResponse, body, ORDER_OMITTED, extra={"avgPrice", "cumQuote"})
    queried = ex.query_order({"symbol": "ADAUSDT", "origClientOrderId": "rest-2"}, now)
    check(rest.QueryOrderResponse, queried, ORDER_OMITTED)
    assert queried["status"] == "NEW" and queried["price"] == "0.3" and queried["origQty"] == "20"
    for o in ex.open_orders({"symbol": "ADAUSDT"}, now):
        check(rest.CurrentAllOpenOrdersResponse, o, ORDER_OMITTED)
    for o in ex.all_orders({"symbol": "ADAUSDT"}, now):
        check(rest.AllOrdersResponse, o, ORDER_OMITTED | {"pair", "cumBase"})  # COIN-M fields
    canceled = ex.cancel_order({"symbol": "ADAUSDT", "orderId": str(queried["orderId"])}, now)
    check(rest.CancelOrderResponse, canceled, ORDER_OMITTED, extra={"avgPrice", "cumQuote"})
    assert canceled["status"] == "CANCELED"
    trades = ex.user_trades({"symbol": "ADAUSDT"}, now)
    assert trades
    for t in trades:
        check(rest.AccountTradeListResponse, t, {"baseQty", "marginAsset", "pair"})
    for i in ex.income({}, now):
        check(rest.GetIncomeHistoryResponse, i)
    assert {i["incomeType"] for i in ex.income({}, now)} >= {"COMMISSION", "FUNDING_FEE"}


def test_account_endpoints_match_the_sdk_models(traded: tuple[SimulatedExchange, int]) -> None:
    ex, now = traded
    v2 = ex.account_v2({}, now)
    check(rest.AccountInformationV2Response, v2)
    check(rest.AccountInformationV2ResponseAssetsInner, v2["assets"][0])
    for p in v2["positions"]:
        check(rest.AccountInformationV2ResponsePositionsInner, p)
    v3 = ex.account_v3({}, now)
    check(rest.AccountInformationV3Response, v3)
    check(rest.AccountInformationV3ResponseAssetsInner, v3["assets"][0])
    assert [p["symbol"] for p in v3["positions"]] == ["ADAUSDT"]
    check(rest.AccountInformationV3ResponsePositionsInner, v3["positions"][0])
    for b in ex.balance_v2({}, now):
        check(rest.FuturesAccountBalanceV2ResponseInner, b)
    for b in ex.balance_v3({}, now):
        check(rest.FuturesAccountBalanceV3Response, b)
    for p in ex.position_risk_v2({}, now):
        check(rest.PositionInformationV2ResponseInner, p)
    (p3,) = ex.position_risk_v3({}, now)
    check(rest.PositionInformationV3ResponseInner, p3)
    assert p3["positionAmt"] == "100"
    # wallet = start - taker fee - funding, consistent across every view
    wallet = Decimal(v3["totalWalletBalance"])
    assert wallet < Decimal(10_000)
    assert Decimal(ex.balance_v2({}, now)[0]["balance"]) == wallet
    assert Decimal(v3["availableBalance"]) == wallet + Decimal(v3["totalUnrealizedProfit"]) - Decimal(
        v3["totalInitialMargin"]
    )


def test_market_and_misc_endpoints_match_the_sdk_models() -> None:
    ex = exchange()
    now = START + 30_000
    check(rest.CheckServerTimeResponse, ex.time({}, now))
    info = ex.exchange_info({}, now)
    rest.ExchangeInformationResponse.model_validate_json(json.dumps(info))
    assert {s["symbol"] for s in info["symbols"]} == {"ADAUSDT", "WLDUSDT", "SYN001USDT"}
    check(rest.MarkPriceResponse1, ex.premium_index({"symbol": "ADAUSDT"}, now))
    check(rest.Ticker24hrPriceChangeStatisticsResponse1, ex.ticker_24hr({"symbol": "WLDUSDT"}, now))
    check(rest.SymbolPriceTickerResponse1, ex.ticker_price({"symbol": "WLDUSDT"}, now))
    for f in ex.funding_rate({"symbol": "ADAUSDT", "limit": "3"}, now):
        check(rest.GetFundingRateHistoryResponseInner, f, {"rateType"})
    check(rest.ChangeInitialLeverageResponse, ex.change_leverage({"symbol": "ADAUSDT", "leverage": "7"}, now))
    for b in ex.leverage_bracket({"symbol": "ADAUSDT"}, now):
        rest.NotionalAndLeverageBracketsResponse1Inner.model_validate_json(json.dumps(b))
    check(rest.GetCurrentPositionModeResponse, ex.position_side_dual({}, now))
    assert ex.position_side_dual({}, now) == {"dualSidePosition": False}
    for value, code in (("true", -1130), ("false", -4059)):
        with pytest.raises(SimError) as err:
            ex.change_position_side_dual({"dualSidePosition": value}, now)
        assert err.value.code == code
    with pytest.raises(SimError) as err:
        ex.change_leverage({"symbol": "ADAUSDT", "leverage": "126"}, now)
    assert (err.value.code, err.value.msg) == (-4028, "Leverage 126 is not valid")


def test_klines_end_with_the_open_bar_as_it_stands_now() -> None:
    ex = exchange()
    now = START + 30_000
    rows = ex.klines({"symbol": "WLDUSDT", "interval": "1m", "limit": "5"}, now)
    sample = json.loads(
        (SAMPLES.parent / "python_resources/http_responses/http_futures_market_klines.json").read_text()
    )
    assert [type(v) for v in rows[0]] == [type(v) for v in sample[0]]
    current = now - now % MIN
    assert [r[0] for r in rows] == [current - 4 * MIN + i * MIN for i in range(5)]
    assert all(isinstance(v, str) for r in rows for v in (r[1], r[2], r[3], r[4], r[5]))
    assert Decimal(rows[-1][4]) == ex.mark_price("WLDUSDT", now)  # the open bar's close is the price now
    later = ex.klines({"symbol": "WLDUSDT", "interval": "1m", "startTime": str(current - 2 * MIN)}, now)
    assert [r[0] for r in later] == [current - 2 * MIN, current - MIN, current]  # nothing from the future
    closed = ex.klines(
        {"symbol": "WLDUSDT", "interval": "1m", "endTime": str(current - 1)}, current + 5 * MIN
    )
    assert closed[-1][0] == current - MIN


def test_stream_payloads_validate_against_the_sdk_stream_models(
    traded: tuple[SimulatedExchange, int],
) -> None:
    ex, now = traded
    ex.new_order({"symbol": "ADAUSDT", "side": "SELL", "type": "MARKET", "quantity": "20"}, now + 10)
    out = ex.advance_to(now + 61_000, {"adausdt@kline_1m", "adausdt@markPrice@1s"})
    streams = {s for s, _ in out}
    assert streams == {"adausdt@kline_1m", "adausdt@markPrice@1s", USER_STREAM}
    klines = [p for s, p in out if s == "adausdt@kline_1m"]
    for p in klines:
        ws.KlineCandlestickStreamsResponse.model_validate_json(json.dumps(p))
        assert set(p["k"]) == {
            "t",
            "T",
            "s",
            "i",
            "f",
            "L",
            "o",
            "c",
            "h",
            "l",
            "v",
            "n",
            "x",
            "q",
            "V",
            "Q",
            "B",
        }
    final = [p for p in klines if p["k"]["x"]]
    assert len(final) == 1 and final[0]["E"] % MIN == 0 and final[0]["k"]["T"] == final[0]["E"] - 1
    live_gaps = {b["E"] - a["E"] for a, b in itertools.pairwise(klines) if not b["k"]["x"]} - {0}
    assert live_gaps == {250}
    marks = [p for s, p in out if s == "adausdt@markPrice@1s"]
    assert len(marks) == 61
    for p in marks:
        ws.MarkPriceStreamResponse.model_validate_json(json.dumps(p))
        assert p["T"] > p["E"] and p["r"] == "0.0001"
    users = [p for s, p in out if s == USER_STREAM]
    assert [p["e"] for p in users] == [
        "ORDER_TRADE_UPDATE", "TRADE_LITE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"
    ]
    names = {
        "ORDER_TRADE_UPDATE": "OrderTradeUpdate", "ACCOUNT_UPDATE": "AccountUpdate", "TRADE_LITE": "TradeLite"
    }
    for p in users:
        event = ws.UserDataStreamEventsResponse.model_validate_json(json.dumps(p))
        assert type(event.actual_instance).__name__ == names[p["e"]]
    lite = users[1]
    assert (lite["l"], lite["c"], lite["t"]) == ("20", users[2]["o"]["c"], users[2]["o"]["t"])
    trade = users[2]["o"]
    assert (trade["x"], trade["X"], trade["l"], trade["m"]) == ("TRADE", "FILLED", "20", False)
    es = [p["E"] for _, p in out]
    assert es == sorted(es)


def test_funding_fee_account_update_on_the_user_stream() -> None:
    ex = exchange()
    ex.new_order({"symbol": "ADAUSDT", "side": "BUY", "type": "MARKET", "quantity": "100"}, START)
    out = ex.advance_to(START + 8 * 3_600_000, set())
    funding = [
        p for s, p in out if s == USER_STREAM and p["e"] == "ACCOUNT_UPDATE" and p["a"]["m"] == "FUNDING_FEE"
    ]
    assert len(funding) == 1
    assert funding[0]["E"] % (8 * 3_600_000) == 0 and Decimal(funding[0]["a"]["B"][0]["bc"]) < 0


def test_field_names_match_the_documented_samples(traded: tuple[SimulatedExchange, int]) -> None:
    ex, now = traded
    ex.new_order({"symbol": "ADAUSDT", "side": "SELL", "type": "MARKET", "quantity": "20"}, now)
    out = ex.advance_to(now + 3_000)
    ours = {p.get("e", s): p for s, p in out}
    samples = {
        "kline": "market_data_json/kline_stream_open.json",
        "markPriceUpdate": "market_data_json/mark_price_stream.json",
        "ORDER_TRADE_UPDATE": "user_data_json/order_update_trade.json",
        "ACCOUNT_UPDATE": "user_data_json/account_update.json",
    }
    for event, name in samples.items():
        sample = json.loads((SAMPLES / name).read_text())
        sample = sample.get("data", sample)
        mine = ours[event]
        assert set(sample) == set(mine), event
        for key, value in sample.items():
            assert type(mine[key]) is type(value), (event, key)
        if event == "kline":
            assert set(sample["k"]) == set(mine["k"])
            assert {k: type(v) for k, v in sample["k"].items()} == {k: type(v) for k, v in mine["k"].items()}
        if event == "ORDER_TRADE_UPDATE":
            common = set(sample["o"]) & set(mine["o"])
            assert common >= {
                "s",
                "c",
                "S",
                "o",
                "f",
                "q",
                "p",
                "ap",
                "x",
                "X",
                "i",
                "l",
                "z",
                "L",
                "n",
                "N",
                "T",
                "t",
                "m",
                "R",
                "ps",
                "rp",
            }
            assert all(type(mine["o"][k]) is type(sample["o"][k]) for k in common), event


def test_wanted_streams_filter_market_payloads() -> None:
    ex = exchange()
    out = ex.advance_to(START + 2_000, {"syn001usdt@markPrice@1s"})
    assert {s for s, _ in out} == {"syn001usdt@markPrice@1s"}
    assert ex.advance_to(START + 4_000, set()) == []
    assert "wldusdt@kline_1m" in ex.market_streams()


def test_rest_errors_carry_binance_codes() -> None:
    ex = exchange()
    with pytest.raises(SimError) as err:
        ex.query_order({"symbol": "ADAUSDT"}, START)
    assert err.value.code == -1102
    with pytest.raises(SimError) as err:
        ex.query_order({"symbol": "ADAUSDT", "orderId": "1"}, START)
    assert (err.value.code, err.value.body()) == (-2013, {"code": -2013, "msg": "Order does not exist."})
    with pytest.raises(SimError) as err:
        ex.new_order({"symbol": "XYZUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}, START)
    assert err.value.code == -1121 and err.value.http_status == 400


def _session() -> bytes:
    ex = exchange()
    chunks = []
    flow = [
        ("ADAUSDT", "BUY", "100"),
        ("WLDUSDT", "SELL", "50"),
        ("SYN001USDT", "BUY", "30"),
        ("ADAUSDT", "SELL", "40"),
    ]
    for step, (symbol, side, qty) in enumerate(flow):
        t = START + step * 20_000 + 7
        ex.new_order({"symbol": symbol, "side": side, "type": "MARKET", "quantity": qty}, t)
        price = ex.mark_price(symbol, t)
        limit = (price * (Decimal("0.999") if side == "BUY" else Decimal("1.001"))).quantize(
            Decimal("0.0001")
        )
        ex.new_order(
            {
                "symbol": symbol,
                "side": side,
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": qty,
                "price": str(limit),
            },
            t,
        )
        chunks.append(ex.advance_to(t + 20_000))
    chunks.append(ex.advance_to(START + 9 * 3_600_000, set()))  # crosses 08:00 UTC: funding
    chunks.append(
        ex.advance_to(START + 9 * 3_600_000 + 300_000, {"adausdt@kline_1m", "wldusdt@markPrice@1s"})
    )
    return json.dumps(chunks, separators=(",", ":")).encode()


def test_same_data_seed_and_orders_give_byte_identical_streams() -> None:
    first, second = _session(), _session()
    assert first == second
    assert b"FUNDING_FEE" in first and b'"m":true' in first  # the run did fill makers and pay funding
