"""The risk gate: every signal in, one `RiskDecision` out, and an `OrderRequest` for the accepted.

```
 signal.*  ──▶ RiskGate ──▶ risk.decision (every signal)    ──▶ risk_decisions table (batched)
 market.*  ──▶    │      ──▶ order.request (accepted only)
 order.update ──▶ │  (RiskState: marks, funding, positions, pending orders, daily PnL, halts)
 position.update ─┘
```

- The judging itself is `executor/risk/judge.py` (synchronous, no I/O; the backtest calls it too).
- Sizing, the rules and their boundaries are in `executor/risk/rules.py` (entries: LIMIT GTC at the
  passive-rounded signal price, shrunk to the room the exposure limits leave; CLOSE: MARKET
  reduce-only for the open quantity, never blocked by an entry limit, a halt or the kill switch).
- The gate subscribes to `market.*` itself for mark prices and funding times (no method to feed).
- Exactly once starts here: the client order id is a pure function of the signal id
  (`executor/orders/client_ids.py`), and a signal id that was accepted before (this run, or any earlier run:
  loaded from `risk_decisions` at start) is answered `duplicate_signal` without an order request.
  Should the process die after publishing an order but before its decision row is written, the
  replayed signal gets the same client id and the order manager finds the existing order.
- Decisions are written to the database on the database thread in batches, never on the hot path;
  a failed write is retried, never dropped silently.
- Consecutive-loss halts are applied in-process at once and persisted through the kill switch's
  control table; `KillSwitchWatcher` feeds the table's state back in via `apply_halts`.
- `set_equity` is fed by the daemon from account balances; until then `starting_equity` is used.
- Halts, their release and limits that refused an entry are published as alerts (`alerting.py`).
- The portfolio-wide daily loss counts the other daemons' fills of the day from the shared
  database (`portfolio.py`), read at start-up and after every reconciliation on the database thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

import structlog

from config.models import RiskLimits
from core import channels
from core.bus import Bus, Subscription
from core.events import MarkPrice, OrderType, OrderUpdate, PositionUpdate, RiskDecision, Signal
from core.instruments import Instrument
from core.reconciliation import ReconciliationFinished
from database.engine import Database
from executor.risk.alerting import RiskAlerts
from executor.risk.decision_store import load_restored, store_decisions
from executor.risk.judge import RiskJudge, TripOutcome
from executor.risk.kill_switch import HaltState
from executor.risk.portfolio import daily_pnl, others_today
from executor.risk.rules import ENTRY_ORDER_TYPE, SymbolHalt
from executor.risk.state import DAY_MS
from utils.clock import Clock, WallClock

_log = structlog.get_logger(__name__)

_RETRY_S = 1.0
_ZERO = Decimal(0)


class RiskGate:
    """Judges signals against `RiskLimits` and turns the accepted ones into order requests.

    Construct before the producers start (it subscribes in the constructor), then run `run()` as a
    task. `limits_for(symbol)` gives a symbol's merged limits (`TraderConfig.risk_for`).
    """

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        db: Database,
        instruments: Mapping[str, Instrument],
        *,
        limits_for: Callable[[str], RiskLimits],
        starting_equity: Decimal,
        wall: Clock | None = None,
        wait_for_reconciliation: bool = False,
        entry_order_type: OrderType = ENTRY_ORDER_TYPE,
        instance_id: str = "",
    ) -> None:
        self._bus = bus
        self._instance_id = instance_id  # this daemon's fills are its own PnL, the others' theirs
        self._clock = clock
        self._wall: Clock = wall or WallClock()  # paces the database write retries
        self._db = db
        self.judge = RiskJudge(
            clock,
            instruments,
            limits_for=limits_for,
            starting_equity=starting_equity,
            wait_for_reconciliation=wait_for_reconciliation,
            entry_order_type=entry_order_type,
        )
        self.state = self.judge.state
        self.pauses = self.judge.pauses
        self._signals: Subscription = bus.subscribe(channels.ALL_SIGNALS, name="risk.signals")
        self._market: Subscription = bus.subscribe(channels.ALL_MARKETS, name="risk.market")
        self._orders: Subscription = bus.subscribe(channels.ORDER_UPDATE, name="risk.orders")
        self._positions: Subscription = bus.subscribe(channels.POSITION_UPDATE, name="risk.positions")
        self._reconciliations = bus.subscribe(channels.RECONCILIATION, name="risk.reconciliation")
        self._unwritten: list[RiskDecision] = []
        self._local_halts: dict[str, SymbolHalt] = {}  # issued here, not yet in the control table
        self._unwritten_streaks: dict[tuple[str, str], int] = {}
        self._halt_epoch = 0
        self._wake = asyncio.Event()
        self._others_stale = asyncio.Event()  # a reconciliation ended: read the others' PnL again
        self.ready = asyncio.Event()  # set once the start-up state is loaded
        self._alerts = RiskAlerts(bus, clock)
        self.decisions_written = 0
        self.write_errors = 0

    # --- configuration and feeds from the daemon ----------------------------------------------

    def update_limits(self, limits_for: Callable[[str], RiskLimits]) -> None:
        """Use new limits from the next signal on (a live configuration edit)."""
        self.judge.limits_for = limits_for

    def update_instruments(self, instruments: Mapping[str, Instrument]) -> None:
        """Use new instrument rules (a re-read exchangeInfo)."""
        self.judge.instruments = instruments

    def set_equity(self, equity: Decimal) -> None:
        """The account's equity (wallet + unrealized, USDT), the base of the allocation limit."""
        self.state.equity = equity

    @property
    def halt_epoch(self) -> int:
        """Changes each time a halt issued here has been written to the control table."""
        return self._halt_epoch

    def apply_halts(self, state: HaltState, epoch: int) -> None:
        """The control table's halts, read when `halt_epoch` was `epoch` (KillSwitchWatcher)."""
        if epoch != self._halt_epoch:
            return  # read before a halt of ours was written: stale, the next poll will have it
        symbols = dict(state.symbols)
        symbols.update(self._local_halts)
        if state.global_reason != self.state.global_halt:
            _log.warning(
                "risk.kill_switch", halted=state.global_reason is not None, reason=state.global_reason
            )
        self.state.set_halts(state.global_reason, symbols)
        self._alerts.halts(self.state.global_halt, self.state.halts())

    # --- the task ------------------------------------------------------------------------------

    async def restore(self) -> None:
        """Load what must survive a restart before the first signal is judged: accepted signal
        ids, halts, positions, live orders, today's realized PnL and opened quantity."""
        now = self._clock.now_ms()
        day_start, me = now - now % DAY_MS, self._instance_id
        restored, today = await self._db.run(
            lambda s: (load_restored(s, day_start), daily_pnl(s, me, day_start))
        )
        self.judge.portfolio.add_own_today(today.own)
        self.judge.portfolio.set_others_today(today.others, day_start)
        self.judge.accepted_ids |= restored.accepted_ids
        self.apply_halts(restored.halts, self._halt_epoch)
        for position in restored.positions.values():
            # The baseline: later position updates add only what they realize on top of it.
            self.state.set_baseline(
                PositionUpdate(
                    symbol=position.symbol,
                    quantity=position.quantity,
                    entry_price=position.entry_price,
                    realized_pnl=position.realized_pnl,
                    event_time=now,
                    strategy=position.strategy,
                    fees=position.fees,
                    funding=position.funding,
                )
            )
            self.judge.portfolio.set_baseline(position.symbol, position.net_realized)
        for stored in restored.live_orders:
            self.state.track_order(stored.request, stored.filled_qty)
        for (strategy, symbol), pnl in restored.realized_today.items():
            self.state.add_realized_today(strategy, symbol, pnl)
        for symbol, quantity in restored.opened_today.items():
            self.state.add_opened_today(symbol, quantity)
        for (strategy, symbol), count in restored.streaks.items():
            self.state.set_losses(strategy, symbol, count)
        self.ready.set()
        _log.info(
            "risk.restored",
            accepted_signals=len(restored.accepted_ids),
            global_halt=restored.halts.global_reason,
            symbol_halts=sorted(restored.halts.symbols),
            positions=len(restored.positions),
            live_orders=len(restored.live_orders),
        )

    async def run(self) -> None:
        """Restore, then judge signals and track state until cancelled; unwritten decisions are
        written on the way out."""
        writer = asyncio.create_task(self._writer(), name="risk.writer")
        others = asyncio.create_task(self._read_others(), name="risk.others_pnl")
        try:
            await self.restore()
            await asyncio.gather(
                self._consume(self._reconciliations, self._on_reconciliation),
                self._consume(self._positions, self._on_position),
                self._consume(self._orders, self._on_order_update),
                self._consume(self._market, self._on_market),
                self._consume(self._signals, self.handle_signal),
            )
        finally:
            for task in (others, writer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flush())

    async def _consume(self, sub: Subscription, handler: Callable[[Any], object]) -> None:
        async for event in sub:  # ends when the subscription is closed
            try:
                handler(event)
            except Exception as exc:  # one bad event must not stop the gate; it is logged whole
                _log.error(
                    "risk.event_failed", topic=sub.pattern, event=repr(event), error=repr(exc), exc_info=exc
                )

    # --- state feeds ---------------------------------------------------------------------------

    def _on_market(self, event: object) -> None:
        if type(event) is MarkPrice:
            self.state.on_mark(event)

    def _on_reconciliation(self, event: object) -> None:
        if isinstance(event, ReconciliationFinished):
            self.pauses.on_reconciliation(event)
            self._others_stale.set()

    async def _read_others(self) -> None:
        """Read the other daemons' PnL of the day after each reconciliation (the database thread)."""
        while True:
            await self._others_stale.wait()
            self._others_stale.clear()
            now = self._clock.now_ms()
            day_start, me = now - now % DAY_MS, self._instance_id
            try:
                pnl = await self._db.run(partial(others_today, instance_id=me, day_start=day_start))
            except Exception as exc:  # the last reading stands; the next reconciliation retries
                _log.error("risk.others_pnl_failed", error=f"{type(exc).__name__}: {exc}")
                continue
            self.judge.portfolio.set_others_today(pnl, day_start)

    def _on_order_update(self, event: object) -> None:
        if isinstance(event, OrderUpdate):
            self.state.on_order_update(event)

    def _on_position(self, event: object) -> None:
        if isinstance(event, PositionUpdate):
            # A symbol another daemon owns: its stored position, published for the total exposure.
            own = self.pauses.exits_blocked(event.symbol) is None
            outcome = self.judge.on_position(event, own=own)
            if outcome is not None:
                self._after_trip(outcome)

    def _after_trip(self, outcome: TripOutcome) -> None:
        # The streak survives a restart: it is written with the next batch of decisions.
        trip, halt = outcome.trip, outcome.halt
        self._unwritten_streaks[(trip.strategy, trip.symbol)] = 0 if halt else trip.consecutive_losses
        self._wake.set()
        if halt is None:
            return
        self._local_halts[trip.symbol] = halt
        self._alerts.halts(self.state.global_halt, self.state.halts())
        _log.warning(
            "risk.symbol_halted",
            symbol=trip.symbol,
            strategy=trip.strategy,
            reason=halt.reason,
            until_ms=halt.until_ms,
            last_trade_pnl=str(trip.pnl),
        )

    # --- signals -------------------------------------------------------------------------------

    def handle_signal(self, signal: Signal) -> RiskDecision:
        """Judge one signal: publish the decision (and the order request when accepted), queue the
        decision for the database."""
        decision, requests = self.judge.judge(signal)
        self._alerts.judged(signal, decision)
        self._bus.publish(channels.RISK_DECISION, decision)
        for request in requests:
            self._bus.publish(channels.ORDER_REQUEST, request)
        self._unwritten.append(decision)
        self._wake.set()
        return decision

    @property
    def accepted(self) -> int:
        """Signals accepted since start."""
        return self.judge.accepted

    @property
    def rejected(self) -> Counter[str]:
        """Rejected signals by reason since start."""
        return self.judge.rejected

    @property
    def halts_issued(self) -> int:
        """Consecutive-loss halts issued since start."""
        return self.judge.halts_issued

    # --- the database writer ---------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not await self._flush():
                await self._wall.sleep(_RETRY_S)
                self._wake.set()

    async def _flush(self) -> bool:
        """Write what is queued; False (everything kept for a retry) when the write failed."""
        decisions, self._unwritten = self._unwritten, []
        streaks, self._unwritten_streaks = self._unwritten_streaks, {}
        halts = list(self._local_halts.values())
        if not decisions and not halts and not streaks:
            return True
        now = self._clock.now_ms()
        try:
            # Shielded: a shutdown that cancels the writer mid-write still lets the write finish.
            await asyncio.shield(self._db.run(lambda s: store_decisions(s, decisions, halts, now, streaks)))
        except Exception as exc:
            self.write_errors += 1
            self._unwritten[:0] = decisions
            self._unwritten_streaks = {**streaks, **self._unwritten_streaks}
            _log.error("risk.write_failed", error=f"{type(exc).__name__}: {exc}", decisions=len(decisions))
            return False
        self.decisions_written += len(decisions)
        if halts:
            for halt in halts:
                if self._local_halts.get(halt.symbol) is halt:
                    del self._local_halts[halt.symbol]
            self._halt_epoch += 1
        return True

    async def flush(self) -> None:
        """Write every queued decision and halt now (tests, shutdown)."""
        await self._flush()

    # --- heartbeat -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counters and state for status/heartbeat.json."""
        now = self._clock.now_ms()
        return {
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "decisions_written": self.decisions_written,
            "decisions_unwritten": len(self._unwritten),
            "write_errors": self.write_errors,
            "halts_issued": self.halts_issued,
            "kill_switch": self.state.global_halt,
            "symbol_halts": {s: {"reason": h.reason, "until_ms": h.until_ms}
                             for s, h in self.state.halts().items() if h.active(now)},
            "equity": str(self.state.equity),
            "total_exposure": str(self.state.total_exposure()),
            "portfolio_pnl_today": {
                "own": str(self.judge.portfolio.own_today),
                "other_daemons": str(self.judge.portfolio.others_today),
                "net": str(self.judge.portfolio.today),
            },
            "orders_last_minute": self.state.orders_in_window(),
            "pending_orders": self.state.pending_count(),
        }


__all__ = ["RiskGate"]
