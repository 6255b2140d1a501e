"""Applying a live edit of the YAML to the running daemon, or rejecting all of it.

The watcher (`config_watch.py`) validated the file; what it cannot know is whether a newly listed
symbol exists on the venue. That is checked first (exchangeInfo is re-read for symbols the daemon
has not seen; paper mode lists them on its local venue): an edit naming a symbol the venue does not
trade is rejected whole, with one line, and the running configuration stays. Otherwise: new
symbols are subscribed, warmed up and started; a removed symbol stops opening positions but still
manages the exit of an open one; changed parameters apply to the next decision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Protocol

import structlog

from config.models import SymbolConfig, TraderConfig
from core.errors import ConfigError, GatewayError
from core.instruments import ExchangeInfo, Instrument
from executor.binance.market_streams import MarketStreams
from executor.risk.gate import RiskGate
from strategies.runner import StrategyRunner
from trader.alerting import DaemonAlerts
from trader.config_watch import diff_symbols
from trader.paper_venue import PaperVenue

_log = structlog.get_logger(__name__)


class _Venue(Protocol):
    async def exchange_info(self) -> ExchangeInfo: ...
    async def set_leverage(self, symbol: str, leverage: int) -> None: ...


class LiveConfig:
    """Holds the running configuration and applies validated edits to the components."""

    def __init__(
        self,
        config: TraderConfig,
        config_path: Path,
        *,
        gateway: _Venue,
        instruments: MutableMapping[str, Instrument],
        risk_gate: RiskGate,
        runners: MutableMapping[str, StrategyRunner],
        start_strategy: Callable[[SymbolConfig], Awaitable[None]],
        streams: MarketStreams | None,
        paper: PaperVenue | None,
        alerts: DaemonAlerts,
    ) -> None:
        self.config = config
        self._path = config_path
        self._gateway = gateway
        self._instruments = instruments  # shared with the order manager and the risk gate
        self._risk_gate = risk_gate
        self._runners = runners
        self._start_strategy = start_strategy
        self._streams = streams
        self._paper = paper
        self._alerts = alerts

    async def apply(self, new: TraderConfig) -> None:
        """Apply a validated edit; ConfigError (and nothing changed) when it names unknown symbols."""
        changes = diff_symbols(self.config, new)
        await self._check_symbols_exist([s for s in changes.added if s not in self._instruments])
        old = self.config
        self.config = new
        self._risk_gate.update_limits(new.risk_for)
        self._alerts.update(new)
        for symbol in changes.added:
            symbol_config = next(s for s in new.symbols if s.symbol == symbol)
            runner = self._runners.get(symbol)
            if runner is not None:  # re-added after a removal: open entries again
                runner.strategy.entries_enabled = True
                runner.strategy.update_params(symbol_config.validated_params)
                continue
            await self._gateway.set_leverage(symbol, new.engine.leverage)
            await self._start_strategy(symbol_config)
            if self._streams is not None:
                await self._streams.add_symbols([symbol])
        for symbol in changes.removed:
            runner = self._runners.get(symbol)
            if runner is not None:
                # Keep the task: it still manages the exit of an open position.
                runner.strategy.entries_enabled = False
        for symbol in changes.changed:
            symbol_config = next(s for s in new.symbols if s.symbol == symbol)
            runner = self._runners.get(symbol)
            if runner is not None:
                runner.strategy.update_params(symbol_config.validated_params)
                runner.strategy.order_notional = symbol_config.order_notional_usdt
        _log.info(
            "config.applied",
            added=list(changes.added),
            removed=list(changes.removed),
            changed=list(changes.changed),
            previous_symbols=[s.symbol for s in old.symbols],
        )

    async def _check_symbols_exist(self, symbols: list[str]) -> None:
        """Learn the rules of symbols the daemon has not seen; ConfigError for any the venue lacks."""
        if not symbols:
            return
        try:
            if self._paper is not None:
                # Paper mode lists only the configured symbols: list them on the local venue first.
                await self._paper.add_symbols(symbols)
            info = await self._gateway.exchange_info()
        except GatewayError as exc:
            raise ConfigError(
                str(self._path),
                "symbols",
                f"cannot check {', '.join(symbols)} on the venue now ({exc}); try again",
            ) from None
        instruments = info.instruments
        missing = [s for s in symbols if s not in instruments]
        if missing:
            raise ConfigError(
                str(self._path),
                "symbols",
                f"not traded on this venue: {', '.join(missing)} (edit rejected; the running symbols stay)",
            )
        for symbol in symbols:
            self._instruments[symbol] = instruments[symbol]
