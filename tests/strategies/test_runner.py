"""The per-symbol runner on the real bus: signals out, state saved and restored, bugs survived."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from structlog.testing import capture_logs

from core.bus import Bus
from core.events import Candle, PositionUpdate, Signal, SignalAction, VolatilityGuardTriggered
from strategies.base import Output
from strategies.runner import StrategyRunner
from strategies.vwap import VwapStrategy
from tests.strategies._candles import MINUTE, SYMBOL, T0, candle, mark, ranging
from utils.clock import ManualClock

HISTORY = ranging(0, 60)


class MemoryStateStore:
    """A StateStore in a dict; states go through JSON like the database's would."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], str] = {}
        self.saves = 0

    async def load(self, symbol: str, strategy: str) -> dict[str, Any] | None:
        raw = self.states.get((symbol, strategy))
        return None if raw is None else dict(json.loads(raw))

    async def save(self, symbol: str, strategy: str, state: dict[str, Any]) -> None:
        self.states[(symbol, strategy)] = json.dumps(state)
        self.saves += 1


class Flaky(VwapStrategy):
    """The real strategy with a bug on one candle."""

    boom_time = T0 + 61 * MINUTE

    def on_candle(self, candle: Candle) -> list[Output]:
        if candle.open_time == self.boom_time:
            raise RuntimeError("boom")
        return super().on_candle(candle)


def _below(strategy: VwapStrategy, i: int, k: float = -2.5) -> Candle:
    vwap, sigma = strategy.vwap.vwap, strategy.vwap.sigma
    assert vwap is not None and sigma is not None
    return candle(i, round(vwap + k * sigma, 4), volume=1)


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(2.0):
        while not predicate():
            await asyncio.sleep(0.005)


async def _started(strategy: VwapStrategy, bus: Bus, store: MemoryStateStore) -> tuple[StrategyRunner, Any]:
    runner = StrategyRunner(strategy, bus, ManualClock(T0 + 61 * MINUTE), store)
    await runner.prepare(HISTORY)
    return runner, asyncio.create_task(runner.run())


async def test_signals_on_the_symbol_topic_and_state_saved_then_restored() -> None:
    bus = Bus()
    store = MemoryStateStore()
    signals = bus.subscribe(f"signal.{SYMBOL}")
    other = bus.subscribe("signal.*")
    runner, task = await _started(VwapStrategy(SYMBOL, {}, order_notional=Decimal(200)), bus, store)

    bus.publish(f"market.{SYMBOL}", HISTORY[-1])  # the last warm-up candle again: handled once only
    entry = _below(runner.strategy, 60)  # type: ignore[arg-type]
    bus.publish(f"market.{SYMBOL}", entry)
    signal = await asyncio.wait_for(signals.get(), 2)
    assert isinstance(signal, Signal) and signal.action is SignalAction.OPEN_LONG
    assert signal.price == entry.close
    assert (await asyncio.wait_for(other.get(), 2)) is signal
    assert runner.candles == 1 and runner.signals == 1

    # A fill for another symbol changes nothing; ours opens the position and is saved.
    bus.publish("position.update", PositionUpdate("ADAUSDT", Decimal(5), Decimal("0.3"), Decimal(0), T0))
    bus.publish(
        "position.update", PositionUpdate(SYMBOL, Decimal(2), entry.close, Decimal(0), entry.close_time)
    )
    await _until(lambda: '"LONG"' in store.states.get((SYMBOL, "vwap"), ""))
    status = runner.status()
    assert status["running"] and status["signals"] == 1 and status["errors"] == 0
    assert status["state"]["side"] == "LONG"

    await runner.stop()
    await asyncio.wait_for(task, 2)
    assert not runner.status()["running"]

    # A restart: the new strategy instance learns it is long from the store.
    restarted, task2 = await _started(VwapStrategy(SYMBOL, {}, order_notional=Decimal(200)), bus, store)
    assert restarted.strategy.position_side == "LONG"  # type: ignore[attr-defined]
    vwap = restarted.strategy.vwap.vwap  # type: ignore[attr-defined]
    bus.publish(f"market.{SYMBOL}", candle(61, round(vwap + 0.05, 4), volume=1))
    close = await asyncio.wait_for(signals.get(), 2)
    assert close.action is SignalAction.CLOSE and close.inputs["entry_price"] == str(entry.close)
    await restarted.stop()
    await asyncio.wait_for(task2, 2)


async def test_a_hook_that_raises_is_logged_counted_and_skipped() -> None:
    bus = Bus()
    signals = bus.subscribe(f"signal.{SYMBOL}")
    strategy = Flaky(SYMBOL, {}, order_notional=Decimal(200))
    with capture_logs() as logs:
        runner, task = await _started(strategy, bus, MemoryStateStore())
        bus.publish(f"market.{SYMBOL}", candle(60, 100.0))
        bus.publish(f"market.{SYMBOL}", _below(strategy, 61))  # the buggy candle
        bus.publish(f"market.{SYMBOL}", _below(strategy, 62))
        signal = await asyncio.wait_for(signals.get(), 2)
        await runner.stop()
        await asyncio.wait_for(task, 2)
    assert signal.signal_id == f"{SYMBOL}:vwap:OPEN_LONG:{T0 + 62 * MINUTE}"
    assert runner.errors == 1 and "boom" in runner.last_error
    [failure] = [entry for entry in logs if entry["event"] == "strategy.hook_failed"]
    assert failure["symbol"] == SYMBOL and failure["hook"] == "on_candle" and "boom" in failure["error"]
    assert failure["log_level"] == "error"


async def test_guard_events_go_to_strategy_event_and_live_updates_reach_the_strategy() -> None:
    bus = Bus()
    events = bus.subscribe("strategy.event")
    runner, task = await _started(
        VwapStrategy(SYMBOL, {}, order_notional=Decimal(200)), bus, MemoryStateStore()
    )
    t = T0 + 61 * MINUTE
    bus.publish(f"market.{SYMBOL}", mark(t, 100.0))
    await _until(lambda: runner.events >= 1)
    bus.publish(f"market.{SYMBOL}", mark(t + 1_000, 101.5))
    event = await asyncio.wait_for(events.get(), 2)
    assert isinstance(event, VolatilityGuardTriggered) and event.symbol == SYMBOL
    bus.publish(f"market.{SYMBOL}", candle(61, 100.0, closed=False, event_time=t + 2_000))
    await _until(lambda: runner.events >= 3)
    assert runner.guard_events == 1 and runner.last_event_time == t + 2_000
    await runner.stop()
    await asyncio.wait_for(task, 2)


async def test_cancelling_the_task_ends_it_cleanly_and_saves() -> None:
    bus = Bus()
    store = MemoryStateStore()
    runner, task = await _started(VwapStrategy(SYMBOL, {}, order_notional=Decimal(200)), bus, store)
    bus.publish("position.update", PositionUpdate(SYMBOL, Decimal(-1), Decimal(100), Decimal(0), T0))
    await _until(lambda: runner.events >= 1)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    assert done and task.cancelled()
    assert '"SHORT"' in store.states[(SYMBOL, "vwap")]
    assert runner.status()["queue_depth"] == 0
