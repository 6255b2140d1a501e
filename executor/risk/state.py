"""The numbers the risk rules read, kept current from the bus; no I/O, no awaiting.

- mark prices and funding times from `MarkPrice` (`on_mark`), the funding time just passed kept so
  the window after it is enforced too;
- positions and realized PnL from `PositionUpdate` (`on_position`): `net_realized` is the symbol's
  cumulative realized PnL net of USDT fees and funding, so the change between two updates is what
  happened in between, after costs. A round trip ends when the position returns to flat or flips
  through zero; its PnL is the cumulative net then minus just before its opening fill. The first
  update for a symbol only sets the baseline (`set_baseline`; the gate sets them from the database);
- orders the gate accepted (`record_order`) and their fate (`on_order_update`): an entry's unfilled
  part is pending exposure, given back to the day's opened quantity if it ends unfilled.

Daily numbers (realized PnL per strategy and symbol, opened quantity per symbol) belong to the UTC
day of the clock and reset when the clock passes 00:00 UTC, whatever the venue's event times say.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from core.events import MarkPrice, OrderRequest, OrderUpdate, PositionUpdate
from core.order_state import TERMINAL_STATES
from executor.risk.rules import ORDER_RATE_WINDOW_MS, EntryContext, SymbolHalt
from utils.clock import Clock

_ZERO = Decimal(0)
DAY_MS = 86_400_000
_TERMINAL = frozenset(state.value for state in TERMINAL_STATES)


@dataclass(slots=True)
class _Position:
    quantity: Decimal
    entry_price: Decimal
    realized: Decimal  # cumulative net realized PnL (after USDT fees and funding), as last reported
    trip_start_realized: Decimal  # cumulative net realized PnL when the current round trip began


@dataclass(slots=True)
class _Pending:
    symbol: str
    strategy: str
    quantity: Decimal
    filled: Decimal
    price: Decimal | None
    reduce_only: bool
    day: int

    @property
    def remaining(self) -> Decimal:
        return max(self.quantity - self.filled, _ZERO)


@dataclass(frozen=True, slots=True)
class ClosedTrip:
    """A round trip that just ended, and the strategy's losing streak on the symbol after it."""

    symbol: str
    strategy: str
    pnl: Decimal
    consecutive_losses: int
    event_time: int

    @property
    def lost(self) -> bool:
        return self.pnl < _ZERO


