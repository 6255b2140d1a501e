"""The backtest loop: candles in time order through the live strategy, risk and order code.

At each candle's open instant `t`, for each symbol (in name order, one shared account):

1. the previous candle closes: `strategy.on_bar(...)` (what `on_candle` runs in the daemon when
   the final kline arrives, at `t`); its signals go to the risk judge (`executor/risk/judge.py`)
   and accepted orders to the venue (`backtest/venue.py`), which fills them on the matching engine
   at `t`: a decision on a closed candle acts at the next candle's open;
2. the new candle unfolds (`backtest/unfold.py`, `backtest/intrabar.py`): live updates at the
   stream's cadence where they can matter (live exits, the volatility guard), resting orders
   matched on the path, TTLs.

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
from backtest.venue import BacktestVenue
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
            if i > warmup:
                # The previous candle closes now: what `on_candle` does when its final kline arrives.
                j = i - 1
                if venue.live or (t >= self._funding_due and strategy.position_side is not None):
                    self._deliver(run, venue.advance(t), t)
                    self._funding_due = venue.engine.next_funding_time(symbol, t)
                outputs = on_bar(times[j], times[j] + span, t, highs[j], lows[j], closes[j], volumes[j])
                if outputs:
                    self._act(run, outputs, t)
            if i == last:
                self._force_close(run, t)
            elif guard or venue.live or strategy.position_side is not None:
                self._unfold(run, i, t)
            done += 1
            if progress is not None and not done & 0x3FFF:
                progress(done)
        if progress is not None:
            progress(done)
        self._mark_equity(clock.now)
        return self.record

    def _instants(self) -> Iterator[tuple[int, str, int]]:
        """(open time, symbol, index) of every candle in time order, symbols in name order at the
        same instant; produced as the loop goes (a list of them would cost ~130 bytes a candle)."""
        symbols = sorted(self.runs)
        columns = [self.runs[symbol].series.open_times for symbol in symbols]
        if all(times == columns[0] for times in columns[1:]):  # one symbol, or the same candle times
            k = len(symbols)
            return zip(
                chain.from_iterable(map(repeat, columns[0], repeat(k))),
                cycle(symbols),
                chain.from_iterable(map(repeat, range(len(columns[0])), repeat(k))),
            )
        pairs = zip(symbols, columns, strict=True)
        per_symbol = (zip(times, repeat(symbol), count()) for symbol, times in pairs)
        return heapq.merge(*per_symbol)


__all__ = ["Backtest", "Progress", "Record", "SimClock"]
