"""The `MarketSeries` protocol: what the exchange and the matching engine read of one symbol's market."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from simulator.bars import Bar


class MarketSeries(Protocol):
    """One symbol's market as the exchange and the matching engine read it.

    `Replay` (sim mode, backtests) satisfies it, and so does the live feed of paper mode
    (`simulator/live_feed.py`): one matching engine, whatever the prices come from.
    """

    def price_at(self, now_ms: int) -> Decimal:
        """The trade price at `now_ms` (the engine's mark and fill reference)."""
        ...

    def price_range(self, after_ms: int, until_ms: int) -> tuple[Decimal, Decimal]:
        """(low, high) of the prices traded on (after_ms, until_ms] (resting limit orders)."""
        ...

    def bar(self, open_time: int) -> Bar:
        """The 1m bar opening at `open_time`."""
        ...

    def live_bar(self, now_ms: int) -> Bar:
        """The current minute's bar as it stands at `now_ms`."""
        ...

    def bars(self, first_open: int, last_open: int, now_ms: int) -> list[Bar]:
        """The 1m bars opening in [first_open, last_open] (the current one as it stands at
        `now_ms`), oldest first: what GET /fapi/v1/klines serves. A live feed returns only the
        bars it holds, so the list may be shorter than the range."""
        ...