class RiskState:
    """Per-symbol and portfolio book-keeping for the risk gate (single-threaded, loop only)."""

    def __init__(self, clock: Clock, *, equity: Decimal) -> None:
        self._clock = clock
        self.equity = equity
        self._marks: dict[str, Decimal] = {}
        # The two newest marks of each symbol as (time, price): a decision at T uses the newest
        # mark from before T, so it does not depend on whether the mark stamped T itself (sent with
        # the candle that closed at T, on another stream) happened to arrive first.
        self._recent_marks: dict[str, tuple[tuple[int, Decimal] | None, tuple[int, Decimal]]] = {}
        self._as_of: int | None = None
        self._next_funding: dict[str, int] = {}
        self._last_funding: dict[str, int] = {}
        self._positions: dict[str, _Position] = {}
        self._held_total: Decimal | None = None  # see `totals_held`
        self._owner: dict[str, str] = {}  # symbol -> strategy whose entries opened it
        self._pending: dict[str, _Pending] = {}  # by client order id
        self._day = clock.now_ms() // DAY_MS
        self._realized_today: dict[tuple[str, str], Decimal] = {}
        self._opened_today: dict[str, Decimal] = {}
        self._losses: dict[tuple[str, str], int] = {}
        self._order_times: deque[int] = deque()
        self.global_halt: str | None = None
        self._halts: dict[str, SymbolHalt] = {}

    # --- time ----------------------------------------------------------------------------------

    def _roll(self) -> int:
        """Reset the daily numbers when the clock entered a new UTC day; returns now."""
        now = self._clock.now_ms()
        day = now // DAY_MS
        if day != self._day:
            self._day = day
            self._realized_today.clear()
            self._opened_today.clear()
        return now

    # --- market --------------------------------------------------------------------------------

    def on_mark(self, mark: MarkPrice) -> None:
        """Latest mark price; a later `next_funding_time` means the previous one has passed."""
        self._marks[mark.symbol] = mark.mark_price
        recent = self._recent_marks.get(mark.symbol)
        self._recent_marks[mark.symbol] = (recent[1] if recent else None, (mark.event_time, mark.mark_price))
        known = self._next_funding.get(mark.symbol)
        if known is None or mark.next_funding_time > known:
            if known is not None:
                self._last_funding[mark.symbol] = known
            self._next_funding[mark.symbol] = mark.next_funding_time

    def mark_price(self, symbol: str) -> Decimal | None:
        """The latest mark price of `symbol`, if one arrived."""
        return self._marks.get(symbol)

    def _mark(self, symbol: str) -> Decimal | None:
        """The mark in force: the latest, or while judging a signal of time T the newest before T."""
        recent = self._recent_marks.get(symbol)
        if self._as_of is None or recent is None:
            return self._marks.get(symbol)
        previous, latest = recent
        if latest[0] < self._as_of or previous is None:
            return latest[1]
        return previous[1]

    def funding_times(self, symbol: str) -> tuple[int | None, int | None]:
        """(next funding time, the one just passed) of `symbol`."""
        return self._next_funding.get(symbol), self._last_funding.get(symbol)

    # --- positions -----------------------------------------------------------------------------

    def set_baseline(self, update: PositionUpdate) -> None:
        """What the symbol had realized before we started watching (not today's news): later
        updates count only what they add to it."""
        net = update.net_realized
        self._positions[update.symbol] = _Position(update.quantity, update.entry_price, net, net)

    def on_position(self, update: PositionUpdate) -> ClosedTrip | None:
        """Book a position update; returns the round trip it ended, if any.

        PnL is counted net of USDT fees and funding (`PositionUpdate.net_realized`): a trip that
        gained 0.40 before 1.40 of fees lost 1.00, for the daily loss limit and the losing streak.
        A trip's PnL includes the fee of the fill that opened it."""
        self._roll()
        symbol = update.symbol
        strategy = update.strategy or self._owner.get(symbol, "")
        previous = self._positions.get(symbol)
        if previous is None:
            self.set_baseline(update)
            return None
        net = update.net_realized
        delta = net - previous.realized
        if delta != _ZERO:
            key = (strategy, symbol)
            self._realized_today[key] = self._realized_today.get(key, _ZERO) + delta
        closed: ClosedTrip | None = None
        old, new = previous.quantity, update.quantity
        ended = old != _ZERO and (new == _ZERO or (new > _ZERO) != (old > _ZERO))
        if ended:
            pnl = net - previous.trip_start_realized
            key = (strategy, symbol)
            streak = self._losses.get(key, 0) + 1 if pnl < _ZERO else 0
            self._losses[key] = streak
            closed = ClosedTrip(symbol, strategy, pnl, streak, update.event_time)
            # A flip's remainder starts the next trip here (the flipping fill's fee went to the
            # trip it closed).
            previous.trip_start_realized = net
        elif old == _ZERO:
            # An entry from flat: the trip starts before this fill, so its fee is the trip's.
            previous.trip_start_realized = previous.realized
        previous.quantity = new
        previous.entry_price = update.entry_price
        previous.realized = net
        return closed

    def position_qty(self, symbol: str) -> Decimal:
        """The signed position of `symbol` as last reported (0 when never reported)."""
        position = self._positions.get(symbol)
        return _ZERO if position is None else position.quantity

    def consecutive_losses(self, strategy: str, symbol: str) -> int:
        """Losing round trips in a row of `strategy` on `symbol`."""
        return self._losses.get((strategy, symbol), 0)

    def set_losses(self, strategy: str, symbol: str, count: int) -> None:
        """Restore a losing streak saved before a restart."""
        if count > 0:
            self._losses[(strategy, symbol)] = count
        else:
            self._losses.pop((strategy, symbol), None)

    def reset_losses(self, strategy: str, symbol: str) -> None:
        """Start counting again (after a halt was issued for the streak)."""
        self._losses.pop((strategy, symbol), None)

    def unrealized(self, strategy: str, symbol: str) -> Decimal:
        """Open PnL at the mark of the position `strategy` holds on `symbol` (0 if unknown)."""
        position = self._positions.get(symbol)
        mark = self._mark(symbol)
        if position is None or mark is None or position.quantity == _ZERO:
            return _ZERO
        if self._owner.get(symbol, strategy) != strategy:
            return _ZERO
        return (mark - position.entry_price) * position.quantity

    def realized_today(self, strategy: str, symbol: str) -> Decimal:
        """Realized PnL of `strategy` on `symbol` since 00:00 UTC of the clock."""
        self._roll()
        return self._realized_today.get((strategy, symbol), _ZERO)

    def add_realized_today(self, strategy: str, symbol: str, pnl: Decimal) -> None:
        """Add PnL realized earlier today (restored from the database at start-up)."""
        self._roll()
        key = (strategy, symbol)
        self._realized_today[key] = self._realized_today.get(key, _ZERO) + pnl

    # --- orders --------------------------------------------------------------------------------

    def record_order(self, request: OrderRequest) -> None:
        """An order the gate accepted: rate window, pending exposure, today's opened quantity."""
        now = self._roll()
        self._order_times.append(now)
        self._pending[request.client_order_id] = self._pending_of(request, _ZERO)
        if not request.reduce_only:
            self._owner[request.symbol] = request.strategy
            self._opened_today[request.symbol] = (
                self._opened_today.get(request.symbol, _ZERO) + request.quantity
            )

    def track_order(self, request: OrderRequest, filled: Decimal) -> None:
        """A live order from before a restart: pending exposure only (not counted as new today)."""
        self._roll()
        self._pending[request.client_order_id] = self._pending_of(request, filled)
        if not request.reduce_only:
            self._owner.setdefault(request.symbol, request.strategy)

    def _pending_of(self, request: OrderRequest, filled: Decimal) -> _Pending:
        return _Pending(
            symbol=request.symbol,
            strategy=request.strategy,
            quantity=request.quantity,
            filled=filled,
            price=request.price,
            reduce_only=request.reduce_only,
            day=self._day,
        )

    def add_opened_today(self, symbol: str, quantity: Decimal) -> None:
        """Add quantity opened earlier today (restored from the database at start-up)."""
        self._roll()
        self._opened_today[symbol] = self._opened_today.get(symbol, _ZERO) + quantity

    def on_order_update(self, update: OrderUpdate) -> None:
        """Progress of an order the gate sent; unknown client ids (older orders) are ignored."""
        self._roll()
        pending = self._pending.get(update.client_order_id)
        if pending is None:
            return
        pending.filled = max(pending.filled, update.filled_qty)
        if update.state in _TERMINAL:
            del self._pending[update.client_order_id]
            unfilled = pending.quantity - pending.filled
            if not pending.reduce_only and unfilled > _ZERO and pending.day == self._day:
                opened = self._opened_today.get(pending.symbol, _ZERO) - unfilled
                self._opened_today[pending.symbol] = max(opened, _ZERO)

    def orders_in_window(self) -> int:
        """Orders accepted in the sliding window (now - 60 s, now]."""
        now = self._clock.now_ms()
        times = self._order_times
        while times and times[0] <= now - ORDER_RATE_WINDOW_MS:
            times.popleft()
        return len(times)

    def opened_today(self, symbol: str) -> Decimal:
        """Base quantity of entries accepted on `symbol` today, less what was cancelled unfilled."""
        self._roll()
        return self._opened_today.get(symbol, _ZERO)

    def closing_qty(self, symbol: str) -> Decimal:
        """Quantity of reduce-only orders in flight on `symbol`."""
        return sum(
            (p.remaining for p in self._pending.values() if p.symbol == symbol and p.reduce_only), _ZERO
        )

    # --- exposure ------------------------------------------------------------------------------

    def _valuation_price(self, symbol: str, fallback: Decimal | None) -> Decimal:
        mark = self._mark(symbol)
        if mark is not None:
            return mark
        if fallback is not None:
            return fallback
        position = self._positions.get(symbol)
        return position.entry_price if position is not None else _ZERO

    def symbol_exposure(self, symbol: str) -> Decimal:
        """|position| x mark + the unfilled part of pending entries x mark (else their price)."""
        exposure = _ZERO
        position = self._positions.get(symbol)
        if position is not None and position.quantity != _ZERO:
            exposure += abs(position.quantity) * self._valuation_price(symbol, position.entry_price)
        for pending in self._pending.values():
            if pending.symbol == symbol and not pending.reduce_only:
                exposure += pending.remaining * self._valuation_price(symbol, pending.price)
        return exposure

    def _symbols(self) -> Iterable[str]:
        seen = {s for s, p in self._positions.items() if p.quantity != _ZERO}
        seen.update(p.symbol for p in self._pending.values() if not p.reduce_only)
        return seen

    def total_exposure(self) -> Decimal:
        """The sum of every symbol's exposure."""
        if self._held_total is not None:
            return self._held_total
        return sum((self.symbol_exposure(s) for s in self._symbols()), _ZERO)

    @contextlib.contextmanager
    def totals_held(self) -> Iterator[None]:
        """Compute the total exposure once for many entry contexts read in one go (the heartbeat
        reads one per symbol: 500 symbols made that quadratic). Only around synchronous code: with
        no await inside, nothing can change the state meanwhile."""
        self._held_total = self.total_exposure()
        try:
            yield
        finally:
            self._held_total = None

    # --- halts ---------------------------------------------------------------------------------

    def set_halts(self, global_halt: str | None, symbols: dict[str, SymbolHalt]) -> None:
        """Replace the halts with what the control table says."""
        self.global_halt = global_halt
        self._halts = dict(symbols)

    def halt_symbol(self, halt: SymbolHalt) -> None:
        """Halt one symbol's entries now (before the database has it)."""
        self._halts[halt.symbol] = halt

    def symbol_halt(self, symbol: str) -> SymbolHalt | None:
        """The active halt of `symbol`, if any (an expired cool-down is not active)."""
        halt = self._halts.get(symbol)
        if halt is None or not halt.active(self._clock.now_ms()):
            return None
        return halt

    def halts(self) -> dict[str, SymbolHalt]:
        """Every symbol halt currently known (active or expired)."""
        return dict(self._halts)

    # --- for the rules -------------------------------------------------------------------------

    def entry_context(self, strategy: str, symbol: str, *, before: int | None = None) -> EntryContext:
        """A snapshot of everything `evaluate_entry` needs for this strategy and symbol; with
        `before` (the signal's time), valued at the newest marks from before it."""
        self._as_of = before
        try:
            return self._entry_context(strategy, symbol)
        finally:
            self._as_of = None

    def _entry_context(self, strategy: str, symbol: str) -> EntryContext:
        now = self._roll()
        next_funding, last_funding = self.funding_times(symbol)
        return EntryContext(
            now_ms=now,
            equity=self.equity,
            mark_price=self._mark(symbol),
            position_qty=self.position_qty(symbol),
            realized_today=self._realized_today.get((strategy, symbol), _ZERO),
            unrealized=self.unrealized(strategy, symbol),
            symbol_exposure=self.symbol_exposure(symbol),
            total_exposure=self.total_exposure(),
            opened_today=self._opened_today.get(symbol, _ZERO),
            orders_in_window=self.orders_in_window(),
            next_funding_time=next_funding,
            last_funding_time=last_funding,
            global_halt=self.global_halt,
            symbol_halt=self.symbol_halt(symbol),
        )

    def pending_count(self) -> int:
        """Orders accepted and not yet terminal."""
        return len(self._pending)


__all__ = ["DAY_MS", "ClosedTrip", "RiskState"]
