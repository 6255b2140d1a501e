"""A candle from its open to its last millisecond in a backtest: the live updates the stream would
send (kline, then mark price) at the moments that can matter, resting orders matched on the path,
TTLs expired. Which moments can matter is `backtest/intrabar.py`'s answer.

`CandleUnfolding` is a base of `backtest.runner.Backtest` (which sets the attributes it reads).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from backtest.intrabar import Grid, first_moment, guard_may_fire
from backtest.orderflow import OrderFlow, SymbolRun
from backtest.series import bar_candle
from simulator.bars import partial_bar


class CandleUnfolding(OrderFlow):
    """Unfolds a candle through its strategy's live hooks (see the module docstring)."""

    engine_grid: Grid

    def _unfold(self, run: SymbolRun, i: int, t: int, start: int) -> None:
        """Candle `i` (open `t`) from `start` to its last millisecond: the moments that can matter."""
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
        for _ in self._band_moments(run, i, t, start):
            pass  # each moment is spoken when the generator resumes

    def _band_moments(self, run: SymbolRun, i: int, t: int, start: int) -> Iterator[int]:
        """The moments of candle `i` (opened at `t`) from `start` whose price leaves the strategy's
        quiet band: yields each one, then speaks it when resumed (so moments of several symbols can
        be taken in time order, `_unfold_together`)."""
        strategy = run.strategy
        s = run.series
        end = t + s.interval_ms
        while start < end:
            band = strategy.quiet_band()
            if band is None:
                yield start
                self._every_moment(run, i, start, end)
                return
            if band.low < s.lows[i] and s.highs[i] < band.high and end <= band.until_ms:
                return
            moment = first_moment(s.bar(i), s.tick, self.samples, start, band)
            if moment is None:
                return
            yield moment
            self._speak(run, i, moment)
            start = moment + 1

    def _unfold_together(self, candles: list[tuple[SymbolRun, int, int, int]]) -> None:
        """Candles of several symbols opened at the same instant, their moments in time order
        (symbol order at the same millisecond): one symbol's live exit must not move the shared
        engine past another's earlier moment. With resting orders or a listening volatility guard,
        every moment of a candle is visited: then one candle after the other, as `_unfold` does."""
        if self.venue.live or any(run.guard is not None for run, _, _, _ in candles):
            for run, i, t, start in candles:
                self._unfold(run, i, t, start)
            return
        heap: list[tuple[int, int, Iterator[int]]] = []
        for n, (run, i, t, start) in enumerate(candles):
            moments = self._band_moments(run, i, t, start)
            first = next(moments, None)
            if first is not None:
                heap.append((first, n, moments))
        heapq.heapify(heap)
        while heap:
            _, n, moments = heap[0]
            following = next(moments, None)  # speaks the moment at the top, finds this symbol's next
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following, n, moments))

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
            resting = venue.has_resting
            self._held = []  # this instant's fills reach the strategy after its updates
            if resting:
                self._deliver(run, venue.advance(t), t)
            self._speak(run, i, t)
            self._release(run, t)
            if resting and expiry is not None and expiry == t:
                self._deliver(run, venue.expire(t), t)
            t = grid.at_or_after(t + 1)

    def _speak(self, run: SymbolRun, i: int, t: int) -> None:
        """The live updates of the stream at instant `t` (kline first, then the mark price)."""
        self.clock.now = t
        strategy = run.strategy
        s = run.series
        if self.samples.is_kline(t):
            bar = partial_bar(s.bar(i), t - s.open_times[i], s.tick)
            candle = bar_candle(s.symbol, bar, closed=False, event_time=t)
            outputs = strategy.on_candle_update(candle)
            if outputs:
                self._act(run, outputs, t)
        if self.samples.is_mark(t):
            outputs = strategy.on_mark_price(self._mark(run, t))
            if outputs:
                self._act(run, outputs, t)


__all__ = ["CandleUnfolding"]
