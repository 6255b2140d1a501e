"""A replay of real WLDUSDT klines: signals in both directions, a sane count, and determinism."""

from __future__ import annotations

import itertools
from decimal import Decimal

from core.events import Candle, PositionUpdate, Signal, SignalAction
from strategies.vwap import VwapStrategy
from tests.strategies._candles import SYMBOL, load_candles, real_data_path

PARAMS = {"band_k": 2.0, "exit_band_k": 3.0, "adx_period": 14, "adx_max": 20, "min_candles_after_anchor": 30}


def replay(candles: list[Candle]) -> list[Signal]:
    """Every signal of one run; an entry fills at its price and a CLOSE flattens at once."""
    strategy = VwapStrategy(SYMBOL, PARAMS, order_notional=Decimal(200))
    out: list[Signal] = []
    for c in candles:
        for o in strategy.on_candle(c):
            assert isinstance(o, Signal)
            out.append(o)
            if o.action is SignalAction.OPEN_LONG:
                qty = Decimal(1)
            elif o.action is SignalAction.OPEN_SHORT:
                qty = Decimal(-1)
            else:
                qty = Decimal(0)
            strategy.on_position(PositionUpdate(SYMBOL, qty, o.price, Decimal(0), o.event_time))
    return out


def test_real_data_replay_is_sane_and_deterministic() -> None:
    candles = load_candles(real_data_path())
    first = replay(candles)
    second = replay(candles)
    assert first == second  # same ids, reasons, inputs: a restart replays to the same intents

    actions = [s.action for s in first]
    assert SignalAction.OPEN_LONG in actions and SignalAction.OPEN_SHORT in actions
    assert SignalAction.CLOSE in actions
    entries = [s for s in first if s.action.is_entry]
    # Mean reversion on 3m bars with a 2σ band and an ADX filter trades a few times a day, not on
    # every bar: at least one round trip, at most one entry per 20 candles.
    assert 1 <= len(entries) <= len(candles) / 20
    # Strict alternation: never two entries without a CLOSE between them, never a CLOSE when flat.
    for a, b in itertools.pairwise(actions):
        assert a.is_entry != b.is_entry
    assert len({s.signal_id for s in first}) == len(first)
    for s in first:
        assert isinstance(s.price, Decimal) and s.reason
        assert s.inputs["vwap"] and s.inputs["sigma"] and s.inputs["adx"]
        if s.action.is_entry:
            assert s.notional == Decimal(200)
            assert float(s.inputs["adx"]) < 20
