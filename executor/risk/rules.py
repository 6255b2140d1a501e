"""The risk rules as pure functions: numbers in, a verdict with its reason and numbers out.

Nothing here reads a clock, the bus or the database; `executor/risk/state.py` keeps the numbers and
`executor/risk/gate.py` asks these functions. That keeps every rule testable at its boundary.

Conventions (the same for every rule):

- A limit is inclusive: a value exactly at the limit is allowed, one unit over is not. The daily
  loss limit of 300 accepts a day at -300.00 and rejects -300.01.
- Entry sizing: quantity = notional / reference price (the latest mark price, else the signal's
  price), rounded DOWN to the step. Entries are LIMIT GTC at the signal's price rounded passively
  (buy down, sell up); both on Binance's grid, counted from minQty / minPrice. The strategies
  trade mean reversion from a closed candle and the order manager cancels what does not fill
  within `engine.order_ttl_seconds` (`ENTRY_ORDER_TYPE`).
- Exposure limits SHRINK an entry to the room that is left (rounded down to the step) rather than
  reject it; only when the shrunk order would be below the instrument's minimum quantity or
  MIN_NOTIONAL is it rejected, with the binding limit as the reason. The daily quantity cap and the
  instrument's maximum quantity shrink the same way.
- Exits (CLOSE) are never judged by entry limits: a CLOSE is a MARKET reduce-only order for the
  whole open position that is not already being closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from config.models import RiskLimits
from core.decimals import PriceIntent, quantize_price, quantize_quantity
from core.events import OrderType, Side, Signal, SignalAction, TimeInForce
from core.instruments import Instrument

_ZERO = Decimal(0)
MINUTE_MS = 60_000
ORDER_RATE_WINDOW_MS = MINUTE_MS

# Entry orders are passive limits at the signal's price: no config key yet, change it here.
ENTRY_ORDER_TYPE = OrderType.LIMIT
ENTRY_TIME_IN_FORCE = TimeInForce.GTC


class Reason(StrEnum):
    """Why a signal was accepted or rejected; the heartbeat counts rejections by these values."""

    ACCEPTED = "accepted"
    DUPLICATE_SIGNAL = "duplicate_signal"
    UNKNOWN_SYMBOL = "unknown_symbol"
    SYMBOL_NOT_TRADING = "symbol_not_trading"
    INVALID_SIGNAL = "invalid_signal"
    ENTRIES_PAUSED = "entries_paused"
    NOT_OWNED = "not_owned"
    NOT_RECONCILED = "not_reconciled"
    RECONCILIATION_MISMATCH = "reconciliation_mismatch"
    KILL_SWITCH = "kill_switch"
    SYMBOL_HALTED = "symbol_halted"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    PORTFOLIO_DAILY_LOSS_LIMIT = "portfolio_daily_loss_limit"  # every daemon together (portfolio.py)
    FUNDING_WINDOW = "funding_window"
    ORDER_RATE_LIMIT = "order_rate_limit"
    MAX_EXPOSURE = "max_exposure"
    ALLOCATION = "allocation"
    MAX_TOTAL_EXPOSURE = "max_total_exposure"
    MAX_DAILY_QUANTITY = "max_daily_quantity"
    MAX_QUANTITY = "max_quantity"
    BELOW_MIN_QUANTITY = "below_min_quantity"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    NO_POSITION = "no_position"
    CLOSE_PENDING = "close_pending"


def _s(value: Decimal | int | str | None) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Breach:
    """A rule that said no, with the numbers that made it say no."""

    reason: Reason
    details: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SymbolHalt:
    """A halt of one symbol's entries: by hand (`until_ms` None) or after consecutive losses."""

    symbol: str
    reason: str
    until_ms: int | None = None
    strategy: str = ""

    def active(self, now_ms: int) -> bool:
        """True while the halt applies; a cool-down ends exactly at `until_ms`."""
        return self.until_ms is None or now_ms < self.until_ms


