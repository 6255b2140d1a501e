"""Local validation of an order against the symbol's exchangeInfo filters, before it is sent.

`validate_order` either returns a request the venue will accept as far as its filters go (price and
quantity rounded to tick and step in the safe direction) or raises `OrderValidationError` with one
clear reason. An order rejected here is never sent: a local rejection costs nothing, a venue
rejection costs a round trip, an ORDERS rate-limit slot and sometimes a misleading retry.

Rounding is on Binance's grid, counted from minQty / minPrice (not from zero). Directions (see
core/decimals.py): quantity toward zero, so rounding never adds risk; a
limit price passively (a buy rounds down, a sell rounds up), so the price is never worse than the
one the risk gate accepted. What cannot be rounded into validity is rejected, never "fixed" by
making the order bigger or the price worse.

Rules mirror Binance USD-M futures:
- LIMIT needs a price; MARKET must not carry one (nor a time in force);
- LOT_SIZE (LIMIT) / MARKET_LOT_SIZE (MARKET): step, minQty, maxQty;
- PRICE_FILTER: tick, minPrice, maxPrice (a bound of 0 is disabled, as on Binance);
- PERCENT_PRICE: one side per order, as on USD-M: a BUY's price <= mark x multiplierUp, a
  SELL's price >= mark x multiplierDown;
- MIN_NOTIONAL: price x quantity >= notional (limit price, or the mark for MARKET); reduce-only
  orders are exempt, like on Binance (-4164 exempts reduceOnly), so a small remainder can be closed;
- MAX_NUM_ORDERS: open orders on the symbol must stay below the limit;
- reduce-only: the order must shrink the current one-way position and not exceed it (else -2022).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.client_ids import CLIENT_ID_PATTERN
from core.decimals import PriceIntent, quantize_price, quantize_quantity, to_api_string
from core.errors import OrderValidationError
from core.events import OrderRequest, OrderType, Side, TimeInForce
from core.instruments import Instrument

_ZERO = Decimal(0)


def _fmt(value: Decimal) -> str:
    return to_api_string(value)


def validate_order(
    request: OrderRequest,
    instrument: Instrument,
    *,
    mark_price: Decimal | None,
    open_order_count: int,
    position_qty: Decimal = _ZERO,
) -> OrderRequest:
    """Return `request` rounded to the instrument's tick and step, or raise OrderValidationError.

    `mark_price` is the latest mark price (None when unknown: PERCENT_PRICE is then left to the
    venue, and a MARKET order's notional cannot be checked locally). `open_order_count` counts the
    symbol's orders that are open on the venue now, not including this one. `position_qty` is the
    signed one-way position (short < 0), used for the reduce-only rules.
    """
    symbol = request.symbol

    def reject(reason: str) -> OrderValidationError:
        return OrderValidationError(symbol, reason)

    if instrument.symbol != symbol:
        raise reject(f"instrument {instrument.symbol} does not match the order's symbol")
    if not instrument.is_trading:
        raise reject(f"symbol status is {instrument.status}, not TRADING")
    if not CLIENT_ID_PATTERN.match(request.client_order_id):
        raise reject(f"client order id {request.client_order_id!r} does not match ^[.A-Z:/a-z0-9_-]{{1,36}}$")
    if not request.quantity.is_finite() or request.quantity <= _ZERO:
        raise reject(f"quantity must be a positive number, got {request.quantity}")
    if mark_price is not None and (not mark_price.is_finite() or mark_price <= _ZERO):
        raise reject(f"mark price must be positive, got {mark_price}")

    # --- order type and price presence --------------------------------------------------------
    price: Decimal | None = request.price
    time_in_force = request.time_in_force
    if request.order_type is OrderType.LIMIT:
        if price is None:
            raise reject("LIMIT order without a price")
        if not price.is_finite() or price <= _ZERO:
            raise reject(f"LIMIT price must be positive, got {price}")
        if time_in_force is None:
            time_in_force = TimeInForce.GTC
        step, min_qty, max_qty = instrument.step_size, instrument.min_qty, instrument.max_qty
        lot_name = "LOT_SIZE"
    else:
        if price is not None:
            raise reject(f"MARKET order must not carry a price (got {_fmt(price)})")
        # Binance ignores/refuses timeInForce on MARKET; never send one.
        time_in_force = None
        step, min_qty = instrument.market_step_size, instrument.market_min_qty
        max_qty = instrument.market_max_qty
        lot_name = "MARKET_LOT_SIZE"

    # --- MAX_NUM_ORDERS -----------------------------------------------------------------------
    if open_order_count >= instrument.max_num_orders:
        raise reject(
            f"MAX_NUM_ORDERS: {open_order_count} orders already open, "
            f"the limit is {instrument.max_num_orders}"
        )

    # --- quantity: toward zero, then the lot bounds -------------------------------------------
    quantity = quantize_quantity(request.quantity, step, origin=min_qty)
    if quantity < min_qty or quantity <= _ZERO:
        raise reject(
            f"{lot_name}: quantity {_fmt(request.quantity)} rounds to {_fmt(quantity)} "
            f"(step {_fmt(step)}), below the minimum {_fmt(min_qty)}"
        )
    if max_qty > _ZERO and quantity > max_qty:
        raise reject(f"{lot_name}: quantity {_fmt(quantity)} above the maximum {_fmt(max_qty)}")

    # --- price: passive rounding, PRICE_FILTER bounds, PERCENT_PRICE --------------------------
    if price is not None:
        rounded = quantize_price(
            price, instrument.tick_size, request.side, PriceIntent.PASSIVE, origin=instrument.min_price
        )
        if rounded <= _ZERO:
            raise reject(f"PRICE_FILTER: price {_fmt(price)} rounds to {_fmt(rounded)}")
        if instrument.min_price > _ZERO and rounded < instrument.min_price:
            raise reject(
                f"PRICE_FILTER: price {_fmt(rounded)} below the minimum {_fmt(instrument.min_price)}"
            )
        if instrument.max_price > _ZERO and rounded > instrument.max_price:
            raise reject(
                f"PRICE_FILTER: price {_fmt(rounded)} above the maximum {_fmt(instrument.max_price)}"
            )
        if mark_price is not None:
            # One side per order, as on Binance USD-M: a sell far above the mark (or a buy far
            # below it) is a resting order the venue accepts.
            if request.side is Side.BUY:
                high = mark_price * instrument.multiplier_up
                if rounded > high:
                    raise reject(
                        f"PERCENT_PRICE: BUY price {_fmt(rounded)} above {_fmt(high)} "
                        f"(mark {_fmt(mark_price)} x {_fmt(instrument.multiplier_up)})"
                    )
            else:
                low = mark_price * instrument.multiplier_down
                if rounded < low:
                    raise reject(
                        f"PERCENT_PRICE: SELL price {_fmt(rounded)} below {_fmt(low)} "
                        f"(mark {_fmt(mark_price)} x {_fmt(instrument.multiplier_down)})"
                    )
        price = rounded

    # --- reduce-only consistency --------------------------------------------------------------
    if request.reduce_only:
        if position_qty == _ZERO:
            raise reject("reduce-only order but there is no position to reduce")
        shrinks = (position_qty > _ZERO and request.side is Side.SELL) or (
            position_qty < _ZERO and request.side is Side.BUY
        )
        if not shrinks:
            raise reject(f"reduce-only {request.side} would increase the position {_fmt(position_qty)}")
        if quantity > abs(position_qty):
            raise reject(
                f"reduce-only quantity {_fmt(quantity)} exceeds the position {_fmt(abs(position_qty))}"
            )

    # --- MIN_NOTIONAL (reduce-only exempt) ----------------------------------------------------
    if not request.reduce_only and instrument.min_notional > _ZERO:
        reference = price if price is not None else mark_price
        if reference is not None:
            notional = reference * quantity
            if notional < instrument.min_notional:
                raise reject(
                    f"MIN_NOTIONAL: {_fmt(quantity)} x {_fmt(reference)} = {_fmt(notional)} "
                    f"below the minimum {_fmt(instrument.min_notional)}"
                )

    if quantity == request.quantity and price == request.price and time_in_force == request.time_in_force:
        return request
    return replace(request, quantity=quantity, price=price, time_in_force=time_in_force)
