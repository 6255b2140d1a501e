"""Helpers shared by the VWAP strategy tests: a warmed-up strategy, band levels, fills."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.events import (
    Candle,
    PositionUpdate,
    Signal,
    SignalAction,
)
from strategies.base import Output
from strategies.vwap import VwapStrategy
from tests.strategies._candles import SYMBOL, candle, ranging

NOTIONAL = Decimal("200")
ENTRY_I = 60  # the first candle after the 60-candle ranging warm-up (00:00 - 00:59 UTC)


def make(**params: Any) -> VwapStrategy:
    return VwapStrategy(SYMBOL, params, order_notional=NOTIONAL)


def feed(strategy: VwapStrategy, candles: list[Candle]) -> list[Output]:
    out: list[Output] = []
    for c in candles:
        out.extend(strategy.on_candle(c))
    return out


def signals(outputs: list[Output]) -> list[Signal]:
    return [o for o in outputs if isinstance(o, Signal)]


def warmed(**params: Any) -> VwapStrategy:
    strategy = make(**params)
    assert feed(strategy, ranging(0, ENTRY_I)) == []
    adx = strategy.adx.value
    assert adx is not None and adx < 20  # the ranging series is a sideways market
    return strategy


def level(strategy: VwapStrategy, k: float) -> float:
    """The price k·σ from the current VWAP (negative k: below)."""
    vwap, sigma = strategy.vwap.vwap, strategy.vwap.sigma
    assert vwap is not None and sigma is not None
    return round(vwap + k * sigma, 4)


def entry_candle(strategy: VwapStrategy, i: int, k: float) -> Candle:
    # A tiny volume: the candle barely moves VWAP and σ, so "k·σ away" stays true after it counts.
    return candle(i, level(strategy, k), volume=1)


def fill(strategy: VwapStrategy, signal: Signal) -> None:
    qty = Decimal(1) if signal.action is SignalAction.OPEN_LONG else Decimal(-1)
    strategy.on_position(PositionUpdate(SYMBOL, qty, signal.price, Decimal(0), signal.event_time))


def enter_long(strategy: VwapStrategy) -> Signal:
    [signal] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5)))
    assert signal.action is SignalAction.OPEN_LONG
    fill(strategy, signal)
    assert strategy.position_side == "LONG" and strategy.pending_action is None
    return signal


# --- entries ---------------------------------------------------------------------------------------
