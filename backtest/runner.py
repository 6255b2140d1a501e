"""The backtest loop: candles in time order through the live strategy, risk and order code.

At each candle's open instant `t`, for each symbol (in name order, one shared account):

1. the previous candle closes: `strategy.on_bar(...)` (what `on_candle` runs in the daemon when
   the final kline arrives, at `t`); its signals go to the risk judge (`executor/risk/judge.py`)
   and accepted orders to the venue (`backtest/venue.py`), which fills them on the matching engine
   at `t`: a decision on a closed candle acts at the next candle's open;
2. the new candle unfolds (`backtest/intrabar.py`): live updates at the stream's cadence where
   they can matter (live exits, the volatility guard), resting orders matched on the path, TTLs.
At one instant `t` the stream's updates reach the strategy before the fills at `t` (held in
`_held`), as in the daemon: the simulator sends an instant's market data first.

Time is a simulated clock that jumps from event to event: no sleeps, no wall clock. The first
`engine.warmup_candles` candles are history (`on_start`), as the daemon warms up from candles_1m.
At the last candle's open, entries stop and what is still open is closed ("force").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from backtest.intrabar import Grid, first_moment, guard_may_fire
from backtest.series import BarSeries, PathPrices
from backtest.sim_clock import SimClock
from backtest.venue import BacktestVenue, VenueEvent
from config.models import TraderConfig
from core.events import (
    Candle,
    MarkPrice,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    Signal,
    SignalAction,
    VolatilityGuardTriggered,
)
from core.instruments import Instrument
from executor.risk.judge import RiskJudge
from simulator.bars import partial_bar
from simulator.engine import MatchingEngine
from simulator.engine_types import EngineConfig
from simulator.funding import FundingSchedule
from strategies.base import Strategy
from strategies.registry import get_strategy

_BPS = Decimal(10_000)
Progress = Callable[[int], None]


@dataclass(slots=True)
class _Run:
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


class Backtest:
    """One run over `series` (symbol -> candles) with the configuration's strategies and limits."""

    def __init__(
        self,
        config: TraderConfig,
        series: Mapping[str, BarSeries],
        instruments: Mapping[str, Instrument],
        *,
        funding: FundingSchedule | None = None,
        funding_rate: Decimal = Decimal(0),
    ) -> None:
        self.config = config
        bt = config.backtest
        start = min(s.first_open_time for s in series.values())
        self.clock = SimClock(start)
        self.paths = {symbol: PathPrices(s) for symbol, s in sorted(series.items())}
        engine = MatchingEngine(
            {s: instruments[s] for s in self.paths},
            self.paths,
            EngineConfig(
                starting_balance=config.simulator.starting_balance_usdt,
                maker_fee=bt.maker_fee_bps / _BPS,
                taker_fee=bt.taker_fee_bps / _BPS,
                slippage_bps=bt.slippage_bps,
                default_leverage=config.engine.leverage,
                default_funding_rate=funding_rate,
            ),
            start,
            funding=funding,
        )
        self.venue = BacktestVenue(engine, instruments, order_ttl_ms=config.engine.order_ttl_seconds * 1000)
        self.judge = RiskJudge(
            self.clock,
            instruments,
            limits_for=config.risk_for,
            starting_equity=config.simulator.starting_balance_usdt,
            entry_order_type=OrderType(config.engine.entry_order_type),
        )
        self.samples = Grid(bt.kline_update_ms, bt.mark_update_ms)
        self.engine_grid = Grid(bt.kline_update_ms, bt.mark_update_ms, minutes=True)
        self.record = Record()
        self._funding_due = 0  # the next funding time the engine must be moved through
        self._held: list[VenueEvent] | None = None  # while not None, venue events wait here
        self.runs: dict[str, _Run] = {}
        for entry in config.symbols:
            if entry.symbol not in series:
                continue
            strategy = get_strategy(entry.strategy)(
                entry.symbol, entry.validated_params, order_notional=entry.order_notional_usdt
            )
            strategy.tick_size = instruments[entry.symbol].tick_size
            band = strategy.quiet_band()
            guard = None
            if band is not None and band.guard_range is not None:
                window = float(getattr(strategy.params, "volatility_window_seconds", 5.0))
                guard = (int(window * 1000), band.guard_range)
            self.runs[entry.symbol] = _Run(strategy, series[entry.symbol], self.paths[entry.symbol], guard)

    # --- the loop -----------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> Record:
        """Replay every candle; `progress(bars_done)` is called now and then."""
        warmup = self.config.engine.warmup_candles
        for run in self.runs.values():
            s = run.series
            history = [self._candle(s, i) for i in range(min(warmup, len(s)))]
            run.strategy.on_start(history)
        instants = self._instants()
        # Per symbol, what the loop reads for every candle, bound once (attribute look-ups add up).
        local = {
            symbol: (
                run,
                run.strategy,
                run.strategy.on_bar,
                run.series.open_times,
                run.series.highs,
                run.series.lows,
                run.series.closes,
                run.series.volumes,
                run.series.interval_ms - 1,
                len(run.series) - 1,
                run.guard is not None,
            )
            for symbol, run in self.runs.items()
        }
        clock = self.clock
        venue = self.venue
        done = 0
        day_end = self._day_end(clock.now)
        for t, symbol, i in instants:
            run, strategy, on_bar, times, highs, lows, closes, volumes, span, last, guard = local[symbol]
            clock.now = t
            if t >= day_end:
                self._mark_equity(day_end)
                day_end = self._day_end(t)
            if i == last:
                strategy.entries_enabled = False  # no entry on the last candle
            start = t
            if i > warmup:
                # The previous candle closes now: what `on_candle` does when its final kline arrives.
                j = i - 1
                held: list[VenueEvent] | None = None
                if venue.live or (t >= self._funding_due and strategy.position_side is not None):
                    self._held = held = []
                    self._deliver(run, venue.advance(t), t)
                    self._funding_due = venue.engine.next_funding_time(symbol, t)
                outputs = on_bar(times[j], times[j] + span, t, highs[j], lows[j], closes[j], volumes[j])
                if outputs:
                    if held is None:
                        self._held = held = []
                    self._act(run, outputs, t)
                if held is not None:
                    if held and i != last and self.samples.at(t):
                        self._speak(run, i, t)  # the updates at t, before the fills at t
                        start = t + 1
                    self._release(run, t)
            if i == last:
                self._force_close(run, t)
            elif guard or venue.live or strategy.position_side is not None:
                self._unfold(run, i, t, start)
            done += 1
            if progress is not None and not done & 0x3FFF:
                progress(done)
        if progress is not None:
            progress(done)
        self._mark_equity(clock.now)
        return self.record

    def _instants(self) -> list[tuple[int, str, int]]:
        if len(self.runs) == 1:
            ((symbol, run),) = self.runs.items()
            return [(t, symbol, i) for i, t in enumerate(run.series.open_times)]
        merged = heapq.merge(
            *(
                [(t, symbol, i) for i, t in enumerate(run.series.open_times)]
                for symbol, run in sorted(self.runs.items())
            )
        )
        return list(merged)

    def _unfold(self, run: _Run, i: int, t: int, start: int) -> None:
        """Candle `i` (open `t`) from `start` to its last millisecond: the moments that can matter."""
        strategy = run.strategy
        resting = self.venue.has_resting
        s = run.series
        end = t + s.interval_ms
        full = resting
        if not full and run.guard is not None and i > 0:
            window, max_range = run.guard
            full = guard_may_fire(
                (s.opens[i], s.highs[i], s.lows[i]),
                (s.closes[i - 1], s.highs[i - 1], s.lows[i - 1]),
                float(s.tick),
                s.interval_ms,
                window,
                max_range,
            )
        if full:
            self._every_moment(run, i, start, end)
            return
        while start < end:
            band = strategy.quiet_band()
            if band is None:
                self._every_moment(run, i, start, end)
                return
            if band.low < s.lows[i] and s.highs[i] < band.high and end <= band.until_ms:
                return
            moment = first_moment(s.bar(i), s.tick, self.samples, start, band)
            if moment is None:
                return
            self._speak(run, i, moment)
            start = moment + 1

    def _every_moment(self, run: _Run, i: int, start: int, end: int) -> None:
        venue = self.venue
        grid = self.engine_grid
        t = grid.at_or_after(start)
        while t < end:
            expiry = venue.next_expiry()
            if expiry is not None and expiry < t:
                self.clock.now = expiry
                self._deliver(run, venue.advance(expiry), expiry)
                self._deliver(run, venue.expire(expiry), expiry)
            self.clock.now = t
            resting = venue.has_resting
            self._held = []
            if resting:
                self._deliver(run, venue.advance(t), t)
            self._speak(run, i, t)
            self._release(run, t)
            if resting and expiry is not None and expiry == t:
                self._deliver(run, venue.expire(t), t)
            t = grid.at_or_after(t + 1)

    def _speak(self, run: _Run, i: int, t: int) -> None:
        """The live updates of the stream at instant `t` (kline first, then the mark price)."""
        self.clock.now = t
        strategy = run.strategy
        s = run.series
        if self.samples.is_kline(t):
            bar = partial_bar(s.bar(i), t - s.open_times[i], s.tick)
            candle = Candle(
                s.symbol,
                bar.open_time,
                bar.close_time,
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
                bar.quote_volume,
                bar.trades,
                False,
                t,
            )
            outputs = strategy.on_candle_update(candle)
            if outputs:
                self._act(run, outputs, t)
        if self.samples.is_mark(t):
            outputs = strategy.on_mark_price(self._mark(run, t))
            if outputs:
                self._act(run, outputs, t)

    # --- decisions and orders -----------------------------------------------------------------------

    def _mark(self, run: _Run, t: int) -> MarkPrice:
        price = run.path.price_at(t)
        engine = self.venue.engine
        nxt = engine.next_funding_time(run.series.symbol, t)
        return MarkPrice(run.series.symbol, price, price, engine.funding_rate(run.series.symbol, nxt), nxt, t)

    def _act(self, run: _Run, outputs: list[Signal | VolatilityGuardTriggered], now: int) -> None:
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

    def _release(self, run: _Run, now: int) -> None:
        held, self._held = self._held, None
        if held:
            self._deliver(run, held, now)

    def _deliver(self, run: _Run, events: list[VenueEvent], now: int) -> None:
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

    def _force_close(self, run: _Run, t: int) -> None:
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
        b = s.bar(i)
        fields = (b.open_time, b.close_time, b.open, b.high, b.low, b.close, b.volume, b.quote_volume)
        return Candle(s.symbol, *fields, b.trades, True, b.close_time + 1)


__all__ = ["Backtest", "Record", "SimClock"]
