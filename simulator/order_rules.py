"""Order validation with Binance's error codes and message texts.

Two stages, as on the venue: `parse_new_order` turns the request's strings into a typed `NewOrder`
(missing or malformed parameters, precision, client id, position side), then `check_filters` applies
the symbol's exchangeInfo filters to the typed order. The engine adds the checks that need account
state (reduce-only, duplicate client id, open-order count, margin, post-only).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from core.client_ids import CLIENT_ID_PATTERN
from core.decimals import to_api_string
from core.events import Side
from core.instruments import Instrument
from simulator.engine_types import NewOrder
from simulator.errors import SimError

_PLAIN_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]*)?$|^-?\.[0-9]+$")

# Binance's messages, verbatim where known.
MSG_MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."
MSG_PRECISION = "Precision is over the maximum defined for this asset."
MSG_INVALID_SYMBOL = "Invalid symbol."
MSG_TICK = "Price not increased by tick size."
MSG_STEP = "Qty not increased by step size."
MSG_QTY_ZERO = "Quantity less than or equal to zero."
MSG_QTY_MIN = "Quantity less than min quantity."
MSG_QTY_MAX = "Quantity greater than max quantity."
MSG_PRICE_MIN = "Price less than min price."
MSG_PRICE_MAX = "Price greater than max price."
MSG_PRICE_UP = "Limit price can't be higher than {}."
MSG_PRICE_DOWN = "Limit price can't be lower than {}."
MSG_NOTIONAL = "Order's notional must be no smaller than {} (unless you choose reduce only)."
MSG_MARGIN = "Margin is insufficient."
MSG_REDUCE_ONLY = "ReduceOnly Order is rejected."
MSG_DUPLICATE_ID = "ClientOrderId is duplicated."
MSG_CLIENT_ID = "Client order id is not valid."
MSG_POST_ONLY = (
    "Due to the order could not be executed as maker, the Post Only order will be rejected. "
    "The order will not be recorded in the order history"
)
MSG_NO_ORDER = "Order does not exist."
MSG_UNKNOWN_ORDER = "Unknown order sent."
MSG_POSITION_SIDE = "Order's position side does not match user's setting."
MSG_MAX_ORDERS = "Reach max open order limit."
MSG_BAD_PARAM = "Data sent for parameter '{}' is not valid."
MSG_ORDER_TYPE = "Invalid orderType."
MSG_SIDE = "Invalid side."
MSG_TIF = "Invalid timeInForce."
MSG_NOT_REQUIRED = "Parameter '{}' sent when not required."


def mandatory(params: dict[str, str], name: str) -> str:
    """The parameter's value, or -1102 when it is missing or empty."""
    value = params.get(name, "")
    if not value.strip():
        raise SimError(-1102, MSG_MANDATORY.format(name))
    return value


def parse_decimal(params: dict[str, str], name: str, max_decimals: int) -> Decimal:
    """A decimal parameter: -1102 when malformed, -1111 for exponent notation or too many decimals."""
    text = mandatory(params, name).strip()
    if "e" in text.lower():
        raise SimError(-1111, MSG_PRECISION)  # what a float sent with str() gets on Binance
    if not _PLAIN_NUMBER.match(text):
        raise SimError(-1102, MSG_MANDATORY.format(name))
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SimError(-1102, MSG_MANDATORY.format(name)) from None
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_decimals:
        raise SimError(-1111, MSG_PRECISION)
    return value


def parse_new_order(params: dict[str, str], instrument: Instrument) -> NewOrder:
    """Turn POST /fapi/v1/order parameters into a typed order, or raise Binance's error."""
    side_text = mandatory(params, "side")
    order_type = mandatory(params, "type")
    if side_text not in ("BUY", "SELL"):
        raise SimError(-1117, MSG_SIDE)
    if order_type not in ("LIMIT", "MARKET"):
        raise SimError(-1116, MSG_ORDER_TYPE)
    position_side = params.get("positionSide", "BOTH")
    if position_side != "BOTH":
        raise SimError(-4061, MSG_POSITION_SIDE)
    client_id = params.get("newClientOrderId")
    if client_id is not None and not CLIENT_ID_PATTERN.match(client_id):
        raise SimError(-4015, MSG_CLIENT_ID)
    reduce_text = params.get("reduceOnly", "false").lower()
    if reduce_text not in ("true", "false"):
        raise SimError(-1130, MSG_BAD_PARAM.format("reduceOnly"))
    price: Decimal | None = None
    tif = "GTC"
    if order_type == "LIMIT":
        tif = mandatory(params, "timeInForce")
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise SimError(-1115, MSG_TIF)
        price = parse_decimal(params, "price", instrument.price_precision)
    elif params.get("price", "").strip():
        raise SimError(-1106, MSG_NOT_REQUIRED.format("price"))
    quantity = parse_decimal(params, "quantity", instrument.quantity_precision)
    return NewOrder(
        symbol=instrument.symbol,
        side=Side(side_text),
        type=order_type,
        quantity=quantity,
        price=price,
        time_in_force=tif,
        reduce_only=reduce_text == "true",
        client_order_id=client_id,
    )


def check_filters(order: NewOrder, instrument: Instrument, mark_price: Decimal) -> None:
    """PRICE_FILTER, LOT_SIZE / MARKET_LOT_SIZE, PERCENT_PRICE and MIN_NOTIONAL, in Binance's order."""
    if order.quantity <= 0:
        raise SimError(-4003, MSG_QTY_ZERO)
    market = order.type == "MARKET"
    step = instrument.market_step_size if market else instrument.step_size
    min_qty = instrument.market_min_qty if market else instrument.min_qty
    max_qty = instrument.market_max_qty if market else instrument.max_qty
    if order.price is not None:
        if order.price <= 0:
            raise SimError(-4001, "Price less than 0.")
        if order.price < instrument.min_price:
            raise SimError(-4013, MSG_PRICE_MIN)
        if order.price > instrument.max_price:
            raise SimError(-4002, MSG_PRICE_MAX)
        if (order.price - instrument.min_price) % instrument.tick_size != 0:
            raise SimError(-4014, MSG_TICK)
    if order.quantity < min_qty:
        raise SimError(-4004, MSG_QTY_MIN)
    if order.quantity > max_qty:
        raise SimError(-4005, MSG_QTY_MAX)
    if (order.quantity - min_qty) % step != 0:
        raise SimError(-4023, MSG_STEP)
    if order.price is not None:
        cap = _price_bound(mark_price * instrument.multiplier_up, instrument.tick_size, up=False)
        floor = _price_bound(mark_price * instrument.multiplier_down, instrument.tick_size, up=True)
        if order.side is Side.BUY and order.price > cap:
            raise SimError(-4016, MSG_PRICE_UP.format(to_api_string(cap)))
        if order.side is Side.SELL and order.price < floor:
            raise SimError(-4024, MSG_PRICE_DOWN.format(to_api_string(floor)))
    notional = order.quantity * (order.price if order.price is not None else mark_price)
    if not order.reduce_only and notional < instrument.min_notional:
        raise SimError(-4164, MSG_NOTIONAL.format(to_api_string(instrument.min_notional)))


def _price_bound(value: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """The PERCENT_PRICE bound on the tick grid, rounded inward so the bound itself is allowed."""
    units = (value / tick).to_integral_value(rounding="ROUND_CEILING" if up else "ROUND_FLOOR")
    return units * tick
