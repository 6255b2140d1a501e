"""A candle from its open to its last millisecond in a backtest: the live updates the stream would
send (kline, then mark price) at the moments that can matter, resting orders matched on the path,
TTLs expired. Which moments can matter is `backtest/intrabar.py`'s answer.

`CandleUnfolding` is a base of `backtest.runner.Backtest` (which sets the attributes it reads).
"""

from __future__ import annotations

from backtest.intrabar import Grid, first_moment, guard_may_fire
from backtest.orderflow import OrderFlow, SymbolRun
from core.events import Candle
from simulator.bars import partial_bar


class CandleUnfolding(OrderFlow):
    """Unfolds a candle through its strategy's live hooks (see the module docstring)."""

    engine_grid: Grid

    def _unfold(self, run: SymbolRun, i: int, t: int) -> None:
        """Candle `i` from its open to its last millisecond: only the moments that can matter."""
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
            self._every_moment(run, i, t, end)
            return
        start = t
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

    def _every_moment(self, run: SymbolRun, i: int, start: int, end: int) -> None:
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
            if venue.has_resting:
                self._deliver(run, venue.advance(t), t)
                if expiry is not None and expiry == t:
                    self._deliver(run, venue.expire(t), t)
            self._speak(run, i, t)
            t = grid.at_or_after(t + 1)

    def _speak(self, run: SymbolRun, i: int, t: int) -> None:
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


__all__ = ["CandleUnfolding"]
