"""Every exchange filter is checked locally, with its boundary values, before an order is sent."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import replace
from decimal import Decimal

import pytest

from core.errors import OrderValidationError
from core.events import OrderRequest, OrderType, Side, TimeInForce
from core.instruments import Instrument, parse_instrument
from executor.orders.filters import validate_order
from simulator.engine_types import NewOrder
from simulator.errors import SimError
from simulator.order_rules import check_filters

from ._instruments import BTC_RAW, MARK, btc

D = Decimal


def limit(side: Side = Side.BUY, qty: str = "0.010", price: str = "50000", **kw: object) -> OrderRequest:
    return OrderRequest(
        client_order_id="t-1",
        symbol="BTCUSDT",
        strategy="vwap",
        side=side,
        order_type=OrderType.LIMIT,
        quantity=D(qty),
        created_time=0,
        price=D(price),
        time_in_force=TimeInForce.GTC,
        **kw,  # type: ignore[arg-type]
    )


def market(side: Side = Side.BUY, qty: str = "0.010", **kw: object) -> OrderRequest:
    return OrderRequest(
        client_order_id="t-2",
        symbol="BTCUSDT",
        strategy="vwap",
        side=side,
        order_type=OrderType.MARKET,
        quantity=D(qty),
        created_time=0,
        **kw,  # type: ignore[arg-type]
    )


def check(
    req: OrderRequest, *, mark: Decimal | None = MARK, open_orders: int = 0, pos: str = "0"
) -> OrderRequest:
    return validate_order(req, btc(), mark_price=mark, open_order_count=open_orders, position_qty=D(pos))


def rejected(req: OrderRequest, match: str, **kw: object) -> None:
    with pytest.raises(OrderValidationError, match=match) as info:
        check(req, **kw)  # type: ignore[arg-type]
    assert info.value.symbol == "BTCUSDT"


# --- valid orders pass unchanged ----------------------------------------------------------------


def test_a_valid_limit_order_is_returned_unchanged() -> None:
    req = limit()
    assert check(req) is req


def test_a_valid_market_order_is_returned_unchanged() -> None:
    req = market()
    assert check(req) is req


# --- rounding in the safe direction -------------------------------------------------------------


def test_quantity_rounds_toward_zero_to_the_step() -> None:
    assert check(limit(qty="0.0109")).quantity == D("0.010")
    assert check(market(qty="0.0119999")).quantity == D("0.011")


def test_passive_buy_price_rounds_down_and_sell_price_rounds_up() -> None:
    assert check(limit(Side.BUY, price="50000.19")).price == D("50000.10")
    assert check(limit(Side.SELL, price="50000.11")).price == D("50000.20")


def test_limit_without_time_in_force_gets_gtc() -> None:
    req = replace(limit(), time_in_force=None)
    assert check(req).time_in_force is TimeInForce.GTC


def test_market_order_never_carries_a_time_in_force() -> None:
    req = market(time_in_force=TimeInForce.GTC)
    assert check(req).time_in_force is None


# --- order type / price presence ----------------------------------------------------------------


def test_limit_without_price_is_rejected() -> None:
    rejected(replace(limit(), price=None), "LIMIT order without a price")


def test_market_with_price_is_rejected() -> None:
    rejected(replace(market(), price=D("50000")), "MARKET order must not carry a price")


def test_zero_and_negative_quantities_are_rejected() -> None:
    rejected(limit(qty="0"), "positive")
    rejected(limit(qty="-0.01"), "positive")


def test_bad_client_order_id_is_rejected() -> None:
    rejected(replace(limit(), client_order_id="has space"), "client order id")
    rejected(replace(limit(), client_order_id="x" * 37), "client order id")
    assert check(replace(limit(), client_order_id="x" * 36)).client_order_id == "x" * 36


def test_symbol_not_trading_is_rejected() -> None:
    halted = parse_instrument({**BTC_RAW, "status": "SETTLING"})
    with pytest.raises(OrderValidationError, match="not TRADING"):
        validate_order(limit(), halted, mark_price=MARK, open_order_count=0)


# --- LOT_SIZE / MARKET_LOT_SIZE -----------------------------------------------------------------


def test_quantity_exactly_at_min_qty_is_accepted() -> None:
    # notional check disabled by reduce-only so only the lot rule is exercised
    assert check(limit(Side.SELL, qty="0.001", reduce_only=True), pos="1").quantity == D("0.001")


def test_quantity_rounding_below_min_qty_is_rejected() -> None:
    rejected(limit(Side.SELL, qty="0.0009", reduce_only=True), "LOT_SIZE.*below the minimum", pos="1")


def test_market_quantity_below_market_min_is_rejected() -> None:
    rejected(market(Side.SELL, qty="0.0009999", reduce_only=True), "MARKET_LOT_SIZE", pos="1")


def test_limit_quantity_at_max_accepted_one_step_above_rejected() -> None:
    # price near the minimum so notional limits are irrelevant; mark None skips PERCENT_PRICE
    assert check(limit(qty="1000", price="600"), mark=None).quantity == D("1000")
    rejected(limit(qty="1000.001", price="600"), "LOT_SIZE.*above the maximum", mark=None)


def test_market_max_qty_is_the_market_lot_max() -> None:
    assert check(market(qty="120")).quantity == D("120")
    rejected(market(qty="120.001"), "MARKET_LOT_SIZE.*above the maximum")


# --- PRICE_FILTER -------------------------------------------------------------------------------


def test_price_at_min_price_accepted_one_tick_below_rejected() -> None:
    assert check(limit(qty="1", price="556.80"), mark=None).price == D("556.80")
    rejected(limit(qty="1", price="556.70"), "PRICE_FILTER.*below the minimum", mark=None)


def test_price_at_max_price_accepted_above_rejected() -> None:
    assert check(limit(qty="0.001", price="4529764"), mark=None).price == D("4529764")
    rejected(limit(Side.SELL, qty="0.001", price="4529764.01"), "PRICE_FILTER.*above the maximum", mark=None)


# --- PERCENT_PRICE ------------------------------------------------------------------------------


def test_percent_price_bounds_are_inclusive() -> None:
    assert check(limit(Side.SELL, price="52500")).price == D("52500")  # mark x 1.05
    assert check(limit(Side.BUY, price="47500")).price == D("47500")  # mark x 0.95


def test_percent_price_one_tick_outside_is_rejected() -> None:
    rejected(limit(Side.BUY, price="52500.1"), "PERCENT_PRICE")
    rejected(limit(Side.SELL, price="47499.9"), "PERCENT_PRICE")


def test_percent_price_checks_the_rounded_price() -> None:
    # 47500.01 as a passive sell rounds UP to 47500.1: inside; 47499.91 rounds up to 47500.0: inside
    assert check(limit(Side.SELL, price="47499.91")).price == D("47500.0")
    # 52500.09 as a passive buy rounds DOWN to 52500.0: inside
    assert check(limit(Side.BUY, price="52500.09")).price == D("52500.0")


@pytest.mark.parametrize(
    ("side", "price", "venue_code"),
    [
        (Side.SELL, "52500.1", None),  # a sell above mark x up: a resting take-profit, fine
        (Side.SELL, "90000", None),
        (Side.BUY, "47499.9", None),  # a buy below mark x down: a resting bid, fine
        (Side.BUY, "600", None),
        (Side.BUY, "52500.1", -4016),  # a buy above mark x up
        (Side.SELL, "47499.9", -4024),  # a sell below mark x down
    ],
)
def test_percent_price_checks_one_side_per_order_like_the_venue(
    side: Side, price: str, venue_code: int | None
) -> None:
    """Binance USD-M: BUY price <= mark x multiplierUp, SELL price >= mark x multiplierDown."""
    request = limit(side, qty="0.200", price=price)
    order = NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=D("0.200"), price=D(price))
    try:
        check_filters(order, btc(), MARK)
        venue: int | None = None
    except SimError as exc:
        venue = exc.code
    assert venue == venue_code
    if venue_code is None:
        assert check(request).price == D(price)
    else:
        rejected(request, "PERCENT_PRICE")


# --- MIN_NOTIONAL -------------------------------------------------------------------------------


def test_notional_exactly_at_minimum_is_accepted() -> None:
    assert check(limit(qty="0.002", price="50000")).quantity == D("0.002")  # 100.000


def test_notional_one_tick_below_minimum_is_rejected() -> None:
    rejected(limit(qty="0.002", price="49999.9"), "MIN_NOTIONAL")  # 99.9998


def test_notional_one_step_below_minimum_is_rejected() -> None:
    rejected(limit(qty="0.0019", price="50000"), "MIN_NOTIONAL")  # rounds to 0.001 -> 50


def test_market_notional_uses_the_mark_price() -> None:
    assert check(market(qty="0.002"), mark=D("50000")).quantity == D("0.002")
    rejected(market(qty="0.002"), "MIN_NOTIONAL", mark=D("49999.9"))


def test_reduce_only_is_exempt_from_min_notional() -> None:
    assert check(market(Side.SELL, qty="0.001", reduce_only=True), pos="0.001").quantity == D("0.001")


# --- MAX_NUM_ORDERS -----------------------------------------------------------------------------


def test_max_num_orders_boundary() -> None:
    assert check(limit(), open_orders=199) is not None
    rejected(limit(), "MAX_NUM_ORDERS", open_orders=200)


# --- reduce-only consistency --------------------------------------------------------------------


def test_reduce_only_without_position_is_rejected() -> None:
    rejected(market(Side.SELL, reduce_only=True), "no position", pos="0")


def test_reduce_only_in_the_increasing_direction_is_rejected() -> None:
    rejected(market(Side.BUY, reduce_only=True), "increase", pos="0.5")
    rejected(market(Side.SELL, reduce_only=True), "increase", pos="-0.5")


def test_reduce_only_up_to_the_position_is_accepted_beyond_rejected() -> None:
    assert check(market(Side.BUY, qty="0.5", reduce_only=True), pos="-0.5").quantity == D("0.5")
    assert check(market(Side.SELL, qty="0.5", reduce_only=True), pos="0.5").quantity == D("0.5")
    rejected(market(Side.SELL, qty="0.501", reduce_only=True), "exceeds the position", pos="0.5")


def test_rejection_reason_names_the_numbers() -> None:
    with pytest.raises(OrderValidationError) as info:
        check(limit(qty="0.001", price="50000"))
    assert "0.001" in info.value.reason and "100" in info.value.reason
    assert str(info.value).startswith("BTCUSDT: MIN_NOTIONAL")


# --- the grid counts from minPrice / minQty (Binance's rule) -----------------------------------


def _off_grid_btc() -> Instrument:
    """BTCUSDT with minPrice and minQty off the zero-based grid: prices 556.85 + k x 0.10,
    quantities 0.0015 + k x 0.001 (the venue checks (price - minPrice) % tick == 0)."""
    raw = deepcopy(BTC_RAW)
    raw["quantityPrecision"] = 4
    for f in raw["filters"]:  # type: ignore[attr-defined]
        if f["filterType"] == "PRICE_FILTER":
            f["minPrice"] = "556.85"
        if f["filterType"] in ("LOT_SIZE", "MARKET_LOT_SIZE"):
            f["minQty"] = "0.0015"
    return parse_instrument(raw)


@pytest.mark.parametrize(
    ("side", "order_type", "price", "quantity", "want_price", "want_qty"),
    [
        (Side.BUY, OrderType.LIMIT, "50000", "0.0109", "49999.95", "0.0105"),
        (Side.SELL, OrderType.LIMIT, "50000", "0.0109", "50000.05", "0.0105"),
        (Side.BUY, OrderType.LIMIT, "49999.95", "0.0105", "49999.95", "0.0105"),  # on the grid: kept
        (Side.SELL, OrderType.MARKET, None, "0.0204", None, "0.0195"),
    ],
)
def test_price_and_quantity_round_on_the_grid_from_min_price_and_min_qty(
    side: Side, order_type: OrderType, price: str | None, quantity: str, want_price: str | None, want_qty: str
) -> None:
    instrument = _off_grid_btc()
    request = limit(side, qty=quantity, price=price) if price is not None else market(side, qty=quantity)
    valid = validate_order(request, instrument, mark_price=MARK, open_order_count=0)
    assert valid.price == (D(want_price) if want_price is not None else None)
    assert valid.quantity == D(want_qty)
    # ...and the venue (the simulator's exchange rules) takes it: no -4014 / -4023.
    order = NewOrder(
        symbol="BTCUSDT", side=side, type=order_type.value, quantity=valid.quantity, price=valid.price
    )
    check_filters(order, instrument, MARK)
