"""The backtest loop: candles in time order through the live strategy, risk and order code.

At each candle's open instant `t`, for each symbol (in name order, one shared account):

1. the previous candle closes: `strategy.on_bar(...)` (what `on_candle` runs in the daemon when
   the final kline arrives, at `t`); its signals go to the risk judge (`executor/risk/judge.py`)
   and accepted orders to the venue (`backtest/venue.py`), which fills them on the matching engine
   at `t`: a decision on a closed candle acts at the next candle's open;
2. the new candle unfolds (`backtest/unfold.py`, `backtest/intrabar.py`): live updates at the
   stream's cadence where they can matter (live exits, the volatility guard), resting orders
   matched on the path, TTLs.

At one instant `t` the stream's updates reach the strategy before the fills at `t` (held in
`_held`), as in the daemon: the simulator sends an instant's market data first.

Time is a simulated clock that jumps from event to event: no sleeps, no wall clock. The first
`engine.warmup_candles` candles are history (`on_start`), as the daemon warms up from candles_1m.
At the last candle's open, entries stop and what is still open is closed ("force").
What signals and venue events do is `backtest/orderflow.py`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from itertools import chain, count, cycle, repeat

from backtest.intrabar import Grid
from backtest.orderflow import Record, SimClock, SymbolRun
from backtest.series import BarSeries, PathPrices
from backtest.unfold import CandleUnfolding
from backtest.venue import BacktestVenue, VenueEvent
from config.models import TraderConfig
from core.events import OrderType
from core.instruments import Instrument
from executor.risk.judge import RiskJudge
from simulator.engine import MatchingEngine
from simulator.engine_types import EngineConfig
from simulator.funding import FundingSchedule
from strategies.registry import get_strategy

_BPS = Decimal(10_000)
Progress = Callable[[int], None]


class Backtest(CandleUnfolding):
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
        self.runs: dict[str, SymbolRun] = {}
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
            run = SymbolRun(strategy, series[entry.symbol], self.paths[entry.symbol], guard)
            self.runs[entry.symbol] = run

    # --- the loop -----------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> Record:
        """Replay every candle; `progress(bars_done)` is called now and then."""
        warmup = self.config.engine.warmup_candles
        for run in self.runs.values():
            s = run.series
            history = [self._candle(s, i) for i in range(min(warmup, len(s)))]
            run.strategy.on_start(history)
        # Per symbol (in name order), what the loop reads for every candle, bound once: attribute
        # look-ups add up at 200,000 candles a symbol.
        states = [
            (
                run,
                run.strategy,
                run.strategy.on_bar,
                run.strategy.quiet_band,
                run.series.open_times,
                run.series.highs,
                run.series.lows,
                run.series.closes,
                run.series.volumes,
                run.series.interval_ms - 1,
                len(run.series) - 1,
                run.guard is not None,
            )
            for _, run in sorted(self.runs.items())
        ]
        clock = self.clock
        venue = self.venue
        resting = venue.live  # the venue's dict of live orders (never replaced): empty = nothing rests
        done = 0
        day_end = self._day_end(clock.now)
        # With several symbols, every symbol's open at `t` (decisions on the candle that just closed,
        # filled at `t`) comes before any symbol's candle unfolds past `t`: the engine has one clock.
        deferred: list[tuple[SymbolRun, int, int, int]] | None = [] if len(states) > 1 else None
        opened = -1
        for t, k, i in self._instants():
            run, strategy, on_bar, quiet_band, times, highs, lows, closes, volumes, span, last, guard = (
                states[k]
            )
            if deferred is not None and t != opened:
                self._unfold_deferred(deferred)
                opened = t
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
                if resting or (t >= self._funding_due and strategy.position_side is not None):
                    self._held = held = []
                    self._deliver(run, venue.advance(t), t)
                    self._funding_due = venue.engine.next_funding_time(run.series.symbol, t)
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
            elif deferred is not None:
                deferred.append((run, i, t, start))
            elif guard or resting:
                self._unfold(run, i, t, start)
            elif strategy.position_side is not None:
                # `_unfold`'s first test, here: most candles in a position stay inside the band.
                band = quiet_band()
                if band is None or not (
                    band.low < lows[i] and highs[i] < band.high and t + span < band.until_ms
                ):
                    self._unfold(run, i, t, start)
            done += 1
            if progress is not None and not done & 0x3FFF:
                progress(done)
        if deferred is not None:
            self._unfold_deferred(deferred)
        if progress is not None:
            progress(done)
        self._mark_equity(clock.now)
        return self.record

    def _unfold_deferred(self, deferred: list[tuple[SymbolRun, int, int, int]]) -> None:
        """Unfold the candles that opened at the same instant (their moments in time order)."""
        live = self.venue.live
        busy = []
        for candle in deferred:
            run, i, t, _ = candle
            if run.guard is None and not live:
                if run.strategy.position_side is None:
                    continue  # flat, nothing resting, no guard: no live update can matter
                band = run.strategy.quiet_band()  # the loop's quiet-candle test, as for one symbol
                s = run.series
                inside = band is not None and band.low < s.lows[i] and s.highs[i] < band.high
                if inside and band is not None and t + s.interval_ms <= band.until_ms:
                    continue
            busy.append(candle)
        if len(busy) == 1:
            self._unfold(*busy[0])
        elif busy:
            self._unfold_together(busy)
        deferred.clear()

    def _instants(self) -> Iterator[tuple[int, int, int]]:
        """(open time, symbol's rank by name, index) of every candle in time order, symbols in name
        order at the same instant; produced as the loop goes (a list would cost ~130 bytes a candle)."""
        columns = [run.series.open_times for _, run in sorted(self.runs.items())]
        if len(columns) == 1:
            return zip(columns[0], repeat(0), count())
        if all(times == columns[0] for times in columns[1:]):  # the same candle times
            k = len(columns)
            return zip(
                chain.from_iterable(map(repeat, columns[0], repeat(k))),
                cycle(range(k)),
                chain.from_iterable(map(repeat, range(len(columns[0])), repeat(k))),
            )
        return heapq.merge(*(zip(times, repeat(k), count()) for k, times in enumerate(columns)))


__all__ = ["Backtest", "Progress", "Record", "SimClock"]
