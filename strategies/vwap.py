"""VWAP mean reversion: fade closes beyond the VWAP bands while the market ranges (low ADX).

Entry, on a closed 1m candle: close below VWAP − band_k·σ → OPEN_LONG, above VWAP + band_k·σ →
OPEN_SHORT, only when ADX(adx_period) is valid and < adx_max, the anchor is mature (at least
`min_candles_after_anchor` candles and σ ≥ `min_sigma_pct` of the price: right after the anchor σ ≈ 0
and the bands sit on VWAP), entries are enabled, the volatility guard is quiet, the candle is not
stale, and the strategy is flat with nothing pending.

Exit (CLOSE), on closed candles and, with `live_exits`, on every mark price / live kline update:
stop loss when the price is `stop_loss_pct` beyond the entry or beyond the outer band
VWAP ∓ exit_band_k·σ against the position; `max_holding_minutes` after the fill; take profit when the
price is back at VWAP. The volatility guard never blocks an exit. One CLOSE at a time: the next one
only after the first was rejected, cancelled, or had no news for `pending_timeout_seconds`.

Bands for exits come from the latest *mature* anchor period: just after an anchor reset the new
VWAP sits on the price and σ ≈ 0, which would read as "take profit" and "beyond the outer band" at
once, so exits keep using the previous period's final levels until the new one matures.

What is persisted (`snapshot_state`): the position (side, entry price, entry time), the pending
signal, the CLOSE retry counter and the guard's cool-down. The indicators are not: they are rebuilt
from the warm-up candles (`on_start`), which the daemon loads from candles_1m on every start, so a
snapshot stays small and can never disagree with the candles it was derived from.

The position is learned from the executor: `on_position` (the truth, signed quantity) and
`on_order_update` (an entry fill may arrive before the position update). `on_risk_decision` clears a
pending signal the risk gate rejected.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Self

import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator

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
from strategies.base import Output, Strategy, no_output
from strategies.indicators.adx import Adx
from strategies.indicators.volatility import VolatilityGuard
from strategies.indicators.vwap import AnchoredVwap
from strategies.registry import register

_log = structlog.get_logger(__name__)


class VwapParams(BaseModel):
    """Parameters of the `vwap` strategy; every field has a default, unknown keys are an error.

    Thresholds are floats on purpose: they multiply or compare against indicator values that are
    computed in float for speed (σ, ADX, percentages), and a Decimal threshold would buy no exactness
    there. Prices that leave the strategy (Signal.price, notional, the stop price) stay Decimal.
    Every `*_pct` field is in percent (1.5 means 1.5 %), like the shipped config.yaml.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    band_k: float = Field(2.0, gt=0, le=10, description="entry band: VWAP ± band_k·σ")
    exit_band_k: float = Field(3.0, gt=0, le=20, description="stop band: beyond VWAP ± exit_band_k·σ")
    adx_period: int = Field(14, ge=2, le=200, description="Wilder ADX period (TA-Lib seeding)")
    adx_max: float = Field(20.0, gt=0, le=100, description="enter only while ADX < adx_max")
    min_candles_after_anchor: int = Field(
        30, ge=0, le=10_080, description="no entries before this many candles since the anchor"
    )
    min_sigma_pct: float = Field(
        0.02, ge=0, le=100, description="no entries while σ is below this percentage of the price"
    )
    stop_loss_pct: float = Field(1.5, gt=0, le=50, description="stop this far (percent) from entry")
    max_holding_minutes: int = Field(240, ge=1, le=100_000, description="close after this long")
    volatility_window_seconds: float = Field(5.0, gt=0, le=3600, description="volatility guard window")
    volatility_max_range_pct: float = Field(
        0.8, gt=0, le=100, description="guard fires when (max−min)/min over the window exceeds this"
    )
    volatility_cooldown_seconds: float = Field(
        60.0, ge=0, le=86_400, description="entries blocked this long after the last breach"
    )
    anchor: Literal["day", "week"] = Field("day", description="VWAP resets each UTC day or week")
    anchor_offset_minutes: int = Field(
        0, ge=0, le=10_079, description="session start after 00:00 UTC (Monday 00:00 for week)"
    )
    live_exits: bool = Field(
        True, description="also check exits on live prices (mark, live kline), not only closed candles"
    )
    pending_timeout_seconds: int = Field(
        300, ge=10, le=86_400, description="forget a signal with no order news after this long"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.exit_band_k <= self.band_k:
            raise ValueError(f"exit_band_k ({self.exit_band_k}) must be greater than band_k ({self.band_k})")
        if self.anchor == "day" and self.anchor_offset_minutes >= 1440:
            raise ValueError(
                f"anchor_offset_minutes must be < 1440 for a day anchor, got {self.anchor_offset_minutes}"
            )
        return self


# Order states after which no more fills can come (core/order_state.py names; "LOST" is not final:
# the order manager keeps looking for a lost order).
_FINAL_ORDER_STATES = frozenset(
    {"FILLED", "CANCELED", "CANCELLED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH", "FAILED"}
)
_STALE_CANDLE_MS = 90_000  # a closed candle this far behind the live stream is history: no entry on it
_REBUILD_CANDLES = 1_500  # closed candles kept to rebuild indicators after a live period/anchor edit
_MINUTE_MS = 60_000
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

PositionSide = Literal["LONG", "SHORT"]


@dataclass(slots=True)
class _Pending:
    """A signal sent and not yet resolved by an order update, a position update or the risk gate."""

    action: SignalAction
    signal_id: str
    since_ms: int


def _f(x: float) -> str:
    """A float for humans (reasons)."""
    return f"{x:.6g}"


def _g(x: float) -> str:
    """A float for signal inputs: enough digits to recompute a decision."""
    return f"{x:.12g}"


@register
class VwapStrategy(Strategy):
    """Anchored-VWAP mean reversion with an ADX regime filter and a volatility guard."""

    name = "vwap"
    Params = VwapParams

    def __init__(
        self,
        symbol: str,
        params: BaseModel | Mapping[str, Any] | None = None,
        *,
        order_notional: Decimal,
    ) -> None:
        super().__init__(symbol, params, order_notional=order_notional)
        p = self._p
        self._vwap = AnchoredVwap(p.anchor, p.anchor_offset_minutes)
        self._adx = Adx(p.adx_period)
        self._guard = VolatilityGuard(
            int(p.volatility_window_seconds * 1000),
            p.volatility_max_range_pct / 100.0,
            int(p.volatility_cooldown_seconds * 1000),
        )
        self._candles: deque[tuple[int, float, float, float, float]] = deque(maxlen=_REBUILD_CANDLES)
        self._last_open_time = -1
        self._latest_time = 0  # newest event time seen: tells a stale closed candle from a live one
        self._levels: tuple[float, float] | None = None  # (VWAP, σ) of the latest mature period
        # position, as learned from the executor
        self._side: PositionSide | None = None
        self._entry_price: Decimal | None = None
        self._entry_time = 0
        self._pending: _Pending | None = None
        self._close_trigger = -1
        self._close_attempt = 0
        # exit thresholds as floats, recomputed when levels or the position change (hot path reads)
        self._take_profit = 0.0
        self._stop = 0.0
        self._deadline_ms = 0

    @property
    def _p(self) -> VwapParams:
        params = self.params
        assert isinstance(params, VwapParams)
        return params

    # --- read-only views (tests, heartbeat) ---------------------------------------------------------

    @property
    def position_side(self) -> PositionSide | None:
        """LONG, SHORT or None (flat), as learned from order and position updates."""
        return self._side

    @property
    def pending_action(self) -> SignalAction | None:
        """The action of the signal awaiting an outcome, if any."""
        return self._pending.action if self._pending is not None else None

    @property
    def adx(self) -> Adx:
        """The ADX indicator (read it, do not feed it)."""
        return self._adx

    @property
    def vwap(self) -> AnchoredVwap:
        """The anchored VWAP indicator (read it, do not feed it)."""
        return self._vwap

    @property
    def guard(self) -> VolatilityGuard:
        """The volatility guard (read it, do not feed it)."""
        return self._guard

    # --- market data --------------------------------------------------------------------------------

    def on_start(self, history: Sequence[Candle]) -> list[Output]:
        """Rebuild the indicators from closed candles; history never trades."""
        for candle in history:
            if candle.open_time > self._last_open_time:
                self._feed(
                    candle.open_time,
                    float(candle.high),
                    float(candle.low),
                    float(candle.close),
                    float(candle.volume),
                )
                self._last_open_time = candle.open_time
        self._refresh_exits()
        return no_output()

    def on_candle(self, candle: Candle) -> list[Output]:
        """A closed candle: update the indicators, then decide an exit or an entry."""
        if candle.open_time <= self._last_open_time:
            return no_output()  # already counted (warm-up overlap, a replay)
        self._last_open_time = candle.open_time
        now = candle.event_time if candle.event_time > candle.close_time else candle.close_time
        close_f = float(candle.close)
        self._feed(candle.open_time, float(candle.high), float(candle.low), close_f, float(candle.volume))
        out = no_output()
        if self._guard.add_trade(now, close_f):
            out.append(self._guard_event(now))
        if now > self._latest_time:
            self._latest_time = now
        self._expire_pending(now)
        self._refresh_exits()
        if self._side is not None:
            signal = self._check_exit(candle.close, close_f, now, candle.open_time, "close")
            if signal is not None:
                out.append(signal)
        elif self._pending is None:
            signal = self._check_entry(candle, close_f, now)
            if signal is not None:
                out.append(signal)
        return out

    def on_candle_update(self, candle: Candle) -> list[Output]:
        """A live kline update: a guard sample, and (with live_exits) an exit check."""
        now = candle.event_time
        if now > self._latest_time:
            self._latest_time = now
        price = float(candle.close)
        out = no_output()
        if self._guard.add_trade(now, price):
            out.append(self._guard_event(now))
        if self._side is not None and self._p.live_exits:
            signal = self._check_exit(candle.close, price, now, candle.open_time, "last")
            if signal is not None:
                out.append(signal)
        return out

    def on_mark_price(self, mark: MarkPrice) -> list[Output]:
        """A mark price: a guard sample, and (with live_exits) an exit check."""
        now = mark.event_time
        if now > self._latest_time:
            self._latest_time = now
        price = float(mark.mark_price)
        out = no_output()
        if self._guard.add_mark(now, price):
            out.append(self._guard_event(now))
        if self._side is not None and self._p.live_exits:
            trigger = now - now % _MINUTE_MS  # the open time of the minute it happened in
            signal = self._check_exit(mark.mark_price, price, now, trigger, "mark")
            if signal is not None:
                out.append(signal)
        return out

    def _feed(self, open_time: int, high: float, low: float, close: float, volume: float) -> None:
        self._candles.append((open_time, high, low, close, volume))
        self._vwap.update(open_time, high, low, close, volume)
        self._adx.update(high, low, close)
        if self._mature(close):
            vwap, sigma = self._vwap.vwap, self._vwap.sigma
            assert vwap is not None and sigma is not None
            self._levels = (vwap, sigma)

    def _mature(self, price: float) -> bool:
        """Enough candles and σ since the anchor for the bands to mean something."""
        p = self._p
        sigma = self._vwap.sigma
        if sigma is None or sigma <= 0.0 or price <= 0.0:
            return False
        return self._vwap.candles >= p.min_candles_after_anchor and sigma / price * 100.0 >= p.min_sigma_pct

    # --- decisions -------------------------------------------------------------------------------------

    def _check_entry(self, candle: Candle, close: float, now: int) -> Signal | None:
        p = self._p
        if not self.entries_enabled or self._guard.active(now):
            return None
        if candle.close_time < self._latest_time - _STALE_CANDLE_MS:
            return None
        adx = self._adx.value
        vwap, sigma = self._vwap.vwap, self._vwap.sigma
        if adx is None or adx >= p.adx_max or vwap is None or sigma is None or not self._mature(close):
            return None
        lower = vwap - p.band_k * sigma
        upper = vwap + p.band_k * sigma
        if close < lower:
            action = SignalAction.OPEN_LONG
            reason = (
                f"close {candle.close} below lower band {_f(lower)} (VWAP {_f(vwap)} − {p.band_k}σ), "
                f"ADX {adx:.1f} < {_f(p.adx_max)}"
            )
        elif close > upper:
            action = SignalAction.OPEN_SHORT
            reason = (
                f"close {candle.close} above upper band {_f(upper)} (VWAP {_f(vwap)} + {p.band_k}σ), "
                f"ADX {adx:.1f} < {_f(p.adx_max)}"
            )
        else:
            return None
        signal_id = self.signal_id(action, candle.open_time)
        self._pending = _Pending(action, signal_id, now)
        return Signal(
            signal_id=signal_id,
            symbol=self.symbol,
            strategy=self.name,
            action=action,
            reason=reason,
            price=candle.close,
            event_time=now,
            notional=self.order_notional,
            inputs=self._inputs(str(candle.close), "close", now, rule="entry"),
        )

    def _refresh_exits(self) -> None:
        """Recompute the float exit thresholds for the current position and levels."""
        side, entry = self._side, self._entry_price
        if side is None or entry is None:
            return
        p = self._p
        entry_f = float(entry)
        long = side == "LONG"
        pct_stop = (
            entry_f * (1.0 - p.stop_loss_pct / 100.0) if long else entry_f * (1.0 + p.stop_loss_pct / 100.0)
        )
        levels = self._levels
        if levels is None:
            self._take_profit = float("nan")  # no mature VWAP yet: only the % stop and the clock
            self._stop = pct_stop
        else:
            vwap, sigma = levels
            self._take_profit = vwap
            band = vwap - p.exit_band_k * sigma if long else vwap + p.exit_band_k * sigma
            self._stop = max(pct_stop, band) if long else min(pct_stop, band)
        self._deadline_ms = self._entry_time + p.max_holding_minutes * _MINUTE_MS

    def _check_exit(
        self, price: Decimal, price_f: float, now: int, trigger: int, source: str
    ) -> Signal | None:
        pending = self._pending
        if pending is not None and pending.action is SignalAction.CLOSE:
            return None  # one CLOSE at a time (a partly filled entry may still be pending: exits go on)
        long = self._side == "LONG"
        # Cheap float comparisons first: this runs for every live update while in a position.
        if long:
            hit_stop = price_f <= self._stop
            hit_tp = price_f >= self._take_profit
        else:
            hit_stop = price_f >= self._stop
            hit_tp = price_f <= self._take_profit
        expired = now >= self._deadline_ms
        if not (hit_stop or hit_tp or expired):
            return None
        return self._close(price, now, trigger, source, hit_stop=hit_stop, expired=expired)

    def _close(
        self, price: Decimal, now: int, trigger: int, source: str, *, hit_stop: bool, expired: bool
    ) -> Signal:
        p = self._p
        entry = self._entry_price
        assert entry is not None and self._side is not None
        side = self._side.lower()
        if hit_stop:
            limit = (
                entry * (1 - Decimal(str(p.stop_loss_pct)) / _HUNDRED)
                if side == "long"
                else (entry * (1 + Decimal(str(p.stop_loss_pct)) / _HUNDRED))
            )
            pct_hit = price <= limit if side == "long" else price >= limit
            if pct_hit or self._levels is None:
                moved = abs(price - entry) / entry * _HUNDRED
                rule = "stop_loss_pct"
                reason = (
                    f"stop loss: {source} {price} is {moved:.2f}% {'below' if side == 'long' else 'above'} "
                    f"the {side} entry {entry} (limit {_f(p.stop_loss_pct)}%)"
                )
            else:
                vwap = self._levels[0]
                rule = "stop_loss_band"
                sign = "−" if side == "long" else "+"
                reason = (
                    f"stop loss: {source} {price} {'below' if side == 'long' else 'above'} outer band "
                    f"{_f(self._stop)} (VWAP {_f(vwap)} {sign} {p.exit_band_k}σ), {side} from {entry}"
                )
        elif expired:
            rule = "max_holding"
            held = (now - self._entry_time) / _MINUTE_MS
            reason = (
                f"max holding time: {side} from {entry} held {held:.0f} min "
                f"(limit {p.max_holding_minutes} min), {source} {price}"
            )
        else:
            rule = "take_profit"
            reason = (
                f"take profit: {source} {price} back at VWAP {_f(self._take_profit)}, {side} from {entry}"
            )
        if trigger == self._close_trigger:
            self._close_attempt += 1
        else:
            self._close_trigger = trigger
            self._close_attempt = 0
        signal_id = self.signal_id(SignalAction.CLOSE, trigger, self._close_attempt)
        self._pending = _Pending(SignalAction.CLOSE, signal_id, now)
        return Signal(
            signal_id=signal_id,
            symbol=self.symbol,
            strategy=self.name,
            action=SignalAction.CLOSE,
            reason=reason,
            price=price,
            event_time=now,
            notional=None,
            inputs=self._inputs(str(price), source, now, rule=rule),
        )

    def _inputs(self, price: str, source: str, now: int, *, rule: str) -> dict[str, str]:
        p = self._p
        vwap, sigma = self._vwap.vwap, self._vwap.sigma
        adx = self._adx.value
        inputs = {
            "rule": rule,
            "price": price,
            "price_source": source,
            "vwap": _g(vwap) if vwap is not None else "",
            "sigma": _g(sigma) if sigma is not None else "",
            "upper": _g(vwap + p.band_k * sigma) if vwap is not None and sigma is not None else "",
            "lower": _g(vwap - p.band_k * sigma) if vwap is not None and sigma is not None else "",
            "band_k": str(p.band_k),
            "exit_band_k": str(p.exit_band_k),
            "adx": _g(adx) if adx is not None else "",
            "plus_di": _g(self._adx.plus_di) if self._adx.plus_di is not None else "",
            "minus_di": _g(self._adx.minus_di) if self._adx.minus_di is not None else "",
            "adx_max": str(p.adx_max),
            "candles_since_anchor": str(self._vwap.candles),
            "volatility_range_pct": _g(self._guard.reading_at(now) * 100.0),
            "volatility_guard_until": str(self._guard.until_ms),
            "volatility_max_range_pct": str(p.volatility_max_range_pct),
        }
        if self._side is not None and self._entry_price is not None:
            inputs["position"] = self._side
            inputs["entry_price"] = str(self._entry_price)
            inputs["entry_time"] = str(self._entry_time)
            inputs["stop"] = _g(self._stop)
            if self._levels is not None:
                inputs["exit_vwap"] = _g(self._levels[0])
                inputs["exit_sigma"] = _g(self._levels[1])
        return inputs

    def _guard_event(self, now: int) -> VolatilityGuardTriggered:
        guard = self._guard
        return VolatilityGuardTriggered(
            symbol=self.symbol,
            strategy=self.name,
            range_fraction=Decimal(_g(guard.reading)),
            threshold=Decimal(_g(guard.max_range)),
            until_time=guard.until_ms,
            event_time=now,
        )

    def _expire_pending(self, now: int) -> None:
        pending = self._pending
        if pending is not None and now - pending.since_ms >= self._p.pending_timeout_seconds * 1000:
            _log.warning(
                "strategy.pending_expired",
                symbol=self.symbol,
                strategy=self.name,
                signal_id=pending.signal_id,
                age_s=(now - pending.since_ms) / 1000,
            )
            self._pending = None

    # --- what the executor tells us ---------------------------------------------------------------------

    def on_order_update(self, update: OrderUpdate) -> list[Output]:
        """Resolve the pending signal from the fate of its order."""
        pending = self._pending
        if (
            pending is None
            or update.symbol != self.symbol
            or (update.strategy and update.strategy != self.name)
        ):
            return no_output()
        final = update.state in _FINAL_ORDER_STATES
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
        """The position is the truth: flat, long or short, and at what average price."""
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
        """A rejected signal produces no order: stop waiting for one."""
        pending = self._pending
        if pending is not None and not decision.accepted and decision.signal_id == pending.signal_id:
            self._pending = None
        return no_output()

    def _set_position(self, side: PositionSide, entry_price: Decimal | None, entry_time: int) -> None:
        self._side = side
        self._entry_price = entry_price
        self._entry_time = entry_time
        self._refresh_exits()

    def _set_flat(self) -> None:
        self._side = None
        self._entry_price = None
        self._entry_time = 0

    # --- configuration and persistence ---------------------------------------------------------------

    def _params_changed(self, old: BaseModel, new: BaseModel) -> None:
        assert isinstance(old, VwapParams) and isinstance(new, VwapParams)
        self._guard.configure(
            int(new.volatility_window_seconds * 1000),
            new.volatility_max_range_pct / 100.0,
            int(new.volatility_cooldown_seconds * 1000),
        )
        structural = (old.adx_period, old.anchor, old.anchor_offset_minutes) != (
            new.adx_period,
            new.anchor,
            new.anchor_offset_minutes,
        )
        if (
            structural
            or old.min_candles_after_anchor != new.min_candles_after_anchor
            or (old.min_sigma_pct != new.min_sigma_pct)
        ):
            # Rebuild from the kept candles: a period or anchor edit changes every past value.
            candles = list(self._candles)
            self._candles.clear()
            self._vwap = AnchoredVwap(new.anchor, new.anchor_offset_minutes)
            self._adx = Adx(new.adx_period)
            self._levels = None
            for candle in candles:
                self._feed(*candle)
        self._refresh_exits()

    def snapshot_state(self) -> dict[str, Any]:
        """Position, pending signal, CLOSE retry counter and guard cool-down (JSON-ready)."""
        pending = self._pending
        return {
            "version": 1,
            "side": self._side,
            "entry_price": str(self._entry_price) if self._entry_price is not None else None,
            "entry_time": self._entry_time,
            "pending": (
                {"action": pending.action.value, "signal_id": pending.signal_id, "since_ms": pending.since_ms}
                if pending is not None
                else None
            ),
            "close_trigger": self._close_trigger,
            "close_attempt": self._close_attempt,
            "guard_until_ms": self._guard.until_ms,
        }

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Load a snapshot; ValueError when it is not one this version wrote."""
        if state.get("version") != 1:
            raise ValueError(f"unknown vwap state version {state.get('version')!r}")
        side = state.get("side")
        if side not in (None, "LONG", "SHORT"):
            raise ValueError(f"bad side {side!r} in vwap state")
        entry = state.get("entry_price")
        pending = state.get("pending")
        self._pending = (
            _Pending(SignalAction(pending["action"]), str(pending["signal_id"]), int(pending["since_ms"]))
            if pending
            else None
        )
        self._close_trigger = int(state.get("close_trigger", -1))
        self._close_attempt = int(state.get("close_attempt", 0))
        self._guard.until_ms = int(state.get("guard_until_ms", 0))
        if side is None:
            self._set_flat()
        else:
            self._set_position(
                side, Decimal(entry) if entry is not None else None, int(state.get("entry_time", 0))
            )
