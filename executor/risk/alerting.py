"""What the risk gate tells humans: halts and their release, and limits that stopped an entry.

- the kill switch (the control table's `halt`) set or lifted: KILL_SWITCH / KILL_SWITCH_RELEASED;
- a symbol halted by hand (`python -m trader halt --symbol`): SYMBOL_PAUSED; after consecutive
  losses (the gate's own halt, with its cool-down): LOSS_STREAK_HALT; either one lifted (resumed,
  or the cool-down is over): HALT_RELEASED;
- an entry refused by the daily loss limit: DAILY_LOSS_HALT, once, until an entry of that
  strategy and symbol is judged past that rule again (HALT_RELEASED);
- an entry refused by the portfolio-wide daily loss limit (every daemon together): DAILY_LOSS_HALT
  once, until an entry is judged past that rule again (HALT_RELEASED);
- an entry refused by an exposure, allocation, quantity or order-rate limit: RISK_LIMIT (the
  router folds the repeats).

Halts are compared with the previous state each time the gate takes the control table's (every
0.25 s), so a cool-down's end is seen within a poll. The first look after start reports halts
already in force. Only `publish_alert` is called: nothing here waits.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.alerts import AlertKind, publish_alert
from core.bus import Bus
from core.events import RiskDecision, Signal
from executor.risk.rules import Reason, SymbolHalt
from utils.clock import Clock

LIMIT_REASONS = frozenset(
    {
        Reason.ORDER_RATE_LIMIT,
        Reason.MAX_EXPOSURE,
        Reason.ALLOCATION,
        Reason.MAX_TOTAL_EXPOSURE,
        Reason.MAX_DAILY_QUANTITY,
        Reason.MAX_QUANTITY,
    }
)
# Rules judged before the daily loss rule: such a rejection says nothing about the day's loss.
_BEFORE_DAILY_LOSS = frozenset(
    {
        Reason.KILL_SWITCH,
        Reason.SYMBOL_HALTED,
        Reason.NOT_RECONCILED,
        Reason.RECONCILIATION_MISMATCH,
        Reason.UNKNOWN_SYMBOL,
        Reason.SYMBOL_NOT_TRADING,
        Reason.DUPLICATE_SIGNAL,
    }
)
# Rules judged before the portfolio-wide daily loss (every daemon's PnL of the day).
_BEFORE_PORTFOLIO_LOSS = frozenset(
    {
        Reason.KILL_SWITCH,
        Reason.NOT_RECONCILED,
        Reason.RECONCILIATION_MISMATCH,
        Reason.NOT_OWNED,
        Reason.ENTRIES_PAUSED,
        Reason.UNKNOWN_SYMBOL,
        Reason.SYMBOL_NOT_TRADING,
        Reason.DUPLICATE_SIGNAL,
    }
)
_LIMIT_NUMBERS = {
    Reason.ORDER_RATE_LIMIT: ("orders_last_minute", "max_orders_per_minute"),
    Reason.MAX_EXPOSURE: ("symbol_exposure", "max_exposure"),
    Reason.ALLOCATION: ("symbol_exposure", "allocation"),
    Reason.MAX_TOTAL_EXPOSURE: ("total_exposure", "max_total_exposure"),
    Reason.MAX_DAILY_QUANTITY: ("opened_today", "max_daily_quantity"),
    Reason.MAX_QUANTITY: ("wanted_quantity", "quantity"),
}


def _is_automatic(halt: SymbolHalt) -> bool:
    # The gate's loss halts carry their strategy (and a cool-down); `halt --symbol` writes neither.
    return bool(halt.strategy) or halt.until_ms is not None


class RiskAlerts:
    """Turns the gate's halts and verdicts into alerts (see the module docstring)."""

    def __init__(self, bus: Bus, clock: Clock) -> None:
        self._bus = bus
        self._clock = clock
        self._global: str | None = None
        self._halts: dict[str, tuple[str, int | None]] = {}
        self._first = True
        self._daily_loss: set[tuple[str, str]] = set()
        self._portfolio_loss = False  # the portfolio-wide daily loss refused an entry, not yet released

    def halts(self, global_reason: str | None, halts: Mapping[str, SymbolHalt]) -> None:
        """The gate's halts now (after each change and each poll of the control table)."""
        now = self._clock.now_ms()
        since = " (in force at start)" if self._first else ""
        if global_reason != self._global:
            if global_reason is not None:
                self._publish(AlertKind.KILL_SWITCH, f"every entry is refused: {global_reason}{since}; "
                              "exits still go out. `python -m trader resume` lifts it")
            else:
                self._publish(AlertKind.KILL_SWITCH_RELEASED, "entries are allowed again")
            self._global = global_reason
        active = {s: h for s, h in halts.items() if h.active(now)}
        for symbol, halt in sorted(active.items()):
            if self._halts.get(symbol) != (halt.reason, halt.until_ms):
                self._halted(halt, since)
        for symbol in sorted(set(self._halts) - set(active)):
            ended = halts.get(symbol)
            why = "cool-down over" if ended is not None and ended.until_ms is not None else "resumed"
            self._publish(AlertKind.HALT_RELEASED, f"entries allowed again ({why})", symbol)
        self._halts = {s: (h.reason, h.until_ms) for s, h in active.items()}
        self._first = False

    def _halted(self, halt: SymbolHalt, since: str) -> None:
        if not _is_automatic(halt):
            self._publish(
                AlertKind.SYMBOL_PAUSED,
                f"entries paused: {halt.reason}{since}; exits still go out. "
                f"`python -m trader resume --symbol {halt.symbol}` lifts it",
                halt.symbol,
            )
            return
        until = "until `python -m trader resume`" if halt.until_ms is None else f"until {_utc(halt.until_ms)}"
        strategy = f" ({halt.strategy})" if halt.strategy else ""
        self._publish(
            AlertKind.LOSS_STREAK_HALT, f"{halt.reason}{strategy}: entries halted {until}{since}", halt.symbol
        )

    def judged(self, signal: Signal, decision: RiskDecision) -> None:
        """One entry decision of the gate."""
        if not signal.action.is_entry:
            return
        key = (signal.strategy, signal.symbol)
        reason = Reason(decision.reason)
        details = decision.details
        if reason is Reason.PORTFOLIO_DAILY_LOSS_LIMIT:
            if not self._portfolio_loss:
                self._portfolio_loss = True
                self._publish(
                    AlertKind.DAILY_LOSS_HALT,
                    f"every daemon together: today's PnL {details.get('portfolio_daily_pnl', '?')} USDT "
                    f"(other daemons {details.get('other_daemons_pnl', '?')}) is beyond the portfolio daily "
                    f"loss limit of {details.get('portfolio_daily_loss_limit', '?')} USDT: new entries are "
                    "refused on every symbol until it is back within the limit (a new UTC day resets it)",
                )
            return
        if self._portfolio_loss and reason not in _BEFORE_PORTFOLIO_LOSS:
            self._portfolio_loss = False
            self._publish(AlertKind.HALT_RELEASED, "portfolio daily loss back within the limit")
        if reason is Reason.DAILY_LOSS_LIMIT:
            if key not in self._daily_loss:
                self._daily_loss.add(key)
                self._publish(
                    AlertKind.DAILY_LOSS_HALT,
                    f"{signal.strategy}: today's PnL {details.get('daily_pnl', '?')} USDT is beyond the "
                    f"daily loss limit of {details.get('daily_loss_limit', '?')} USDT: new entries are "
                    "refused until it is back within the limit (a new UTC day resets realized PnL)",
                    signal.symbol,
                )
            return
        if key in self._daily_loss and reason not in _BEFORE_DAILY_LOSS:
            self._daily_loss.discard(key)
            self._publish(AlertKind.HALT_RELEASED, f"{signal.strategy}: daily loss back within the limit",
                          signal.symbol)
        if reason in LIMIT_REASONS:
            used, limit = _LIMIT_NUMBERS[reason]
            self._publish(
                AlertKind.RISK_LIMIT,
                f"{signal.strategy} entry refused: {reason.value} reached "
                f"({used} {details.get(used, '?')}, {limit} {details.get(limit, '?')})",
                signal.symbol,
            )

    def _publish(self, kind: AlertKind, text: str, symbol: str | None = None) -> None:
        publish_alert(self._bus, kind, text, time=self._clock.now_ms(), symbol=symbol)


def _utc(time_ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


__all__ = ["LIMIT_REASONS", "RiskAlerts"]