@dataclass(frozen=True, slots=True)
class EntryContext:
    """Everything the entry rules need about one symbol and the portfolio at one instant."""

    now_ms: int
    equity: Decimal
    mark_price: Decimal | None
    position_qty: Decimal
    realized_today: Decimal  # this strategy on this symbol, since 00:00 UTC
    unrealized: Decimal  # of the open position at the mark price (0 when flat or unknown)
    symbol_exposure: Decimal  # |position| x mark + pending entry notional
    total_exposure: Decimal  # the sum over all symbols
    opened_today: Decimal  # base quantity of entries accepted today (unfilled remainders released)
    orders_in_window: int  # orders accepted in the last ORDER_RATE_WINDOW_MS
    next_funding_time: int | None = None
    last_funding_time: int | None = None
    global_halt: str | None = None  # the kill switch's reason when set
    symbol_halt: SymbolHalt | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one signal; the order fields are set only when accepted."""

    reason: Reason
    details: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    side: Side | None = None
    order_type: OrderType | None = None
    quantity: Decimal = _ZERO
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False

    @property
    def accepted(self) -> bool:
        return self.reason is Reason.ACCEPTED


def _reject(breach: Breach, extra: Mapping[str, str] | None = None) -> Verdict:
    details = dict(breach.details)
    if extra:
        details = {**extra, **details}
    return Verdict(breach.reason, MappingProxyType(details))


# --- single rules ------------------------------------------------------------------------------


def check_kill_switch(global_halt: str | None) -> Breach | None:
    """The global kill switch stops every entry."""
    if global_halt is None:
        return None
    return Breach(Reason.KILL_SWITCH, {"halt_reason": global_halt})


def check_symbol_halt(halt: SymbolHalt | None, now_ms: int) -> Breach | None:
    """A halted symbol takes no entries until resumed or its cool-down has passed."""
    if halt is None or not halt.active(now_ms):
        return None
    return Breach(
        Reason.SYMBOL_HALTED,
        {"halt_reason": halt.reason, "halted_until": _s(halt.until_ms) or "resume", "now": str(now_ms)},
    )


def check_daily_loss(realized_today: Decimal, unrealized: Decimal, limits: RiskLimits) -> Breach | None:
    """Today's PnL of the strategy on the symbol must not be below -daily_loss_limit_usdt."""
    pnl = realized_today + (unrealized if limits.daily_loss_includes_unrealized else _ZERO)
    if pnl >= -limits.daily_loss_limit_usdt:
        return None
    return Breach(
        Reason.DAILY_LOSS_LIMIT,
        {
            "daily_pnl": str(pnl),
            "realized_today": str(realized_today),
            "unrealized": str(unrealized),
            "includes_unrealized": str(limits.daily_loss_includes_unrealized).lower(),
            "daily_loss_limit": str(limits.daily_loss_limit_usdt),
        },
    )


def check_funding_window(
    now_ms: int, next_funding_time: int | None, last_funding_time: int | None, window_minutes: int
) -> Breach | None:
    """No entries in [T - window, T + window] around a funding time T (both edges included).

    `next_funding_time` comes from the mark-price stream; once a funding time has passed the stream
    announces the following one, so the one just passed is kept as `last_funding_time` to cover the
    window after it. A window of 0 minutes disables the rule.
    """
    if window_minutes <= 0:
        return None
    window_ms = window_minutes * MINUTE_MS
    for funding_time in (next_funding_time, last_funding_time):
        if funding_time is not None and funding_time - window_ms <= now_ms <= funding_time + window_ms:
            return Breach(
                Reason.FUNDING_WINDOW,
                {
                    "funding_time": str(funding_time),
                    "now": str(now_ms),
                    "window_minutes": str(window_minutes),
                    "ms_to_funding": str(funding_time - now_ms),
                },
            )
    return None


