"""SMA crossover: the worked example of docs/strategy-guide.md, and a strategy that trades often.

Entry, on a closed candle, when flat and nothing is pending: the fast simple moving average of the
closes crosses above the slow one → OPEN_LONG; below → OPEN_SHORT (with `allow_short`). Exit: the
opposite cross, or the close `stop_loss_pct` beyond the entry price → CLOSE.

Everything a strategy needs beyond its rule comes from the base class (`strategies/base.py`): the
position and the pending signal are learned from the executor's updates; `signal_id` makes each
intent's id deterministic, so a candle replayed after a restart maps to the same order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.events import Candle, Signal, SignalAction
from strategies.base import Output, QuietBand, Strategy, no_output
from strategies.registry import register

_HUNDRED = Decimal(100)
_ZERO = Decimal(0)
# Decisions on closed candles only: no live price can make this strategy act.
_ALWAYS_QUIET = QuietBand(float("-inf"), float("inf"), 2**62)


class SmaCrossParams(BaseModel):
    """Parameters of the `sma_cross` strategy; every field has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = Field(10, ge=1, le=500, description="fast moving average, in closed candles")
    slow: int = Field(30, ge=2, le=2000, description="slow moving average, in closed candles")
    stop_loss_pct: float = Field(
        1.0, gt=0, le=50, description="close when the price is this far against the entry"
    )
    allow_short: bool = Field(True, description="also sell the downward cross")
    pending_timeout_seconds: int = Field(
        300, ge=10, description="forget a signal with no order news after this long"
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


@register
class SmaCrossStrategy(Strategy):
    """Fast/slow SMA crossover with a percentage stop."""

    name = "sma_cross"
    Params = SmaCrossParams

    def __init__(
        self, symbol: str, params: BaseModel | Mapping[str, Any] | None = None, *, order_notional: Decimal
    ) -> None:
        super().__init__(symbol, params, order_notional=order_notional)
        self._closes: deque[Decimal] = deque(maxlen=self._p.slow)
        self._above: bool | None = None  # was the fast average above the slow one at the last close?
        self._last_open_time = -1

    @property
    def _p(self) -> SmaCrossParams:
        assert isinstance(self.params, SmaCrossParams)
        return self.params

    def warmup_candles(self) -> int:
        """Closed candles the averages need before the first decision."""
        return self._p.slow

    def on_start(self, history: Sequence[Candle]) -> list[Output]:
        """Warm the averages up from closed candles; history never trades."""
        for candle in history:
            if candle.open_time > self._last_open_time:
                self._last_open_time = candle.open_time
                self._closes.append(candle.close)
                self._update_cross()
        return no_output()

    def _update_cross(self) -> tuple[Decimal, Decimal, bool] | None:
        """(fast, slow, crossed) after the newest close; None until there are enough closes."""
        p = self._p
        if len(self._closes) < p.slow:
            return None
        closes = list(self._closes)
        fast = sum(closes[-p.fast :], _ZERO) / p.fast
        slow = sum(closes, _ZERO) / p.slow
        above = fast > slow
        crossed = self._above is not None and above != self._above
        self._above = above
        return fast, slow, crossed

    def quiet_band(self) -> QuietBand:
        """Live prices never matter here, so a backtest skips every update inside a candle."""
        return _ALWAYS_QUIET

    def on_candle(self, candle: Candle) -> list[Output]:
        """A closed candle: update the averages, then an exit or an entry."""
        if candle.open_time <= self._last_open_time:
            return no_output()  # already counted (warm-up overlap, a replay)
        self._last_open_time = candle.open_time
        now = max(candle.event_time, candle.close_time)
        self._closes.append(candle.close)
        self._expire_pending(now, self._p.pending_timeout_seconds * 1000)
        p = self._p
        cross = self._update_cross()
        if cross is None:
            return no_output()
        fast, slow, crossed = cross
        above = self._above
        if self.pending is not None:
            return no_output()
        if self.position_side is not None:
            return self._exit(candle, now, crossed, fast, slow)
        if not crossed or not self.entries_enabled:
            return no_output()
        if above:
            action = SignalAction.OPEN_LONG
        elif p.allow_short:
            action = SignalAction.OPEN_SHORT
        else:
            return no_output()
        reason = f"SMA{p.fast} {fast:.6g} crossed {'above' if above else 'below'} SMA{p.slow} {slow:.6g}"
        return [self._signal(action, candle, now, reason, fast, slow)]

    def _exit(self, candle: Candle, now: int, crossed: bool, fast: Decimal, slow: Decimal) -> list[Output]:
        entry = self.entry_price
        long = self.position_side == "LONG"
        stop = None
        if entry is not None:
            distance = Decimal(str(self._p.stop_loss_pct)) / _HUNDRED
            stop = entry * (1 - distance) if long else entry * (1 + distance)
        if stop is not None and (candle.close <= stop if long else candle.close >= stop):
            rule = "stop"
            reason = (
                f"stop loss: close {candle.close} beyond {stop:.6g} ({self._p.stop_loss_pct}% from {entry})"
            )
        elif crossed:
            rule = "cross"
            back = "below" if long else "above"
            reason = f"SMA{self._p.fast} {fast:.6g} crossed back {back} SMA{self._p.slow} {slow:.6g}"
        else:
            return no_output()
        return [self._signal(SignalAction.CLOSE, candle, now, reason, fast, slow, rule)]

    def _signal(
        self,
        action: SignalAction,
        candle: Candle,
        now: int,
        reason: str,
        fast: Decimal,
        slow: Decimal,
        rule: str = "cross",
    ) -> Signal:
        """A signal with the numbers it was decided on; `rule` names an exit's rule (the backtest
        report counts exits by it)."""
        signal_id = self.signal_id(action, candle.open_time)
        self._await_outcome(action, signal_id, now)
        return Signal(
            signal_id=signal_id,
            symbol=self.symbol,
            strategy=self.name,
            action=action,
            reason=reason,
            price=candle.close,
            event_time=now,
            notional=self.order_notional if action.is_entry else None,
            inputs={"fast_sma": str(fast), "slow_sma": str(slow), "close": str(candle.close), "rule": rule},
        )

    def snapshot_state(self) -> dict[str, Any]:
        """The position, the pending signal and the side of the last cross."""
        return {"version": 1, **self._tracking_state(), "above": self._above}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Load a snapshot; ValueError when this version did not write it."""
        if state.get("version") != 1:
            raise ValueError(f"unknown sma_cross state version {state.get('version')!r}")
        self._restore_tracking(state)
        above = state.get("above")
        self._above = bool(above) if above is not None else None
