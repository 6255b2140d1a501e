"""The VWAP strategy's volatility guard, state snapshots and live parameter edits."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.events import (
    Signal,
    SignalAction,
    VolatilityGuardTriggered,
)
from strategies.base import Output
from strategies.vwap import VwapStrategy
from tests.strategies._candles import MINUTE, SYMBOL, T0, candle, mark, ranging
from tests.strategies._vwap import (
    ENTRY_I,
    enter_long,
    entry_candle,
    feed,
    fill,
    level,
    make,
    signals,
    warmed,
)


def test_volatility_guard_blocks_entries_for_the_cooldown_with_one_event() -> None:
    strategy = warmed(volatility_max_range_pct=0.8, volatility_cooldown_seconds=120)
    t = T0 + ENTRY_I * MINUTE + 10_000
    outputs: list[Output] = []
    for k, price in enumerate([100.0, 100.5, 101.0, 101.5, 99.0, 101.8]):  # 1 % and more, twice
        outputs.extend(strategy.on_mark_price(mark(t + k * 1_000, price)))
    guard_events = [o for o in outputs if isinstance(o, VolatilityGuardTriggered)]
    assert len(guard_events) == 1
    event = guard_events[0]
    assert event.symbol == SYMBOL and event.strategy == "vwap"
    assert event.range_fraction > Decimal("0.008") and event.threshold == Decimal("0.008")
    assert event.event_time == t + 2_000
    last_breach = t + 5_000
    assert strategy.guard.until_ms == last_breach + 120_000

    # The entry candle closes inside the cool-down: blocked.
    assert strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5)) == []
    # Still blocked a minute later (cool-down runs from the *last* breach)...
    assert strategy.on_candle(entry_candle(strategy, ENTRY_I + 1, -2.5)) == []
    # ... and free after it.
    [signal] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I + 2, -2.5)))
    assert signal.action is SignalAction.OPEN_LONG
    assert float(signal.inputs["volatility_range_pct"]) == 0  # the breach is minutes old


def test_volatility_guard_lets_exits_through() -> None:
    strategy = warmed(volatility_cooldown_seconds=600)
    enter_long(strategy)
    t = T0 + (ENTRY_I + 1) * MINUTE
    outputs = strategy.on_candle_update(candle(ENTRY_I + 1, 99.0, closed=False, event_time=t + 1_000))
    outputs += strategy.on_candle_update(candle(ENTRY_I + 1, 101.0, closed=False, event_time=t + 2_000))
    kinds = [type(o) for o in outputs]
    assert VolatilityGuardTriggered in kinds  # 2 % within a second
    assert strategy.guard.active(t + 3_000)
    [close] = signals(outputs)  # 101 is above VWAP: take profit, guard or not
    assert close.action is SignalAction.CLOSE
    assert float(close.inputs["volatility_range_pct"]) > 0.8  # the reading that fired the guard


# --- lifecycle -------------------------------------------------------------------------------------


def test_snapshot_and_restore_give_the_same_decisions() -> None:
    history = ranging(0, ENTRY_I)
    original = warmed()
    enter_long(original)
    state = json.loads(json.dumps(original.snapshot_state()))  # survives JSON, as in the database

    restored = make()
    restored.restore_state(state)
    restored.on_start([*history, entry_candle(original, ENTRY_I, -2.5)])
    assert restored.position_side == "LONG"
    future = [candle(ENTRY_I + k, level(original, -1.0 + 0.1 * k), volume=1) for k in range(1, 20)]
    expected = feed(original, future)
    assert [s.signal_id for s in signals(expected)]  # the future does close the position
    assert feed(restored, future) == expected


def test_on_start_never_trades_on_history() -> None:
    strategy = make()
    history = [*ranging(0, ENTRY_I), candle(ENTRY_I, 95.0)]
    assert strategy.on_start(history) == []
    assert strategy.pending_action is None and strategy.adx.value is not None


def test_restore_refuses_an_unknown_state() -> None:
    with pytest.raises(ValueError):
        make().restore_state({"version": 99})


def test_entries_disabled_still_exits() -> None:
    strategy = warmed()
    strategy.entries_enabled = False
    assert strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5)) == []
    strategy.entries_enabled = True
    enter_long_at(strategy, ENTRY_I + 1)
    strategy.entries_enabled = False  # the symbol was removed from the config
    [close] = signals(strategy.on_candle(candle(ENTRY_I + 2, level(strategy, 0.1), volume=1)))
    assert close.action is SignalAction.CLOSE


def enter_long_at(strategy: VwapStrategy, i: int) -> Signal:
    [signal] = signals(strategy.on_candle(entry_candle(strategy, i, -2.5)))
    fill(strategy, signal)
    return signal


def test_update_params_changes_the_next_decision() -> None:
    strategy = warmed(band_k=2.8, exit_band_k=4.0)
    assert strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5)) == []  # inside the 2.8σ band
    strategy.update_params({"band_k": 2.0})
    [signal] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I + 1, -2.5)))
    assert signal.action is SignalAction.OPEN_LONG and signal.inputs["band_k"] == "2.0"


def test_update_params_rebuilds_indicators_for_a_new_period() -> None:
    candles = ranging(0, 200)
    strategy = make()
    feed(strategy, candles)
    strategy.update_params({"adx_period": 7})
    fresh = make(adx_period=7)
    feed(fresh, candles)
    assert strategy.adx.value == fresh.adx.value
    assert strategy.vwap.vwap == fresh.vwap.vwap


def test_order_notional_edit_applies_to_the_next_entry() -> None:
    strategy = warmed()
    strategy.order_notional = Decimal("150")
    [signal] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5)))
    assert signal.notional == Decimal("150")


def test_params_are_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        make(band_k=2.0, bandk=3.0)
    with pytest.raises(ValidationError):
        make(band_k=3.0, exit_band_k=2.0)
    with pytest.raises(ValidationError):
        make(adx_period=1)
    with pytest.raises(ValueError):
        VwapStrategy(SYMBOL, {}, order_notional=Decimal(0))
