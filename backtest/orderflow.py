"""What a backtest's decisions do: signals to the risk judge, orders to the venue, venue events
back to the strategies; the end-of-run close ("force"); the day-end equity marks.

`OrderFlow` is the base of `backtest.runner.Backtest`, which owns the loop and sets every attribute
declared here; `SymbolRun` is one symbol's strategy, candles and price path; `Record` is what the
report is built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from backtest.intrabar import Grid
from backtest.series import BarSeries, PathPrices, bar_candle
from backtest.venue import BacktestVenue, VenueEvent
from config.models import TraderConfig
from core.events import (
    Candle,
    MarkPrice,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    Signal,
    SignalAction,
    VolatilityGuardTriggered,
)
from executor.risk.judge import RiskJudge
from strategies.base import Strategy


class SimClock:
    """The backtest's one clock for market and network: it moves only when the loop moves it."""

    speed = 1.0

    def __init__(self, now: int) -> None:
        self.now = now

    def now_ms(self) -> int:
        return self.now

    def monotonic(self) -> float:
        return self.now / 1000

    async def sleep(self, seconds: float) -> None:  # nothing in a backtest waits
        self.now += int(seconds * 1000)


@dataclass(slots=True)
class SymbolRun:
    """One symbol: its strategy, candles and price path."""

    strategy: Strategy
    series: BarSeries
    path: PathPrices
    guard: tuple[int, float] | None  # (window ms, max range) when the strategy's guard listens


@dataclass(slots=True)
class Record:
    """Everything a backtest decided and did, for the report."""

    signals: list[Signal] = field(default_factory=list)
    decisions: list[RiskDecision] = field(default_factory=list)
    guard_events: list[VolatilityGuardTriggered] = field(default_factory=list)
    order_updates: list[OrderUpdate] = field(default_factory=list)
    equity: list[tuple[int, Decimal]] = field(default_factory=list)  # (time, equity) at each day's end


class OrderFlow:
    """Outputs of the strategies through the risk judge and the venue (see the module docstring)."""

    config: TraderConfig
    clock: SimClock
    paths: dict[str, PathPrices]
    venue: BacktestVenue
    judge: RiskJudge
    samples: Grid
    record: Record
    runs: dict[str, SymbolRun]
    # While not None, venue events wait here: at one instant the stream's updates reach the
    # strategy before that instant's fills, as in the daemon (the simulator sends market data first).
    _held: list[VenueEvent] | None = None

    # --- decisions and orders -----------------------------------------------------------------------

    def _mark(self, run: SymbolRun, t: int) -> MarkPrice:
        price = run.path.price_at(t)
        engine = self.venue.engine
        nxt = engine.next_funding_time(run.series.symbol, t)
        return MarkPrice(run.series.symbol, price, price, engine.funding_rate(run.series.symbol, nxt), nxt, t)

    def _act(self, run: SymbolRun, outputs: list[Signal | VolatilityGuardTriggered], now: int) -> None:
        record = self.record
        for output in outputs:
            if type(output) is not Signal:
                assert isinstance(output, VolatilityGuardTriggered)
                record.guard_events.append(output)
                self._deliver(run, self.venue.cancel_entries(output.symbol, now, "volatility guard"), now)
                continue
            record.signals.append(output)
            mark_time = (now - 1) - (now - 1) % self.samples.mark_ms  # the newest before now: risk/state.py
            mark = self._mark(run, mark_time)
            self.judge.state.on_mark(mark)
            decision, requests = self.judge.judge(output)
            record.decisions.append(decision)
            followups = run.strategy.on_risk_decision(decision)
            for request in requests:
                self._deliver(run, self.venue.submit(request, now, mark.mark_price), now)
            if followups:
                self._act(run, followups, now)

    def _release(self, run: SymbolRun, now: int) -> None:
        held, self._held = self._held, None
        if held:
            self._deliver(run, held, now)

    def _deliver(self, run: SymbolRun, events: list[VenueEvent], now: int) -> None:
        if self._held is not None:
            self._held.extend(events)
            return
        for event in events:
            owner = self.runs.get(event.symbol, run)
            if type(event) is OrderUpdate:
                self.record.order_updates.append(event)
                self.judge.state.on_order_update(event)
                outputs = owner.strategy.on_order_update(event)
            else:
                assert isinstance(event, PositionUpdate)
                self.judge.on_position(event)
                outputs = owner.strategy.on_position(event)
            if outputs:
                self._act(owner, outputs, now)

    def _force_close(self, run: SymbolRun, t: int) -> None:
        symbol = run.series.symbol
        if self.venue.has_resting:
            self._deliver(run, self.venue.advance(t), t)
            for order in list(self.venue.live.values()):
                if order.symbol == symbol:
                    order.expire_time = t
            self._deliver(run, self.venue.expire(t), t)
        if self.venue.position(symbol).quantity == 0:
            return
        price = run.path.price_at(t)
        signal = Signal(
            signal_id=f"{symbol}:backtest:force:{t}",
            symbol=symbol,
            strategy=run.strategy.name,
            action=SignalAction.CLOSE,
            reason=f"end of the backtest: the position is closed at the last candle's open {price}",
            price=price,
            event_time=t,
            inputs={"rule": "force", "price": str(price), "price_source": "open"},
        )
        self._act(run, [signal], t)

    # --- equity ---------------------------------------------------------------------------------------

    @staticmethod
    def _day_end(t: int) -> int:
        return t - t % 86_400_000 + 86_400_000

    def _mark_equity(self, t: int) -> None:
        engine = self.venue.engine
        wallet = engine.account.wallet
        unrealized = Decimal(0)
        for position in engine.account.positions():
            if position.amount:
                unrealized += engine.account.unrealized(
                    position.symbol, self.paths[position.symbol].price_at(t - 1)
                )
        self.record.equity.append((t, wallet + unrealized))

    def _candle(self, s: BarSeries, i: int) -> Candle:
        bar = s.bar(i)
        return bar_candle(s.symbol, bar, closed=True, event_time=bar.close_time + 1)


__all__ = ["OrderFlow", "Record", "SimClock", "SymbolRun"]
