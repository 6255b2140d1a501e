"""SYNTHETIC markets (not market data): seeded random-walk 1m bars for scale tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal

from simulator.bars import MINUTE_MS, Bar


class SyntheticSeries:
    """SYNTHETIC 1m bars (not market data): a seeded geometric random walk in integer ticks.

    Each minute takes 4 steps of a random move of -8..+8 basis points (pulled back toward the base
    price when it strays beyond ×/÷ 2); open/close are the first/last step, high/low the extremes.
    The same (symbol, seed, base price, tick, days) always gives the same bars.
    """

    def __init__(
        self,
        symbol: str,
        seed: int,
        base_price: Decimal,
        tick: Decimal,
        *,
        days: int = 3,
        start_time: int = 0,
    ) -> None:
        self._symbol, self._seed, self._tick, self._days = symbol, seed, tick, days
        self._base_ticks = max(int(base_price / tick), 100)
        self._start = start_time
        self._bars: list[Bar] | None = None  # generated on first use: 500 idle symbols cost nothing

    @property
    def minutes(self) -> int:
        return self._days * 1440

    @property
    def first_open_time(self) -> int:
        return self._start

    def minute_bar(self, index: int) -> Bar:
        if self._bars is None:
            self._bars = list(self._generate())
        return self._bars[index]

    def _generate(self) -> Iterator[Bar]:
        rng = random.Random(f"synthetic:{self._symbol}:{self._seed}")
        base, price, tick = self._base_ticks, self._base_ticks, self._tick
        for i in range(self.minutes):
            steps = [price]
            for _ in range(4):
                pull = -3 if price > 2 * base else 3 if price * 2 < base else 0
                price = max(1, price + price * (rng.randint(-8, 8) + pull) // 10_000)
                steps.append(price)
            volume = Decimal(rng.randint(100, 10_000))
            mean = Decimal(sum(steps)) * tick / len(steps)
            yield Bar(
                open_time=self._start + i * MINUTE_MS,
                open=steps[0] * tick,
                high=max(steps) * tick,
                low=min(steps) * tick,
                close=steps[-1] * tick,
                volume=volume,
                quote_volume=(volume * mean).quantize(Decimal("0.0001")),
                trades=rng.randint(10, 500),
                taker_buy_volume=(volume / 2).quantize(Decimal(1), rounding=ROUND_DOWN),
                taker_buy_quote_volume=(volume * mean / 2).quantize(Decimal("0.0001")),
            )
