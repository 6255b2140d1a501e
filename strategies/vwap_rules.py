"""The `vwap` strategy's state and rules: when an entry or an exit fires, and the Signal it sends.

`VwapRules` holds the indicators, the exit thresholds and the CLOSE retry counter, and decides on
prices it is given; `strategies/vwap.py` (`VwapStrategy`) feeds it market data and handles
configuration edits and persistence. Split by responsibility only: one class in behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from core.decimals import to_api_string
from core.events import Signal, SignalAction, VolatilityGuardTriggered
from strategies.base import QuietBand, Strategy
from strategies.indicators.adx import Adx
from strategies.indicators.candle_keep import CandleKeep
from strategies.indicators.volatility import VolatilityGuard
from strategies.indicators.vwap import AnchoredVwap
from strategies.vwap_params import VwapParams
from strategies.vwap_reasons import (
    ExitContext,
    decision_inputs,
    entry_reason,
    exit_levels,
    exit_reason,
    fmt_input,
    pct_stop_price,
)

_STALE_CANDLE_MS = 90_000  # a closed candle this far behind the live stream is history: no entry on it
_REBUILD_CANDLES = 1_500  # closed candles kept to rebuild indicators after a live period/anchor edit


class VwapRules(Strategy):
    """The state and the entry/exit rules of `VwapStrategy` (its base class; never used alone)."""

    def __init__(
        self,
        symbol: str,
        params: BaseModel | Mapping[str, Any] | None = None,
        *,
        order_notional: Decimal,
    ) -> None:
        super().__init__(symbol, params, order_notional=order_notional)
        assert isinstance(self.params, VwapParams)
        self._params_v: VwapParams = self.params  # typed, and read per candle without a property
        p = self._p
        self._vwap = AnchoredVwap(p.anchor, p.anchor_offset_minutes, plain_sums=p.sigma_formula == "sums")
        self._adx = Adx(p.adx_period)
        self._guard = VolatilityGuard(
            int(p.volatility_window_seconds * 1000),
            p.volatility_max_range_pct / 100.0,
            int(p.volatility_cooldown_seconds * 1000),
        )
        self._candles = CandleKeep(_REBUILD_CANDLES)  # ~40 bytes a candle, not a ~210-byte tuple
        self._candles_recent = self._candles.recent  # the per-bar append, without a method call
        self._last_open_time = -1
        self._latest_time = 0  # newest event time seen: tells a stale closed candle from a live one
        self._levels: tuple[float, float] | None = None  # (VWAP, σ) of the latest mature period
        self._is_mature = False  # the last fed candle's `_mature`: its levels are `_levels`
        self._close_trigger = -1
        self._close_attempt = 0
        # exit thresholds as floats, recomputed when levels or the position change (hot path reads)
        self._take_profit = 0.0
        self._stop = 0.0
        self._deadline_ms = 0
        self._pct_stop: float | None = None
        self._band = QuietBand(float("nan"), float("nan"), -1)  # quiet_band's last answer (NaN: none yet)

    @property
    def _p(self) -> VwapParams:
        return self._params_v

    # --- read-only views (tests, heartbeat) ---------------------------------------------------------

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

    def _mature(self, price: float) -> bool:
        """Enough candles and σ since the anchor for the bands to mean something."""
        p = self._params_v
        indicator = self._vwap
        if indicator.volume <= 0.0 or price <= 0.0 or indicator.candles < p.min_candles_after_anchor:
            return False  # no VWAP yet (no volume since the anchor), or too early
        if p.min_sigma_pct <= 0.0:
            return True  # no σ floor: a zero σ (bands on the VWAP) counts too
        sigma = indicator.sigma
        return sigma is not None and sigma > 0.0 and sigma / price * 100.0 >= p.min_sigma_pct


    # --- decisions -------------------------------------------------------------------------------------

    def _check_entry(
        self,
        open_time: int,
        close_time: int,
        close_price: Decimal | None,
        close: float,
        now: int,
        other_than: str | None = None,
    ) -> Signal | None:
        """An entry signal on this closed candle, if its close is beyond a band (see the rules);
        `close_price` None: the exact close is read back from `close` once an entry fires."""
        p = self._params_v
        if not self.entries_enabled or (p.volatility_guard and self._guard.active(now)):
            return None
        if close_time < self._latest_time - _STALE_CANDLE_MS:
            return None
        adx = self._adx.value
        # `close` is the candle just fed: when it was mature, `_levels` are its VWAP and σ
        levels = self._levels
        if adx is None or adx >= p.adx_max or levels is None or not self._is_mature:
            return None
        vwap, sigma = levels
        lower = vwap - p.band_k * sigma
        upper = vwap + p.band_k * sigma
        if close < lower:
            action = SignalAction.OPEN_LONG
        elif close > upper:
            action = SignalAction.OPEN_SHORT
        else:
            return None
        if other_than is not None and (action is SignalAction.OPEN_LONG) == (other_than == "LONG"):
            return None  # the exit's own side: never re-enter what this candle exits
        if close_price is None:
            close_price = Decimal(repr(close))
        reason = entry_reason(p, action, close_price, vwap, lower if close < lower else upper, adx)
        signal_id = self.signal_id(action, open_time)
        if other_than is None:
            self._await_outcome(action, signal_id, now)
        return Signal(
            signal_id=signal_id,
            symbol=self.symbol,
            strategy=self.name,
            action=action,
            reason=reason,
            price=close_price,
            event_time=now,
            notional=self.order_notional,
            inputs=self._inputs(str(close_price), "close", now, rule="entry"),
        )

    def _refresh_exits(self) -> None:
        """Recompute the float exit thresholds for the current position and levels."""
        side, entry = self._side, self._entry_price
        if side is None or entry is None:
            return
        if self._pct_stop is None:  # depends on the position only: once per position
            self._pct_stop = pct_stop_price(self._params_v, side, entry, self.tick_size)
        self._take_profit, self._stop, self._deadline_ms = exit_levels(
            self._params_v, side, self._pct_stop, self._entry_time, self._levels
        )

    def _check_exit(
        self,
        price: Decimal | None,
        price_f: float,
        now: int,
        trigger: int,
        source: str,
        *,
        live: bool = False,
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
        if live and not self._params_v.live_take_profit:
            hit_tp = False
        expired = now >= self._deadline_ms
        if not (hit_stop or hit_tp or expired):
            return None
        # One spelling of a price whatever its source wrote (the wire "1.316", the path "1.3160"):
        # the signal's reason and inputs are stored and compared (`trader parity`).
        exact = Decimal(to_api_string(price)) if price is not None else Decimal(repr(price_f))
        return self._close(exact, now, trigger, source, hit_stop=hit_stop, expired=expired)

    def _close(
        self, price: Decimal, now: int, trigger: int, source: str, *, hit_stop: bool, expired: bool
    ) -> Signal:
        entry = self._entry_price
        assert entry is not None and self._side is not None
        rule, reason = exit_reason(
            self._p,
            ExitContext(self._side, entry, self._entry_time, self._levels, self._stop, self._take_profit),
            price,
            now,
            source,
            hit_stop=hit_stop,
            expired=expired,
        )
        if trigger == self._close_trigger:
            self._close_attempt += 1
        else:
            self._close_trigger = trigger
            self._close_attempt = 0
        signal_id = self.signal_id(SignalAction.CLOSE, trigger, self._close_attempt)
        self._await_outcome(SignalAction.CLOSE, signal_id, now)
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
        position = None
        if self._side is not None and self._entry_price is not None:
            position = ExitContext(
                self._side, self._entry_price, self._entry_time, self._levels, self._stop, self._take_profit
            )
        return decision_inputs(
            self._p, self._vwap, self._adx, self._guard, position, price, source, now, rule=rule
        )

    def _guard_event(self, now: int) -> VolatilityGuardTriggered:
        guard = self._guard
        return VolatilityGuardTriggered(
            symbol=self.symbol,
            strategy=self.name,
            range_fraction=Decimal(fmt_input(guard.reading)),
            threshold=Decimal(fmt_input(guard.max_range)),
            until_time=guard.until_ms,
            event_time=now,
        )

    def entry_blocks(self, now_ms: int) -> list[tuple[str, str, int | None]]:
        """The base class's reasons, plus the volatility guard while it is active."""
        blocks = super().entry_blocks(now_ms)
        if self._guard.active(now_ms):
            window = self._p.volatility_window_seconds
            detail = f"price range {self._guard.reading * 100:.2f}% over {window:g}s"
            blocks.append(("volatility_guard", detail, self._guard.until_ms))
        return blocks

    def _position_changed(self) -> None:
        self._pct_stop = None
        self._refresh_exits()
