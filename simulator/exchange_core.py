"""What every endpoint group of `SimulatedExchange` shares: the markets, the engine, user events.

A REST request that moves the engine (an order at a later time) queues its user events here; they
come out of the next `advance_to` (`simulator/exchange_market.py`), merged by event time.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.instruments import Instrument
from simulator import wire_user_stream
from simulator.engine import MatchingEngine
from simulator.engine_types import EngineConfig, OrderEvent
from simulator.exchange_info import instruments_of
from simulator.funding import FundingSchedule
from simulator.market_series import MarketSeries
from simulator.order_rules import mandatory
from simulator.request_params import Params

# The stream name user-data payloads come out of `advance_to` under.
USER_STREAM = "user"
Json = dict[str, Any]


class ExchangeCore:
    """The state of one simulated account and its markets, and the helpers every endpoint uses."""

    def __init__(
        self,
        exchange_info: Json,
        replays: Mapping[str, MarketSeries],
        *,
        start_ms: int,
        config: EngineConfig | None = None,
        kline_update_ms: int = 250,
        mark_update_ms: int = 1000,
        funding: FundingSchedule | None = None,
    ) -> None:
        self._doc = exchange_info
        self._instruments = {s: i for s, i in instruments_of(exchange_info).items() if s in replays}
        # The engine shares these two dicts, so a market added later is tradable at once.
        self._replays: dict[str, MarketSeries] = dict(replays)
        self.engine = MatchingEngine(
            self._instruments, self._replays, config or EngineConfig(), start_ms, funding=funding
        )
        self._kline_ms = kline_update_ms
        self._mark_ms = mark_update_ms
        self._cursor = start_ms  # market payloads have been produced up to here
        self._queued: list[tuple[int, str, Json]] = []

    # --- introspection for the server -------------------------------------------------------

    def symbols(self) -> list[str]:
        """Every tradable symbol, sorted."""
        return sorted(self._instruments)

    def instrument(self, symbol: str) -> Instrument:
        """The trading rules of `symbol`; SimError(-1121) if unknown."""
        return self.engine.instrument(symbol)

    def add_market(self, entry: Json, series: MarketSeries) -> None:
        """List one more symbol (its exchangeInfo entry) priced by `series` (paper mode's live edits)."""
        symbol = str(entry["symbol"])
        instrument = instruments_of({"symbols": [entry]})[symbol]
        others = [s for s in self._doc["symbols"] if s.get("symbol") != symbol]
        self._doc = {**self._doc, "symbols": [*others, entry]}
        self._replays[symbol] = series
        self._instruments[symbol] = instrument

    def mark_price(self, symbol: str, now_ms: int) -> Decimal:
        """The mark price (the replay path price) of `symbol` at `now_ms`."""
        return self.engine.mark_price(symbol, now_ms)

    # --- for the endpoints ------------------------------------------------------------------------

    def _drain(self, out: list[tuple[int, str, Json]]) -> None:
        for ev in self.engine.drain_events():
            if isinstance(ev, OrderEvent) and ev.trade is not None:
                out.append((ev.time, USER_STREAM, wire_user_stream.trade_lite(ev)))
            out.append((ev.time, USER_STREAM, wire_user_stream.user_event(ev)))

    def _sync(self, now_ms: int) -> int:
        """Bring the engine to the request's time; its events wait for the next advance_to."""
        self.engine.advance(now_ms)
        self._drain(self._queued)
        return self.engine.now_ms

    def _symbol(self, params: Params) -> str:
        symbol = mandatory(params, "symbol")
        self.engine.instrument(symbol)
        return symbol
