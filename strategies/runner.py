"""One asyncio task per symbol: feed a strategy its events, publish what it decides, persist its state.

The runner owns all I/O around a `Strategy` (which does none):

- it subscribes to `market.<SYMBOL>` (Candle, MarkPrice; conflating) and to the lossless
  `order.update`, `position.update` and `risk.decision` channels (filtered to its symbol);
- order, position and risk events are handled before the next market event, so a fill is known
  before the next candle is judged;
- closed candles reach the strategy once each, in time order (a candle already in the warm-up
  history, or replayed, is skipped);
- outputs go to `signal.<SYMBOL>` (Signal) and `strategy.event` (VolatilityGuardTriggered);
- `snapshot_state()` is saved through the `StateStore` after every closed candle and every order,
  position or risk event, when it changed;
- a hook that raises is logged as a `StrategyError` naming the symbol, counted, and that event is
  skipped: the task never dies of a strategy bug and never goes quiet without a trace;
- counters for the heartbeat: `status()`.

Use: `runner = StrategyRunner(strategy, bus, clock, store)`, `await runner.prepare(history)`, then run
`runner.run()` as a task; `await runner.stop()` (or cancelling the task) ends it cleanly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog

from core import channels
from core.bus import Bus, Subscription
from core.errors import StrategyError
from core.events import (
    Candle,
    MarkPrice,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    Signal,
    VolatilityGuardTriggered,
)
from strategies.base import Output, Strategy
from utils.clock import Clock
from utils.latency import DECISION_LATENCY

_log = structlog.get_logger(__name__)

_YIELD_EVERY = 256  # events handled back to back before giving other tasks a turn


class StateStore(Protocol):
    """Where a strategy's `snapshot_state()` survives a restart (the daemon's is the database)."""

    async def load(self, symbol: str, strategy: str) -> dict[str, Any] | None:
        """The last saved state of (symbol, strategy), or None."""
        ...

    async def save(self, symbol: str, strategy: str, state: dict[str, Any]) -> None:
        """Replace the saved state of (symbol, strategy)."""
        ...


class StrategyRunner:
    """Runs one strategy instance (one symbol) against the bus; see the module docstring."""

    def __init__(self, strategy: Strategy, bus: Bus, clock: Clock, state_store: StateStore) -> None:
        self.strategy = strategy
        self.symbol = strategy.symbol
        self._bus = bus
        self._clock = clock
        self._store = state_store
        self._signal_topic = channels.signal(self.symbol)
        self._subs: tuple[Subscription, ...] = ()
        self._wake = asyncio.Event()
        self._prepared = False
        self._stopping = False
        self._running = False
        self._last_closed_open_time = -1
        self._last_saved: dict[str, Any] | None = None
        # counters for the heartbeat
        self.events = 0
        self.candles = 0
        self.signals = 0
        self.guard_events = 0
        self.errors = 0
        self.save_errors = 0
        self.last_error = ""
        self.last_event_time = 0  # the venue time of the newest event handled
        self.last_handled_ms = 0  # our clock when it was handled
        self.last_signal_id = ""
        # When the event in hand was published and taken (message-to-decision latency).
        self._queued_ms = 0.0
        self._taken_ns = 0

    # --- lifecycle ----------------------------------------------------------------------------------

    async def prepare(self, history: Sequence[Candle] = ()) -> None:
        """Subscribe, restore the saved state and warm the strategy up with closed candles.

        Subscribing comes first so that nothing published while the state loads is missed; a closed
        candle that is both in `history` and queued is handed to the strategy only once.
        """
        if self._prepared:
            raise RuntimeError(f"runner for {self.symbol} prepared twice")
        self._prepared = True
        name = self.strategy.name
        label = f"strategy.{self.symbol}"
        self._subs = (
            self._bus.subscribe(channels.ORDER_UPDATE, name=f"{label}.orders"),
            self._bus.subscribe(channels.POSITION_UPDATE, name=f"{label}.positions"),
            self._bus.subscribe(channels.RISK_DECISION, name=f"{label}.risk"),
            self._bus.subscribe(channels.market(self.symbol), name=label),
        )
        for sub in self._subs:
            sub.set_notify(self._wake.set)
        try:
            saved = await self._store.load(self.symbol, name)
        except Exception as exc:
            saved = None
            self.save_errors += 1
            _log.error("strategy.state_load_failed", symbol=self.symbol, strategy=name, error=repr(exc))
        if saved:
            self._call("restore_state", self.strategy.restore_state, saved)
            _log.info("strategy.state_restored", symbol=self.symbol, strategy=name, state=saved)
        candles = [c for c in history if c.closed]
        self._publish(self._call("on_start", self.strategy.on_start, candles))
        if candles:
            self._last_closed_open_time = max(c.open_time for c in candles)
        self._last_saved = saved

    async def run(self) -> None:
        """Handle events until `stop()` or cancellation; calls `prepare()` if nobody did."""
        if not self._prepared:
            await self.prepare()
        self._running = True
        _log.info("strategy.started", symbol=self.symbol, strategy=self.strategy.name)
        try:
            streak = 0
            while not self._stopping:
                event = self._poll()
                if event is None:
                    await self._wait_any()
                    streak = 0
                    continue
                if await self._handle(event):
                    streak = 0  # _handle awaited (persisted): others had their turn
                else:
                    streak += 1
                    if streak >= _YIELD_EVERY:
                        streak = 0
                        await asyncio.sleep(0)
        finally:
            self._running = False
            await self._shutdown()

    async def stop(self) -> None:
        """End `run()` after the event in hand; the state is saved and `on_stop` called."""
        self._stopping = True
        for sub in self._subs:
            sub.close()  # wakes a waiting get() with SubscriptionClosed

    async def _shutdown(self) -> None:
        for sub in self._subs:
            sub.close()
        self._call("on_stop", self.strategy.on_stop)
        await self._persist()
        _log.info("strategy.stopped", symbol=self.symbol, strategy=self.strategy.name, **self._counters())

    # --- the event loop ----------------------------------------------------------------------------

    def _poll(self) -> object | None:
        """The next event without waiting, or None. Control channels come before market data."""
        for sub in self._subs:
            if len(sub):
                try:
                    event: object = sub.get_nowait()
                    self._queued_ms, self._taken_ns = sub.stats.last_lag_ms, time.perf_counter_ns()
                    return event
                except asyncio.QueueEmpty:  # only conflated-away slots were left
                    continue
        if any(sub.closed for sub in self._subs):
            self._stopping = True
        return None

    async def _wait_any(self) -> None:
        """Sleep until any subscription has an event: every subscription sets one shared wake-up."""
        self._wake.clear()
        if self._stopping or any(len(sub) for sub in self._subs):
            return
        await self._wake.wait()

    async def _handle(self, event: object) -> bool:
        """Dispatch one event; True when it awaited (persisted the state)."""
        strategy = self.strategy
        kind = type(event)
        if kind is MarkPrice:
            assert isinstance(event, MarkPrice)
            self._seen(event.event_time)
            self._publish(self._call("on_mark_price", strategy.on_mark_price, event))
            self._decided()
            return False
        if kind is Candle:
            assert isinstance(event, Candle)
            self._seen(event.event_time)
            if not event.closed:
                self._publish(self._call("on_candle_update", strategy.on_candle_update, event))
                self._decided()
                return False
            if event.open_time <= self._last_closed_open_time:
                return False  # already seen (warm-up overlap or a replayed final bar)
            self._last_closed_open_time = event.open_time
            self.candles += 1
            self._publish(self._call("on_candle", strategy.on_candle, event))
            self._decided()
        elif kind is OrderUpdate:
            assert isinstance(event, OrderUpdate)
            if event.symbol != self.symbol:
                return False
            self._seen(event.event_time)
            self._publish(self._call("on_order_update", strategy.on_order_update, event))
        elif kind is PositionUpdate:
            assert isinstance(event, PositionUpdate)
            if event.symbol != self.symbol:
                return False
            self._seen(event.event_time)
            self._publish(self._call("on_position", strategy.on_position, event))
        elif kind is RiskDecision:
            assert isinstance(event, RiskDecision)
            if event.symbol != self.symbol:
                return False
            self._seen(event.event_time)
            self._publish(self._call("on_risk_decision", strategy.on_risk_decision, event))
        else:
            self.errors += 1
            _log.warning("strategy.unexpected_event", symbol=self.symbol, type=kind.__name__)
            return False
        await self._persist()
        return True

    def _decided(self) -> None:
        # Published by the stream's reader -> taken here -> the strategy's outputs published.
        DECISION_LATENCY.add(self._queued_ms + (time.perf_counter_ns() - self._taken_ns) / 1e6)

    def _seen(self, event_time: int) -> None:
        self.events += 1
        self.last_event_time = event_time
        self.last_handled_ms = self._clock.now_ms()

    def _call(self, hook: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a strategy hook; an exception becomes a logged, counted StrategyError."""
        try:
            return fn(*args)
        except Exception as exc:
            error = StrategyError(self.symbol, self.strategy.name, exc)
            self.errors += 1
            self.last_error = f"{hook}: {error}"
            _log.error(
                "strategy.hook_failed",
                symbol=self.symbol,
                strategy=self.strategy.name,
                hook=hook,
                error=str(error),
                exc_info=exc,
            )
            return None

    def _publish(self, outputs: list[Output] | None) -> None:
        if not outputs:
            return
        for output in outputs:
            if type(output) is Signal:
                self.signals += 1
                self.last_signal_id = output.signal_id
                _log.info(
                    "strategy.signal",
                    symbol=self.symbol,
                    strategy=output.strategy,
                    signal_id=output.signal_id,
                    action=output.action.value,
                    price=str(output.price),
                    reason=output.reason,
                )
                self._bus.publish(self._signal_topic, output)
            elif type(output) is VolatilityGuardTriggered:
                self.guard_events += 1
                _log.warning(
                    "strategy.volatility_guard",
                    symbol=self.symbol,
                    strategy=output.strategy,
                    range_fraction=str(output.range_fraction),
                    threshold=str(output.threshold),
                    until_time=output.until_time,
                )
                self._bus.publish(channels.STRATEGY_EVENT, output)
            else:
                self.errors += 1
                _log.error("strategy.bad_output", symbol=self.symbol, type=type(output).__name__)

    async def _persist(self) -> None:
        """Save the strategy's state when it changed; a failed save is logged and retried next time."""
        state = self._call("snapshot_state", self.strategy.snapshot_state)
        if state is None or state == self._last_saved:
            return
        try:
            await self._store.save(self.symbol, self.strategy.name, state)
        except Exception as exc:
            self.save_errors += 1
            _log.error(
                "strategy.state_save_failed", symbol=self.symbol, strategy=self.strategy.name, error=repr(exc)
            )
            return
        self._last_saved = state

    # --- heartbeat ----------------------------------------------------------------------------------

    @property
    def last_closed_open_time(self) -> int | None:
        """Open time of the newest closed candle the strategy has seen (None before the first)."""
        return self._last_closed_open_time if self._last_closed_open_time >= 0 else None

    def _counters(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "candles": self.candles,
            "signals": self.signals,
            "guard_events": self.guard_events,
            "errors": self.errors,
            "save_errors": self.save_errors,
        }

    def status(self) -> dict[str, Any]:
        """JSON-ready counters and state for heartbeat.json."""
        return {
            "strategy": self.strategy.name,
            "running": self._running,
            "entries_enabled": self.strategy.entries_enabled,
            **self._counters(),
            "last_error": self.last_error,
            "last_event_time": self.last_event_time,
            "last_handled_ms": self.last_handled_ms,
            "last_signal_id": self.last_signal_id,
            "queue_depth": sum(len(s) for s in self._subs),
            "state": self._last_saved,
        }
