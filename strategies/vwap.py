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
from the warm-up candles (`on_start`), which the daemon loads from candles_1m (or the venue) on every
start, so a snapshot stays small and can never disagree with the candles it was derived from. The
warm-up reaches back to the current anchor's start and 40 ADX periods before it (`history_needed`),
so after a restart the VWAP, σ and ADX equal an uninterrupted run's.

The position and the pending signal are tracked by the base class (`strategies/base.py`) from the
executor's order and position updates and the risk gate's decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from core.events import Candle, MarkPrice, SignalAction
from strategies.base import Output, QuietBand, no_output
from strategies.indicators.adx import Adx
from strategies.indicators.candle_keep import FOLD
from strategies.indicators.vwap import AnchoredVwap
from strategies.registry import register
from strategies.vwap_params import VwapParams
from strategies.vwap_rules import VwapRules

_MINUTE_MS = 60_000
_INF = float("inf")
_NAN = float("nan")
_NEVER_MS = 2**62
# Wilder's smoothing forgets its start by (1 - 1/period) a candle: 40 periods leave (13/14)^560 ≈ 1e-18,
# below a float's resolution, so a restarted ADX equals an uninterrupted one.
_ADX_CONVERGENCE_PERIODS = 40


@register
class VwapStrategy(VwapRules):
    """Anchored-VWAP mean reversion with an ADX regime filter and a volatility guard.

    The rules and the state they read live in `VwapRules` (strategies/vwap_rules.py); this class
    feeds them market data and handles live parameter edits and persistence."""

    name = "vwap"
    Params = VwapParams

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

    def history_needed(self, now_ms: int) -> int:
        """Every candle since the current anchor period began (VWAP and σ over the whole period,
        as an uninterrupted run has them), and before that enough for the ADX to converge."""
        newest = now_ms - now_ms % _MINUTE_MS - _MINUTE_MS  # the newest closed candle's open
        since_anchor = (newest - self._vwap.session_start(newest)) // _MINUTE_MS + 1
        return since_anchor + _ADX_CONVERGENCE_PERIODS * self._params_v.adx_period

    def on_candle(self, candle: Candle) -> list[Output]:
        """A closed candle: update the indicators, then decide an exit or an entry."""
        now = candle.event_time if candle.event_time > candle.close_time else candle.close_time
        return self.on_bar(
            candle.open_time,
            candle.close_time,
            now,
            float(candle.high),
            float(candle.low),
            float(candle.close),
            float(candle.volume),
            candle.close,
        )

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
        """`on_candle` on plain numbers: the one decision path of live trading and the backtest.

        `now` is when the closed candle became known (its final update's event time); the
        backtest calls this directly for every candle instead of building a `Candle`.
        `close_price` is the exact close (Decimal) when the caller has it; otherwise it is read
        back from the float (exact for any price with 15 significant digits or fewer).
        """
        if open_time <= self._last_open_time:
            return no_output()  # already counted (warm-up overlap, a replay)
        self._last_open_time = open_time
        # `_feed` inlined (every closed candle of every symbol, every backtest bar, comes here)
        recent = self._candles_recent
        recent.append((open_time, high, low, close, volume))
        if len(recent) >= FOLD:
            self._candles.fold()
        vwap = self._vwap
        vwap.update(open_time, high, low, close, volume)
        self._adx.update(high, low, close)
        p = self._params_v
        # `_mature` inlined for the rule without a σ floor; with one, the method decides
        if p.min_sigma_pct <= 0.0:
            mature = not (vwap.volume <= 0.0 or close <= 0.0 or vwap.candles < p.min_candles_after_anchor)
        else:
            mature = self._mature(close)
        self._is_mature = mature
        if mature:
            self._levels = vwap.levels()
        out: list[Output] = []
        if p.volatility_guard and self._guard.add_trade(now, close):
            out.append(self._guard_event(now))
        if now > self._latest_time:
            self._latest_time = now
        if self._pending is not None:
            self._expire_pending(now, p.pending_timeout_seconds * 1000)
        side = self._side
        if side is not None:
            self._refresh_exits()
            signal = self._check_exit(close_price, close, now, open_time, "close")
            if signal is not None:
                out.append(signal)
                if p.enter_on_exit and signal.action is SignalAction.CLOSE:
                    price = signal.price
                    entry = self._check_entry(open_time, close_time, price, close, now, other_than=side)
                    if entry is not None:
                        out.append(entry)
        elif self._pending is None:
            adx = self._adx.value
            # Cheap float tests first: most candles are not near the bands.
            if adx is not None and adx < p.adx_max:
                signal = self._check_entry(open_time, close_time, close_price, close, now)
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
        if self._p.volatility_guard and self._guard.add_trade(now, price):
            out.append(self._guard_event(now))
        if self._side is not None and self._p.live_exits:
            signal = self._check_exit(candle.close, price, now, candle.open_time, "last", live=True)
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
        if self._p.volatility_guard and self._guard.add_mark(now, price):
            out.append(self._guard_event(now))
        if self._side is not None and self._p.live_exits:
            trigger = now - now % _MINUTE_MS  # the open time of the minute it happened in
            signal = self._check_exit(mark.mark_price, price, now, trigger, "mark", live=True)
            if signal is not None:
                out.append(signal)
        return out

    def quiet_band(self) -> QuietBand:
        """Live prices between the stop and the take profit (before the holding deadline) exit
        nothing; while flat or closing, no live price does. The guard reacts to fast moves."""
        p = self._params_v
        guard = p.volatility_max_range_pct / 100.0 if p.volatility_guard else None
        pending = self._pending
        side = self._side
        if side is None or not p.live_exits or (pending is not None and pending.action is SignalAction.CLOSE):
            low, high, until = -_INF, _INF, _NEVER_MS
        else:
            tp = self._take_profit if p.live_take_profit else _NAN
            if side == "LONG":
                low, high, until = self._stop, tp if tp == tp else _INF, self._deadline_ms
            else:
                low, high, until = tp if tp == tp else -_INF, self._stop, self._deadline_ms
        band = self._band
        # The same band as last time is the common case (a backtest asks once per candle): reuse it.
        if band.low != low or band.high != high or band.until_ms != until or band.guard_range != guard:
            band = self._band = QuietBand(low, high, until, guard)
        return band

    def _feed(self, open_time: int, high: float, low: float, close: float, volume: float) -> None:
        recent = self._candles_recent
        recent.append((open_time, high, low, close, volume))
        if len(recent) >= FOLD:
            self._candles.fold()
        vwap = self._vwap
        vwap.update(open_time, high, low, close, volume)
        self._adx.update(high, low, close)
        mature = self._is_mature = self._mature(close)
        if mature:
            self._levels = vwap.levels()

    # --- configuration and persistence ---------------------------------------------------------------

    def _params_changed(self, old: BaseModel, new: BaseModel) -> None:
        assert isinstance(old, VwapParams) and isinstance(new, VwapParams)
        self._params_v = new
        self._pct_stop = None
        self._guard.configure(
            int(new.volatility_window_seconds * 1000),
            new.volatility_max_range_pct / 100.0,
            int(new.volatility_cooldown_seconds * 1000),
        )
        structural = (old.adx_period, old.anchor, old.anchor_offset_minutes, old.sigma_formula) != (
            new.adx_period,
            new.anchor,
            new.anchor_offset_minutes,
            new.sigma_formula,
        )
        if (
            structural
            or old.min_candles_after_anchor != new.min_candles_after_anchor
            or (old.min_sigma_pct != new.min_sigma_pct)
        ):
            # Rebuild from the kept candles: a period or anchor edit changes every past value.
            candles = list(self._candles)
            self._candles.clear()
            sums = new.sigma_formula == "sums"
            self._vwap = AnchoredVwap(new.anchor, new.anchor_offset_minutes, plain_sums=sums)
            self._adx = Adx(new.adx_period)
            self._levels = None
            for candle in candles:
                self._feed(*candle)
        self._refresh_exits()

    def snapshot_state(self) -> dict[str, Any]:
        """Position, pending signal, CLOSE retry counter and guard cool-down (JSON-ready)."""
        return {
            "version": 1,
            **self._tracking_state(),
            "close_trigger": self._close_trigger,
            "close_attempt": self._close_attempt,
            "guard_until_ms": self._guard.until_ms,
        }

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Load a snapshot; ValueError when it is not one this version wrote."""
        if state.get("version") != 1:
            raise ValueError(f"unknown vwap state version {state.get('version')!r}")
        self._restore_tracking(state)
        self._close_trigger = int(state.get("close_trigger", -1))
        self._close_attempt = int(state.get("close_attempt", 0))
        self._guard.until_ms = int(state.get("guard_until_ms", 0))
