"""The strategy lifecycle: what a strategy is, what it is told, and what it may answer.

A strategy is one subclass of `Strategy` with a pydantic `Params` model, registered by name
(`strategies.registry.register`). The per-symbol `StrategyRunner` owns all I/O; hooks are plain
synchronous functions that look at an event and return a list of outputs (`Signal` or
`VolatilityGuardTriggered`), usually empty. Nothing here touches the bus, the database or a clock:
time comes from the events themselves (`event_time`, candle times), so a replay of the same events
gives the same decisions.

Lifecycle, in the order the runner calls it:

    restore_state(saved)        once, if a snapshot was saved before (may be skipped)
    on_start(history)           once, closed 1m candles oldest first: rebuild the indicators
    on_candle / on_candle_update / on_mark_price / on_order_update / on_position /
    on_risk_decision            for every event, in arrival order
    snapshot_state()            after closed candles and position changes; persisted by the runner
    on_stop()                   once, when the task ends

`update_params()` and `entries_enabled` may be changed between two events by a live config edit.

Position tracking is shared by every strategy: the base class learns the position from the
executor (`on_position` is the truth; `on_order_update` gives an entry fill that may arrive before
its position update) and resolves the one signal awaiting an outcome (`pending`) from its order's
fate or the risk gate's rejection. A subclass reads `position_side`, `entry_price`, `entry_time`
and `pending`, records a signal it emits with `_await_outcome`, and overrides
`_position_changed` to recompute what depends on the position.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeAlias

import structlog
from pydantic import BaseModel

from core.events import (
    Candle,
    MarkPrice,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    Side,
    Signal,
    SignalAction,
    VolatilityGuardTriggered,
)
from core.order_state import TERMINAL_STATE_NAMES

Output: TypeAlias = Signal | VolatilityGuardTriggered
"""What a hook may return; the runner publishes Signals on `signal.<SYMBOL>` and guard events on
`strategy.event`."""


PositionSide = Literal["LONG", "SHORT"]

_log = structlog.get_logger(__name__)


def no_output() -> list[Output]:
    """A fresh empty output list (hooks return lists the caller may keep, so never a shared one)."""
    return []


@dataclass(frozen=True, slots=True)
class QuietBand:
    """Live prices strictly between `low` and `high`, seen before `until_ms`, make the strategy's
    live hooks answer nothing; `guard_range` (a fraction) is set when a volatility guard listens
    to live prices: a move of more than that within its window may still answer something.

    A backtest uses it to skip the live updates of a candle that cannot matter."""

    low: float
    high: float
    until_ms: int
    guard_range: float | None = None


@dataclass(slots=True)
class Pending:
    """A signal sent and not yet resolved by an order update, a position update or the risk gate."""

    action: SignalAction
    signal_id: str
    since_ms: int


class Strategy(ABC):
    """Base class of every strategy: one instance trades one symbol.

    Subclasses set `name` and `Params` (a pydantic v2 model with `extra="forbid"` and a default for
    every field) and implement at least `on_candle`. Every other hook defaults to doing nothing.

    `order_notional` is the size of an entry in quote currency (USDT), a `Decimal`; a live config edit
    may change it. `entries_enabled` is False once the symbol was removed from the configuration: the
    strategy then still manages the exit of an open position but opens nothing new.
    """

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]

    def __init__(
        self,
        symbol: str,
        params: BaseModel | Mapping[str, Any] | None = None,
        *,
        order_notional: Decimal,
    ) -> None:
        if not isinstance(order_notional, Decimal) or not order_notional > 0:
            raise ValueError(f"order_notional must be a positive Decimal, got {order_notional!r}")
        self.symbol = symbol
        self.order_notional = order_notional
        self.entries_enabled = True
        # The instrument's PRICE_FILTER tick, set by whoever knows the venue (daemon, backtest):
        # strategies that place prices on the tick grid read it; None when unknown.
        self.tick_size: Decimal | None = None
        self.params: BaseModel = self.coerce_params(params)
        # the position, as learned from the executor
        self._side: PositionSide | None = None
        self._entry_price: Decimal | None = None
        self._entry_time = 0
        self._pending: Pending | None = None

    # --- parameters ------------------------------------------------------------------------------

    @classmethod
    def coerce_params(cls, params: BaseModel | Mapping[str, Any] | None) -> BaseModel:
        """Validate `params` into an instance of `cls.Params` (a mapping is validated, None = defaults).

        Raises pydantic.ValidationError for bad values or unknown keys, TypeError for the Params
        model of another strategy.
        """
        if params is None:
            return cls.Params()
        if isinstance(params, BaseModel):
            if not isinstance(params, cls.Params):
                raise TypeError(f"{cls.name} expects {cls.Params.__name__}, got {type(params).__name__}")
            return params
        return cls.Params.model_validate(dict(params))

    def update_params(self, params: BaseModel | Mapping[str, Any]) -> None:
        """Apply a live configuration edit; it takes effect at the next decision.

        Subclasses that derive state from parameters (indicator periods, anchors) override
        `_params_changed` to rebuild it.
        """
        new = self.coerce_params(params)
        old = self.params
        self.params = new
        self._params_changed(old, new)

    def _params_changed(self, old: BaseModel, new: BaseModel) -> None:
        """Hook for subclasses: `params` was replaced by a live edit."""
        return None

    # --- lifecycle hooks (synchronous, no I/O) -----------------------------------------------------

    def on_start(self, history: Sequence[Candle]) -> list[Output]:
        """Warm up from closed 1m candles, oldest first. The default feeds them to `on_candle`
        and drops what it returns: history is the past, so it never trades."""
        for candle in history:
            self.on_candle(candle)
        return no_output()

    def history_needed(self, now_ms: int) -> int:
        """Closed 1m candles before `now_ms` this strategy needs at start to stand where an
        uninterrupted run would (the daemon warms up with at least this many); 0: any will do."""
        return 0

    @abstractmethod
    def on_candle(self, candle: Candle) -> list[Output]:
        """A closed 1m candle (each one exactly once, in time order)."""

    def on_bar(
        self,
        open_time: int,
        close_time: int,
        now: int,
        high: float,
        low: float,
        close: float,
        volume: float,
        close_price: Decimal | None = None,
    ) -> list[Output]:
        """A closed candle as plain numbers (the backtest's call); by default built into a `Candle`
        for `on_candle`. A strategy whose decision path runs on numbers overrides it."""
        exact = close_price if close_price is not None else Decimal(repr(close))
        candle = Candle(
            self.symbol, open_time, close_time, exact, Decimal(repr(high)), Decimal(repr(low)), exact,
            Decimal(repr(volume)), Decimal(0), 0, True, now,
        )
        return self.on_candle(candle)

    def on_candle_update(self, candle: Candle) -> list[Output]:
        """A live, not yet closed candle. Called several times a second: keep it cheap."""
        return no_output()

    def on_mark_price(self, mark: MarkPrice) -> list[Output]:
        """A mark price update (once a second). Called often: keep it cheap."""
        return no_output()

    def quiet_band(self) -> QuietBand | None:
        """Where live prices cannot make the live hooks answer (see QuietBand); None: anywhere."""
        return None

    def on_order_update(self, update: OrderUpdate) -> list[Output]:
        """A change of one of this symbol's orders: resolves the pending signal from its fate."""
        pending = self._pending
        if (
            pending is None
            or update.symbol != self.symbol
            or (update.strategy and update.strategy != self.name)
        ):
            return no_output()
        final = update.state in TERMINAL_STATE_NAMES
        if pending.action is SignalAction.CLOSE:
            closing_side = Side.SELL if self._side == "LONG" else Side.BUY
            if update.side is not closing_side or not final:
                return no_output()
            self._pending = None
            if update.state == "FILLED":
                self._set_flat()
            return no_output()
        entry_side = Side.BUY if pending.action is SignalAction.OPEN_LONG else Side.SELL
        if update.side is not entry_side or update.reduce_only:
            return no_output()
        if update.filled_qty > 0 and self._side is None and update.avg_price > 0:
            # The fill may come before its position update; take it as the position for now.
            self._set_position(
                "LONG" if entry_side is Side.BUY else "SHORT", update.avg_price, update.event_time
            )
        if final:
            self._pending = None
        return no_output()

    def on_position(self, update: PositionUpdate) -> list[Output]:
        """This symbol's position (quantity signed, short < 0): the truth about side and entry."""
        if update.symbol != self.symbol or (update.strategy and update.strategy != self.name):
            return no_output()
        qty = update.quantity
        pending = self._pending
        if qty == 0:
            if self._side is not None:
                self._set_flat()
            if pending is not None and pending.action is SignalAction.CLOSE:
                self._pending = None
            return no_output()
        side: PositionSide = "LONG" if qty > 0 else "SHORT"
        # Same side: the same position, maybe added to, so the holding clock keeps running.
        entry_time = self._entry_time if side == self._side else update.event_time
        self._set_position(
            side, update.entry_price if update.entry_price > 0 else self._entry_price, entry_time
        )
        if pending is not None and pending.action.is_entry:
            self._pending = None
        return no_output()

    def on_risk_decision(self, decision: RiskDecision) -> list[Output]:
        """The risk gate's verdict on a signal: a rejection means no order follows, stop waiting."""
        pending = self._pending
        if pending is not None and not decision.accepted and decision.signal_id == pending.signal_id:
            self._pending = None
        return no_output()

    def on_stop(self) -> None:
        """The task is ending (shutdown or removal); no more hooks follow."""
        return None

    def entry_blocks(self, now_ms: int) -> list[tuple[str, str, int | None]]:
        """The strategy's own reasons it would not enter now: (reason, detail, until ms or None).

        The base class knows one: the symbol was removed from the configuration. A strategy with a
        guard of its own (a volatility guard, a cool-down) adds it, so the heartbeat can say why.
        """
        if not self.entries_enabled:
            return [("symbol_removed", "removed from the configuration: exits only", None)]
        return []

    # --- the position, as learned from the executor --------------------------------------------------

    @property
    def position_side(self) -> PositionSide | None:
        """LONG, SHORT or None (flat), as learned from order and position updates."""
        return self._side

    @property
    def entry_price(self) -> Decimal | None:
        """The position's average entry price (None when flat or not known yet)."""
        return self._entry_price

    @property
    def entry_time(self) -> int:
        """When the position was opened (event time, ms); 0 when flat."""
        return self._entry_time

    @property
    def pending(self) -> Pending | None:
        """The signal awaiting an outcome, if any."""
        return self._pending

    @property
    def pending_action(self) -> SignalAction | None:
        """The action of the signal awaiting an outcome, if any."""
        return self._pending.action if self._pending is not None else None

    def _await_outcome(self, action: SignalAction, signal_id: str, now_ms: int) -> None:
        """Record a signal just emitted: no other one until its order, position or rejection."""
        self._pending = Pending(action, signal_id, now_ms)

    def _expire_pending(self, now_ms: int, timeout_ms: int) -> None:
        """Forget a pending signal with no news for `timeout_ms` (its order may never come)."""
        pending = self._pending
        if pending is not None and now_ms - pending.since_ms >= timeout_ms:
            _log.warning(
                "strategy.pending_expired",
                symbol=self.symbol,
                strategy=self.name,
                signal_id=pending.signal_id,
                age_s=(now_ms - pending.since_ms) / 1000,
            )
            self._pending = None

    def _set_position(self, side: PositionSide, entry_price: Decimal | None, entry_time: int) -> None:
        self._side = side
        self._entry_price = entry_price
        self._entry_time = entry_time
        self._position_changed()

    def _set_flat(self) -> None:
        self._side = None
        self._entry_price = None
        self._entry_time = 0

    def _position_changed(self) -> None:
        """Hook for subclasses: the position (side, entry price or time) was set."""
        return None

    def _tracking_state(self) -> dict[str, Any]:
        """The position and the pending signal, JSON-ready, for a subclass's `snapshot_state`."""
        pending = self._pending
        return {
            "side": self._side,
            "entry_price": str(self._entry_price) if self._entry_price is not None else None,
            "entry_time": self._entry_time,
            "pending": (
                {"action": pending.action.value, "signal_id": pending.signal_id, "since_ms": pending.since_ms}
                if pending is not None
                else None
            ),
        }

    def _restore_tracking(self, state: Mapping[str, Any]) -> None:
        """Load what `_tracking_state` returned; ValueError on a bad side."""
        side = state.get("side")
        if side not in (None, "LONG", "SHORT"):
            raise ValueError(f"bad side {side!r} in {self.name} state")
        entry = state.get("entry_price")
        pending = state.get("pending")
        self._pending = (
            Pending(SignalAction(pending["action"]), str(pending["signal_id"]), int(pending["since_ms"]))
            if pending
            else None
        )
        if side is None:
            self._set_flat()
        else:
            self._set_position(
                side, Decimal(entry) if entry is not None else None, int(state.get("entry_time", 0))
            )

    # --- persistence --------------------------------------------------------------------------------

    def snapshot_state(self) -> dict[str, Any]:
        """State that must survive a restart, JSON-serialisable (Decimals as strings)."""
        return {}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Load what `snapshot_state` returned before a restart."""
        return None

    # --- helpers for subclasses --------------------------------------------------------------------

    def signal_id(self, action: SignalAction, trigger_open_time: int, attempt: int = 0) -> str:
        """Deterministic id of an intent: symbol, strategy, action and the trigger candle's open time.

        A replay of the same candle after a restart gives the same id, so it maps to the same order
        intent. `attempt` > 0 marks a deliberate retry of the same intent within the same candle
        (e.g. a CLOSE re-sent after the first one was rejected), which must not be deduplicated.
        """
        base = f"{self.symbol}:{self.name}:{action.value}:{trigger_open_time}"
        return base if attempt == 0 else f"{base}:{attempt}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.symbol!r}, entries_enabled={self.entries_enabled})"
