"""The `vwap` strategy's exit thresholds, and the words and numbers that explain each decision.

Pure functions of the parameters, the position and the indicator levels: the strategy calls
`exit_levels` when the position or the levels change and compares prices against them on the hot
path; `entry_reason` and `exit_reason` run only once a rule has fired.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.events import SignalAction
from strategies.base import PositionSide
from strategies.indicators.adx import Adx
from strategies.indicators.volatility import VolatilityGuard
from strategies.indicators.vwap import AnchoredVwap
from strategies.vwap_params import VwapParams

_MINUTE_MS = 60_000
_HUNDRED = Decimal(100)


def fmt_float(x: float) -> str:
    """A float for humans (reasons)."""
    return f"{x:.6g}"


def fmt_input(x: float) -> str:
    """A float for signal inputs: enough digits to recompute a decision."""
    return f"{x:.12g}"


def decision_inputs(
    p: VwapParams,
    vwap_indicator: AnchoredVwap,
    adx_indicator: Adx,
    guard: VolatilityGuard,
    position: ExitContext | None,
    price: str,
    source: str,
    now: int,
    *,
    rule: str,
) -> dict[str, str]:
    """Every number a decision was made on, as strings: stored with the signal for the audit."""
    vwap, sigma = vwap_indicator.vwap, vwap_indicator.sigma
    adx = adx_indicator.value
    inputs = {
        "rule": rule,
        "price": price,
        "price_source": source,
        "vwap": fmt_input(vwap) if vwap is not None else "",
        "sigma": fmt_input(sigma) if sigma is not None else "",
        "upper": fmt_input(vwap + p.band_k * sigma) if vwap is not None and sigma is not None else "",
        "lower": fmt_input(vwap - p.band_k * sigma) if vwap is not None and sigma is not None else "",
        "band_k": str(p.band_k),
        "exit_band_k": str(p.exit_band_k),
        "adx": fmt_input(adx) if adx is not None else "",
        "plus_di": fmt_input(adx_indicator.plus_di) if adx_indicator.plus_di is not None else "",
        "minus_di": fmt_input(adx_indicator.minus_di) if adx_indicator.minus_di is not None else "",
        "adx_max": str(p.adx_max),
        "candles_since_anchor": str(vwap_indicator.candles),
        "volatility_range_pct": fmt_input(guard.reading_at(now) * 100.0),
        "volatility_guard_until": str(guard.until_ms),
        "volatility_max_range_pct": str(p.volatility_max_range_pct),
    }
    if position is not None:
        inputs["position"] = position.side
        inputs["entry_price"] = str(position.entry)
        inputs["entry_time"] = str(position.entry_time)
        inputs["stop"] = fmt_input(position.stop)
        if position.levels is not None:
            inputs["exit_vwap"] = fmt_input(position.levels[0])
            inputs["exit_sigma"] = fmt_input(position.levels[1])
    return inputs


def entry_reason(
    p: VwapParams, action: SignalAction, close: Decimal, vwap: float, band: float, adx: float
) -> str:
    """Why an entry fired: the close beyond its band, and the ADX under its ceiling."""
    if action is SignalAction.OPEN_LONG:
        where = f"below lower band {fmt_float(band)} (VWAP {fmt_float(vwap)} − {p.band_k}σ)"
    else:
        where = f"above upper band {fmt_float(band)} (VWAP {fmt_float(vwap)} + {p.band_k}σ)"
    return f"close {close} {where}, ADX {adx:.1f} < {fmt_float(p.adx_max)}"


_NEVER_MS = 2**62  # max_holding_minutes = 0: no deadline


def pct_stop_price(p: VwapParams, side: PositionSide, entry: Decimal, tick: Decimal | None) -> float:
    """The % stop level; with `stop_on_tick` and a known tick, exact and rounded toward the entry
    (a long's stop up, a short's down), so the stop price is a tradable price never looser than
    `stop_loss_pct`."""
    long = side == "LONG"
    if p.stop_on_tick and tick is not None and tick > 0:
        fraction = Decimal(repr(p.stop_loss_pct)) / _HUNDRED
        raw = entry * (1 - fraction) if long else entry * (1 + fraction)
        units = (raw / tick).to_integral_value(rounding=ROUND_CEILING if long else ROUND_FLOOR)
        return float(units * tick)
    entry_f = float(entry)
    return entry_f * (1.0 - p.stop_loss_pct / 100.0) if long else entry_f * (1.0 + p.stop_loss_pct / 100.0)


def exit_levels(
    p: VwapParams,
    side: PositionSide,
    pct_stop: float,
    entry_time: int,
    levels: tuple[float, float] | None,
) -> tuple[float, float, int]:
    """(take profit, stop, deadline ms) for a position whose % stop is `pct_stop`
    (`pct_stop_price`); take profit is NaN before a mature VWAP."""
    long = side == "LONG"
    if levels is None:
        take_profit = float("nan")  # no mature VWAP yet: only the % stop and the clock
        stop = pct_stop
    else:
        vwap, sigma = levels
        take_profit = vwap
        if p.band_stop:
            band = vwap - p.exit_band_k * sigma if long else vwap + p.exit_band_k * sigma
            stop = max(pct_stop, band) if long else min(pct_stop, band)
        else:
            stop = pct_stop
    holding = p.max_holding_minutes
    deadline = entry_time + holding * _MINUTE_MS if holding > 0 else _NEVER_MS
    return take_profit, stop, deadline


@dataclass(frozen=True, slots=True)
class ExitContext:
    """The position and the thresholds an exit was judged against."""

    side: PositionSide
    entry: Decimal
    entry_time: int
    levels: tuple[float, float] | None
    stop: float
    take_profit: float


def exit_reason(
    p: VwapParams,
    ctx: ExitContext,
    price: Decimal,
    now: int,
    source: str,
    *,
    hit_stop: bool,
    expired: bool,
) -> tuple[str, str]:
    """(rule, reason) of a close: which rule fired, in words and numbers."""
    entry = ctx.entry
    side = ctx.side.lower()
    if hit_stop:
        limit = (
            entry * (1 - Decimal(str(p.stop_loss_pct)) / _HUNDRED)
            if side == "long"
            else (entry * (1 + Decimal(str(p.stop_loss_pct)) / _HUNDRED))
        )
        pct_hit = price <= limit if side == "long" else price >= limit
        if pct_hit or ctx.levels is None or not p.band_stop:
            moved = abs(price - entry) / entry * _HUNDRED
            rule = "stop_loss_pct"
            reason = (
                f"stop loss: {source} {price} is {moved:.2f}% {'below' if side == 'long' else 'above'} "
                f"the {side} entry {entry} (limit {fmt_float(p.stop_loss_pct)}%)"
            )
        else:
            vwap = ctx.levels[0]
            rule = "stop_loss_band"
            sign = "−" if side == "long" else "+"
            where = "below" if side == "long" else "above"
            reason = (
                f"stop loss: {source} {price} {where} outer band {fmt_float(ctx.stop)} "
                f"(VWAP {fmt_float(vwap)} {sign} {p.exit_band_k}σ), {side} from {entry}"
            )
    elif expired:
        rule = "max_holding"
        held = (now - ctx.entry_time) / _MINUTE_MS
        reason = (
            f"max holding time: {side} from {entry} held {held:.0f} min "
            f"(limit {p.max_holding_minutes} min), {source} {price}"
        )
    else:
        rule = "take_profit"
        reason = (
            f"take profit: {source} {price} back at VWAP {fmt_float(ctx.take_profit)}, {side} from {entry}"
        )
    return rule, reason
