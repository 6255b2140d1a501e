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
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias

from pydantic import BaseModel

from core.events import (
    Candle,
    MarkPrice,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    Signal,
    SignalAction,
    VolatilityGuardTriggered,
)

Output: TypeAlias = Signal | VolatilityGuardTriggered
"""What a hook may return; the runner publishes Signals on `signal.<SYMBOL>` and guard events on
`strategy.event`."""


def no_output() -> list[Output]:
    """A fresh empty output list (hooks return lists the caller may keep, so never a shared one)."""
    return []


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
        self.params: BaseModel = self.coerce_params(params)

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

    @abstractmethod
    def on_candle(self, candle: Candle) -> list[Output]:
        """A closed 1m candle (each one exactly once, in time order)."""

    def on_candle_update(self, candle: Candle) -> list[Output]:
        """A live, not yet closed candle. Called several times a second: keep it cheap."""
        return no_output()

    def on_mark_price(self, mark: MarkPrice) -> list[Output]:
        """A mark price update (once a second). Called often: keep it cheap."""
        return no_output()

    def on_order_update(self, update: OrderUpdate) -> list[Output]:
        """A change of one of this symbol's orders (accepted, filled, cancelled, rejected...)."""
        return no_output()

    def on_position(self, update: PositionUpdate) -> list[Output]:
        """This symbol's position after a fill or an account update (quantity signed, short < 0)."""
        return no_output()

    def on_risk_decision(self, decision: RiskDecision) -> list[Output]:
        """The risk gate's verdict on a signal of this symbol; a rejection means no order follows."""
        return no_output()

    def on_stop(self) -> None:
        """The task is ending (shutdown or removal); no more hooks follow."""
        return None

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
