"""SimulatedExchange: the protocol-free facade the loopback server (and tests) call.

Every REST endpoint is one method `name(params, now_ms)`: `params` are exactly the strings the
client sent (already authenticated by the server: `timestamp`, `recvWindow` and `signature` are
ignored here), `now_ms` is the simulated time of the request. Each returns a JSON-ready value with
Binance's field names and string decimals (built by `simulator/wire_*.py`), or raises
`SimError(code, msg, http_status)`.

The endpoints come in groups, one module each, over the shared state of `exchange_core.py`:
`exchange_market.py` (`advance_to`: stream payloads as simulated time moves, and the public market
endpoints), `exchange_orders.py` (signed order endpoints) and `exchange_account.py` (signed account
endpoints). `data_dir.py` loads the markets of `from_data`.

The backtester can use `MatchingEngine` (`self.engine`) directly with typed results instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from simulator.data_dir import load_markets
from simulator.engine_types import EngineConfig
from simulator.exchange_account import AccountEndpoints
from simulator.exchange_market import MarketEndpoints
from simulator.exchange_orders import OrderEndpoints

__all__ = ["SimulatedExchange"]


class SimulatedExchange(MarketEndpoints, OrderEndpoints, AccountEndpoints):
    """One simulated Binance USD-M account over replayed (or synthetic) market data, or a live feed
    (paper mode: any `MarketSeries` per symbol)."""

    @classmethod
    def from_data(
        cls,
        data_dir: Path,
        *,
        start_ms: int,
        symbols: Sequence[str] | None = None,
        synthetic_symbols: Sequence[str] = (),
        seed: int = 0,
        starting_balance: Decimal = Decimal("10000"),
        history_days: int = 2,
        config: EngineConfig | None = None,
        kline_update_ms: int = 250,
        mark_update_ms: int = 1000,
        count: int | None = None,
    ) -> SimulatedExchange:
        """Load `data_dir`/exchange_info.json and `data_dir`/klines/* and start the market at `start_ms`.

        `symbols` limits the replayed real symbols (default: every symbol with a kline file);
        `synthetic_symbols` adds SYNTHETIC markets (seeded random walks; names missing from the
        document get a clone of WLDUSDT's rules). `history_days` of bars exist before `start_ms`.
        `count` lists that many perpetuals with real rules instead (`simulator/many_symbols.py`).
        """
        doc, replays = load_markets(
            data_dir, start_ms=start_ms, symbols=symbols, synthetic_symbols=synthetic_symbols,
            seed=seed, history_days=history_days, count=count,
        )
        cfg = config or EngineConfig()
        cfg = EngineConfig(
            **{**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__}, "starting_balance": starting_balance}
        )
        return cls(
            doc, replays, start_ms=start_ms, config=cfg,
            kline_update_ms=kline_update_ms, mark_update_ms=mark_update_ms,
        )
