"""The risk gate's core, synchronous and free of I/O: a signal in, a decision and maybe an order out.

`RiskGate` (gate.py) is this core plus its shell: the bus subscriptions that feed it, the
publishing of what it decides and the database writer. The backtest calls the core directly, once
per signal, so both judge every signal with the same code: sizing and every rule of
`executor/risk/rules.py` over the numbers `executor/risk/state.py` keeps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from config.models import RiskLimits
from core.client_ids import client_order_id_for
from core.decimals import split_quantity
from core.events import OrderRequest, OrderType, PositionUpdate, RiskDecision, Signal, SignalAction
from core.instruments import Instrument
from executor.risk.entry_pauses import EntryPauses
from executor.risk.portfolio import PortfolioPnl, check_portfolio_daily_loss
from executor.risk.rules import (
    ENTRY_ORDER_TYPE,
    Reason,
    SymbolHalt,
    Verdict,
    cooldown_until,
    evaluate_close,
    evaluate_entry,
    halt_after_losses,
)
from executor.risk.state import ClosedTrip, RiskState
from utils.clock import Clock

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TripOutcome:
    """A round trip that ended, and the halt it caused (None when the streak is within limits)."""

    trip: ClosedTrip
    halt: SymbolHalt | None


class RiskJudge:
    """Judges signals against `RiskLimits`; see the module docstring.

    `limits_for(symbol)` gives a symbol's merged limits (`TraderConfig.risk_for`);
    `entry_order_type` is `engine.entry_order_type`.
    """

    def __init__(
        self,
        clock: Clock,
        instruments: Mapping[str, Instrument],
        *,
        limits_for: Callable[[str], RiskLimits],
        starting_equity: Decimal,
        wait_for_reconciliation: bool = False,
        entry_order_type: OrderType = ENTRY_ORDER_TYPE,
    ) -> None:
        self.clock = clock
        self.instruments = instruments
        self.limits_for = limits_for
        self.entry_order_type = entry_order_type
        self.state = RiskState(clock, equity=starting_equity)
        self.portfolio = PortfolioPnl(clock)  # every daemon's PnL today (the portfolio-wide limit)
        now = clock.now_ms()
        for symbol in instruments:
            # Flat with nothing realized until told otherwise (the gate's restore sets what the
            # database holds), so the fee of the first fill ever counts.
            self.state.set_baseline(PositionUpdate(symbol, _ZERO, _ZERO, _ZERO, now))
            self.portfolio.set_baseline(symbol, _ZERO)
        self.pauses = EntryPauses(wait_for_reconciliation=wait_for_reconciliation)
        self.accepted_ids: set[str] = set()
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.halts_issued = 0

    def judge(self, signal: Signal) -> tuple[RiskDecision, tuple[OrderRequest, ...]]:
        """The decision on one signal, and the order requests when it is accepted (recorded in the
        state: rate window, pending exposure, today's opened quantity).

        One request, except for a close above MARKET_LOT_SIZE's maxQty: the venue refuses it whole,
        so it goes as several reduce-only parts within the limit, part i with the deterministic
        client id `client_order_id_for(signal_id, i)` (part 0 keeps the single order's id)."""
        if signal.signal_id in self.accepted_ids:
            verdict = Verdict(Reason.DUPLICATE_SIGNAL, {"signal_id": signal.signal_id})
        else:
            verdict = self._verdict(signal)
        now = self.clock.now_ms()
        requests: tuple[OrderRequest, ...] = ()
        details = dict(verdict.details)
        if verdict.accepted:
            assert verdict.side is not None and verdict.order_type is not None
            side, order_type = verdict.side, verdict.order_type
            requests = tuple(
                OrderRequest(
                    client_order_id=client_order_id_for(signal.signal_id, index),
                    symbol=signal.symbol,
                    strategy=signal.strategy,
                    side=side,
                    order_type=order_type,
                    quantity=quantity,
                    created_time=now,
                    price=verdict.price,
                    time_in_force=verdict.time_in_force,
                    reduce_only=verdict.reduce_only,
                    signal_id=signal.signal_id,
                )
                for index, quantity in enumerate(self._parts(signal.symbol, verdict))
            )
            details["client_order_id"] = requests[0].client_order_id
            details["order_type"] = order_type.value
            if len(requests) > 1:
                details["parts"] = ",".join(str(r.quantity) for r in requests)
                details["client_order_ids"] = ",".join(r.client_order_id for r in requests)
            self.accepted_ids.add(signal.signal_id)
            for request in requests:
                self.state.record_order(request)
            self.accepted += 1
        else:
            self.rejected[verdict.reason.value] += 1
        decision = RiskDecision(
            signal_id=signal.signal_id,
            symbol=signal.symbol,
            strategy=signal.strategy,
            accepted=verdict.accepted,
            reason=verdict.reason.value,
            event_time=now,
            details=MappingProxyType(details),
        )
        return decision, requests

    def _parts(self, symbol: str, verdict: Verdict) -> list[Decimal]:
        """The verdict's quantity, split when it is a market close above MARKET_LOT_SIZE's maxQty
        (an entry is already capped at the maximum by `evaluate_entry`)."""
        instrument = self.instruments.get(symbol)
        if not verdict.reduce_only or verdict.order_type is not OrderType.MARKET or instrument is None:
            return [verdict.quantity]
        return split_quantity(
            verdict.quantity, instrument.market_max_qty, instrument.market_step_size,
            origin=instrument.market_min_qty,
        )

    def _verdict(self, signal: Signal) -> Verdict:
        symbol = signal.symbol
        if signal.action is SignalAction.CLOSE:
            owner = self.pauses.exits_blocked(symbol)
            if owner is not None:
                return Verdict(Reason.NOT_OWNED, {"detail": owner})
            return evaluate_close(signal, self.state.position_qty(symbol), self.state.closing_qty(symbol))
        pause = self.pauses.pause_of(symbol)
        if pause is not None:
            return Verdict(pause[0], {"detail": pause[1]})
        instrument = self.instruments.get(symbol)
        if instrument is None:
            return Verdict(Reason.UNKNOWN_SYMBOL, {"symbol": symbol})
        if not instrument.is_trading:
            return Verdict(Reason.SYMBOL_NOT_TRADING, {"status": instrument.status})
        limits = self.limits_for(symbol)
        portfolio = self.portfolio
        breach = check_portfolio_daily_loss(portfolio.today, portfolio.others_today, limits)
        if breach is not None and self.state.global_halt is None:  # the kill switch says it first
            return Verdict(breach.reason, breach.details)
        context = self.state.entry_context(signal.strategy, symbol, before=signal.event_time)
        return evaluate_entry(signal, context, limits, instrument, self.entry_order_type)

    def on_position(self, update: PositionUpdate, *, own: bool = True) -> TripOutcome | None:
        """Book a position update; a round trip that ended may halt the symbol (consecutive losses).

        `own` False: another daemon's stored position (several daemons on one database), counted in
        the total exposure but not in this daemon's PnL of the day."""
        self.portfolio.on_position(update, own=own)
        trip = self.state.on_position(update)
        if trip is None:
            return None
        limits = self.limits_for(trip.symbol)
        if not trip.lost or not halt_after_losses(trip.consecutive_losses, limits):
            return TripOutcome(trip, None)
        halt = SymbolHalt(
            symbol=trip.symbol,
            reason=f"{trip.consecutive_losses} consecutive losing trades",
            until_ms=cooldown_until(self.clock.now_ms(), limits),
            strategy=trip.strategy,
        )
        self.state.halt_symbol(halt)
        self.state.reset_losses(trip.strategy, trip.symbol)
        self.halts_issued += 1
        return TripOutcome(trip, halt)


__all__ = ["RiskJudge", "TripOutcome"]