def check_order_rate(orders_in_window: int, limits: RiskLimits) -> Breach | None:
    """At most max_orders_per_minute orders in any sliding 60 s window."""
    if orders_in_window < limits.max_orders_per_minute:
        return None
    return Breach(
        Reason.ORDER_RATE_LIMIT,
        {
            "orders_last_minute": str(orders_in_window),
            "max_orders_per_minute": str(limits.max_orders_per_minute),
        },
    )


def halt_after_losses(consecutive_losses: int, limits: RiskLimits) -> bool:
    """True when a strategy on a symbol has lost `max_consecutive_losses` trades in a row."""
    return consecutive_losses >= limits.max_consecutive_losses


def cooldown_until(now_ms: int, limits: RiskLimits) -> int | None:
    """End of a loss halt; None (until resumed by hand) when `loss_cooldown_minutes` is 0."""
    if limits.loss_cooldown_minutes == 0:
        return None
    return now_ms + limits.loss_cooldown_minutes * MINUTE_MS


# --- whole signals -----------------------------------------------------------------------------


def _entry_side(action: SignalAction) -> Side:
    return Side.BUY if action is SignalAction.OPEN_LONG else Side.SELL


def _cap(quantity: Decimal, room: Decimal, price: Decimal, step: Decimal, min_qty: Decimal) -> Decimal:
    """The largest quantity on the lot grid whose notional at `price` fits `room` (never above
    `quantity`)."""
    if room <= _ZERO:
        return _ZERO
    if quantity * price <= room:
        return quantity
    return min(quantity, quantize_quantity(room / price, step, origin=min_qty))


def evaluate_entry(
    signal: Signal,
    ctx: EntryContext,
    limits: RiskLimits,
    instrument: Instrument,
    order_type: OrderType = ENTRY_ORDER_TYPE,
) -> Verdict:
    """Judge an OPEN_LONG / OPEN_SHORT signal: halts, loss, funding, rate, then size and caps.

    `order_type` is `engine.entry_order_type`: LIMIT (GTC at the passive-rounded signal price) or
    MARKET (sized and filled at the market, MARKET_LOT_SIZE)."""
    for breach in (
        check_kill_switch(ctx.global_halt),
        check_symbol_halt(ctx.symbol_halt, ctx.now_ms),
        check_daily_loss(ctx.realized_today, ctx.unrealized, limits),
        check_funding_window(
            ctx.now_ms, ctx.next_funding_time, ctx.last_funding_time, limits.funding_window_minutes
        ),
        check_order_rate(ctx.orders_in_window, limits),
    ):
        if breach is not None:
            return _reject(breach)

    notional = signal.notional
    if notional is None or notional <= _ZERO or signal.price <= _ZERO:
        return _reject(Breach(Reason.INVALID_SIGNAL, {"notional": _s(notional), "price": str(signal.price)}))
    side = _entry_side(signal.action)
    # The mark price values exposure; the signal's price stands in until the first mark arrives.
    reference = ctx.mark_price if ctx.mark_price is not None and ctx.mark_price > _ZERO else signal.price
    limit_order = order_type is OrderType.LIMIT
    step = instrument.step_size if limit_order else instrument.market_step_size
    min_qty = instrument.min_qty if limit_order else instrument.market_min_qty
    max_qty = instrument.max_qty if limit_order else instrument.market_max_qty
    price = (
        quantize_price(
            signal.price, instrument.tick_size, side, PriceIntent.PASSIVE, origin=instrument.min_price
        )
        if limit_order
        else None
    )
    # MIN_NOTIONAL is checked by the venue at the order's own price for a limit order.
    notional_price = price if price is not None else reference

    wanted = quantize_quantity(notional / reference, step, origin=min_qty)
    details: dict[str, str] = {
        "side": side.value,
        "requested_notional": str(notional),
        "reference_price": str(reference),
        "mark_price": _s(ctx.mark_price),
        "order_price": _s(price),
        "wanted_quantity": str(wanted),
        "symbol_exposure": str(ctx.symbol_exposure),
        "max_exposure": str(limits.max_exposure_usdt),
        "total_exposure": str(ctx.total_exposure),
        "max_total_exposure": str(limits.max_total_exposure_usdt),
        "equity": str(ctx.equity),
        "allocation": str(limits.allocation),
        "opened_today": str(ctx.opened_today),
        "max_daily_quantity": _s(limits.max_daily_quantity),
        "daily_pnl": str(ctx.realized_today),
        "orders_last_minute": str(ctx.orders_in_window),
    }

    quantity = wanted
    capped_by: Reason | None = None
    rooms: list[tuple[Reason, Decimal]] = [
        (Reason.MAX_EXPOSURE, limits.max_exposure_usdt - ctx.symbol_exposure),
        (Reason.ALLOCATION, limits.allocation * ctx.equity - ctx.symbol_exposure),
        (Reason.MAX_TOTAL_EXPOSURE, limits.max_total_exposure_usdt - ctx.total_exposure),
    ]
    for rule, room in rooms:
        capped = _cap(quantity, room, reference, step, min_qty)
        if capped < quantity:
            quantity, capped_by = capped, rule
            details[f"room_{rule.value}"] = str(room)
    if limits.max_daily_quantity is not None:
        room_qty = limits.max_daily_quantity - ctx.opened_today
        capped = _cap(quantity, room_qty, Decimal(1), step, min_qty)
        if capped < quantity:
            quantity, capped_by = capped, Reason.MAX_DAILY_QUANTITY
            details["room_max_daily_quantity"] = str(room_qty)
    if quantity > max_qty:
        quantity, capped_by = quantize_quantity(max_qty, step, origin=min_qty), Reason.MAX_QUANTITY

    details["quantity"] = str(quantity)
    details["notional"] = str(quantity * reference)
    details["min_qty"] = str(min_qty)
    details["min_notional"] = str(instrument.min_notional)
    if capped_by is not None:
        details["capped_by"] = capped_by.value
    if quantity < min_qty or quantity <= _ZERO:
        return Verdict(capped_by or Reason.BELOW_MIN_QUANTITY, MappingProxyType(details))
    if quantity * notional_price < instrument.min_notional:
        return Verdict(capped_by or Reason.BELOW_MIN_NOTIONAL, MappingProxyType(details))
    return Verdict(
        Reason.ACCEPTED,
        MappingProxyType(details),
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        time_in_force=ENTRY_TIME_IN_FORCE if limit_order else None,
    )


