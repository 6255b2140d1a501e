"""Round trips from the fills: entry, exit, why it exited, and what it earned.

A trade opens when a fill moves a symbol's position away from flat and closes when the position is
back at flat (a flip closes one trade and opens the next at the same fill). Its exit reason is the
rule of the CLOSE signal behind the exit order (`take_profit`, `stop_loss_pct`, `max_holding`, ...;
`force` at the end of the data). PnL is gross (price moves), fees and funding are what the trade
paid (negative = paid), net = gross + fees + funding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from backtest.venue import FundingPayment
from core.events import Side, Signal
from executor.orders.progress import Fill

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip of one symbol."""

    symbol: str
    side: str  # LONG | SHORT
    quantity: Decimal
    entry_time: int
    entry_price: Decimal
    exit_time: int
    exit_price: Decimal
    reason: str
    gross_pnl: Decimal
    fees: Decimal  # negative: paid
    funding: Decimal  # negative: paid

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl + self.fees + self.funding


@dataclass(slots=True)
class _Open:
    side: str
    quantity: Decimal
    entry_time: int
    entry_cost: Decimal  # Σ qty × price of the entry fills
    exit_qty: Decimal
    exit_value: Decimal
    gross: Decimal
    fees: Decimal
    funding: Decimal
    reason: str


def round_trips(
    fills: Sequence[Fill],
    funding: Sequence[FundingPayment],
    signals_by_order: Mapping[str, Signal],
) -> list[Trade]:
    """Every closed round trip, in exit-time order (fills in booking order per symbol)."""
    trades: list[Trade] = []
    opened: dict[str, _Open] = {}
    qty: dict[str, Decimal] = {}
    pending_funding = sorted(funding, key=lambda f: f.time)
    fi = 0
    for fill in fills:
        while fi < len(pending_funding) and pending_funding[fi].time <= fill.time:
            payment = pending_funding[fi]
            trip = opened.get(payment.symbol)
            if trip is not None:
                trip.funding += payment.amount
            fi += 1
        symbol = fill.symbol
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        before = qty.get(symbol, _ZERO)
        after = before + signed
        qty[symbol] = after
        remaining = fill.quantity
        if before != _ZERO and (after == _ZERO or (after > _ZERO) != (before > _ZERO)):
            # Closes the open trip (and a flip opens the next with what is left).
            trip = opened.pop(symbol)
            closing = abs(before)
            share = closing / fill.quantity
            _add_exit(trip, fill, closing, share, signals_by_order)
            trades.append(_closed(symbol, trip, fill))
            remaining = fill.quantity - closing
            if remaining > _ZERO:
                opened[symbol] = _start(fill, remaining, remaining / fill.quantity)
        elif before == _ZERO or (before > _ZERO) == (signed > _ZERO):
            trip = opened.get(symbol)
            if trip is None:
                opened[symbol] = _start(fill, remaining, Decimal(1))
            else:
                trip.quantity += remaining
                trip.entry_cost += remaining * fill.price
                trip.fees -= fill.commission
        else:
            _add_exit(opened[symbol], fill, fill.quantity, Decimal(1), signals_by_order)
    trades.sort(key=lambda t: (t.exit_time, t.symbol))
    return trades


def _start(fill: Fill, quantity: Decimal, share: Decimal) -> _Open:
    return _Open(
        side="LONG" if fill.side is Side.BUY else "SHORT",
        quantity=quantity,
        entry_time=fill.time,
        entry_cost=quantity * fill.price,
        exit_qty=_ZERO,
        exit_value=_ZERO,
        gross=_ZERO,
        fees=-fill.commission * share,
        funding=_ZERO,
        reason="",
    )


def _add_exit(
    trip: _Open, fill: Fill, quantity: Decimal, share: Decimal, signals: Mapping[str, Signal]
) -> None:
    entry = trip.entry_cost / trip.quantity
    direction = 1 if trip.side == "LONG" else -1
    trip.gross += (fill.price - entry) * quantity * direction
    trip.exit_qty += quantity
    trip.exit_value += quantity * fill.price
    trip.fees -= fill.commission * share
    signal = signals.get(fill.client_order_id)
    if signal is not None:
        trip.reason = signal.inputs.get("rule", "") or "exit"
    elif not trip.reason:
        trip.reason = "exit"


def _closed(symbol: str, trip: _Open, fill: Fill) -> Trade:
    return Trade(
        symbol=symbol,
        side=trip.side,
        quantity=trip.quantity,
        entry_time=trip.entry_time,
        entry_price=trip.entry_cost / trip.quantity,
        exit_time=fill.time,
        exit_price=trip.exit_value / trip.exit_qty,
        reason=trip.reason,
        gross_pnl=trip.gross,
        fees=trip.fees,
        funding=trip.funding,
    )


__all__ = ["Trade", "round_trips"]