def evaluate_close(signal: Signal, position_qty: Decimal, closing_qty: Decimal) -> Verdict:
    """Judge a CLOSE: MARKET reduce-only, opposite side, for the open quantity not yet being closed.

    No entry limit, halt or kill switch applies: an exit must always be able to go out. It is
    rejected only when there is nothing left to close.
    """
    details = {"position_quantity": str(position_qty), "closing_quantity": str(closing_qty)}
    if position_qty == _ZERO:
        return Verdict(Reason.NO_POSITION, MappingProxyType(details))
    remaining = abs(position_qty) - closing_qty
    if remaining <= _ZERO:
        return Verdict(Reason.CLOSE_PENDING, MappingProxyType(details))
    side = Side.SELL if position_qty > _ZERO else Side.BUY
    details["quantity"] = str(remaining)
    details["side"] = side.value
    details["signal_price"] = str(signal.price)
    return Verdict(
        Reason.ACCEPTED,
        MappingProxyType(details),
        side=side,
        order_type=OrderType.MARKET,
        quantity=remaining,
        reduce_only=True,
    )


__all__ = [
    "ENTRY_ORDER_TYPE",
    "ENTRY_TIME_IN_FORCE",
    "ORDER_RATE_WINDOW_MS",
    "Breach",
    "EntryContext",
    "Reason",
    "SymbolHalt",
    "Verdict",
    "check_daily_loss",
    "check_funding_window",
    "check_kill_switch",
    "check_order_rate",
    "check_symbol_halt",
    "cooldown_until",
    "evaluate_close",
    "evaluate_entry",
    "halt_after_losses",
]
