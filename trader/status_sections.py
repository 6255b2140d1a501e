"""The heartbeat's sections (docs/heartbeat.schema.json), read from the running components.

Each method returns one section as plain JSON-ready values. They run on the loop at every
heartbeat write, so they only read memory: today's PnL, the one figure that needs the database, is
refreshed by `refresh_pnl` on the database thread and read from its cache.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from config.models import TraderConfig
from core.decimals import to_api_string
from database.engine import Database
from database.models import FillRow, FundingPaymentRow
from executor.binance.market_streams import MarketStreams
from executor.binance.user_stream import UserDataStream
from executor.orders.manager import OrderManager
from executor.risk.entry_blocks import entry_blocks, risk_limits_used
from executor.risk.gate import RiskGate
from strategies.runner import StrategyRunner
from trader.error_memory import LastErrorHandler
from trader.heartbeat import DaemonState, Heartbeat
from utils.clock import Clock
from utils.latency import DECISION_LATENCY, LOOP_LAG, LOOP_LAG_OWN, watch_loop_lag
from utils.log_failures import failed_writes

_ZERO = Decimal(0)
DAY_MS = 86_400_000
STALE_CANDLE_MS = 180_000  # a closed candle older than this (market time) means the data is stale


def _pnl_since(session: Session, start_ms: int) -> tuple[Decimal, Decimal, Decimal]:
    """(realized, USDT fees, funding) booked since `start_ms`."""
    fills = session.exec(
        select(col(FillRow.realized_pnl), col(FillRow.commission), col(FillRow.commission_asset)).where(
            col(FillRow.time) >= start_ms
        )
    ).all()
    realized = sum((Decimal(r) for r, _, _ in fills), _ZERO)
    fees = sum((Decimal(c) for _, c, asset in fills if asset in ("USDT", "")), _ZERO)
    amounts = session.exec(
        select(col(FundingPaymentRow.amount)).where(col(FundingPaymentRow.time) >= start_ms)
    ).all()
    funding = sum((Decimal(amount) for amount in amounts), _ZERO)
    return realized, fees, funding

_SLICE = 50  # symbols per slice of the `symbols` section (`DaemonStatus._slice_symbols`)


class DaemonStatus:
    """Builds the heartbeat's sections and the daemon's state (see the module docstring)."""

    def __init__(
        self,
        *,
        config: Callable[[], TraderConfig],
        clock: Clock,
        db: Database,
        order_manager: OrderManager,
        risk_gate: RiskGate,
        runners: Mapping[str, StrategyRunner],
        streams: MarketStreams | None,
        user_stream: UserDataStream | None,
        errors: LastErrorHandler,
        fatal: Callable[[], str | None],
    ) -> None:
        self._config = config
        self._clock = clock
        self._db = db
        self._orders = order_manager
        self._risk = risk_gate
        self._runners = runners
        self._streams = streams
        self._user_stream = user_stream
        self._errors = errors
        self._fatal = fatal
        self._pnl: dict[str, str] = {"realized": "0", "fees": "0", "funding": "0", "net": "0"}
        self.database_problem: str | None = None  # set by the database watch (file replaced, ...)
        self._interval_s = 5.0
        self._sliced_symbols: dict[str, Any] | None = None  # see `_slice_symbols`

    # --- the state ------------------------------------------------------------------------------

    def state(self) -> tuple[DaemonState, str | None]:
        """Running, paused or halted, and why (the heartbeat's `state` / `state_reason`)."""
        fatal = self._fatal()
        if fatal:
            return DaemonState.HALTED, fatal
        if self._risk.state.global_halt is not None:
            return DaemonState.HALTED, f"kill switch: {self._risk.state.global_halt}"
        if self.database_problem:
            return DaemonState.PAUSED, self.database_problem
        reconciliation = self._orders.reconciliation_status()
        if reconciliation["runs"] == 0:
            return DaemonState.RECONCILING, "reconciling with the venue before the first entry"
        if not self._risk.pauses.reconciled:
            return (
                DaemonState.PAUSED,
                f"no successful reconciliation yet (last run: {reconciliation['detail']})",
            )
        return DaemonState.RUNNING, None

    # --- sections -------------------------------------------------------------------------------

    def streams(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self._streams.status()] if self._streams is not None else []

    def user_stream(self) -> dict[str, Any]:
        stream = self._user_stream
        if stream is None:
            return {
                "connected": False,
                "last_message_age_ms": None,
                "reconnects": 0,
                "listen_key_age_s": None,
            }
        status = stream.status()[0]
        return {
            "connected": status.connected,
            "last_message_age_ms": status.last_message_age_ms,
            "reconnects": status.reconnects,
            "listen_key_age_s": stream.listen_key_age_s(),
            "messages": status.messages,
            "resets": stream.resets,
        }

    def symbols(self) -> dict[str, Any]:
        if self._sliced_symbols is not None and len(self._runners) > _SLICE:
            return self._sliced_symbols
        with self._risk.state.totals_held():
            return self._symbols(self._symbol_names())

    def _symbol_names(self) -> list[str]:
        positions = self._orders.positions()
        return sorted(set(self._runners) | {s for s, p in positions.items() if not p.is_flat})

    async def _slice_symbols(self) -> None:
        """Many symbols: build the `symbols` section `_SLICE` symbols at a time with the loop free in
        between (500 symbols in one go held the loop for ~50 ms at every heartbeat); the heartbeat
        then shows it as of the last refresh (at most one interval old)."""
        if len(self._runners) <= _SLICE:
            self._sliced_symbols = None
            return
        names, out = self._symbol_names(), {}
        for start in range(0, len(names), _SLICE):
            with self._risk.state.totals_held():
                out.update(self._symbols(names[start : start + _SLICE]))
            await asyncio.sleep(0)
        self._sliced_symbols = out

    def _symbols(self, names: list[str]) -> dict[str, Any]:
        config = self._config()
        now = self._clock.now_ms()
        positions = self._orders.positions()
        configured = {s.symbol: s for s in config.symbols}
        out: dict[str, Any] = {}
        for symbol in names:
            runner = self._runners.get(symbol)
            strategy = runner.strategy.name if runner is not None else ""
            blocks = [
                b.as_dict()
                for b in entry_blocks(
                    self._risk.state,
                    self._risk.pauses,
                    config.risk_for(symbol),
                    symbol=symbol,
                    strategy=strategy,
                    portfolio=self._risk.judge.portfolio,
                )
            ]
            age: int | None = None
            if runner is not None:
                blocks.extend(
                    {"reason": reason, "detail": detail, "until_ms": until}
                    for reason, detail, until in runner.strategy.entry_blocks(now)
                )
                last = runner.last_closed_open_time
                age = None if last is None else max(0, now - (last + 60_000))
                if age is None or age > STALE_CANDLE_MS:
                    blocks.append(
                        {"reason": "stale_data", "detail": "no recent closed candle", "until_ms": None}
                    )
            elif symbol not in configured:
                blocks.append(
                    {"reason": "symbol_removed", "detail": "not configured: exits only", "until_ms": None}
                )
            if self.database_problem:
                blocks.append({"reason": "database", "detail": self.database_problem, "until_ms": None})
            position = positions.get(symbol)
            mark = self._risk.state.mark_price(symbol)
            quantity = position.quantity if position is not None else _ZERO
            entry = position.entry_price if position is not None else _ZERO
            out[symbol] = {
                "strategy": strategy,
                "last_closed_candle_age_ms": age,
                "strategy_state": runner.strategy.snapshot_state() if runner is not None else None,
                "entries_enabled": not blocks,
                "entries_blocked_by": blocks,
                "position": {
                    "quantity": to_api_string(quantity),
                    "entry_price": to_api_string(entry),
                    "mark_price": to_api_string(mark) if mark is not None else None,
                    "unrealized_pnl": to_api_string((mark - entry) * quantity) if mark is not None else None,
                    "realized_pnl": to_api_string(position.realized_pnl if position is not None else _ZERO),
                },
                "open_orders": [
                    {
                        "client_order_id": o.cid,
                        "side": o.request.side.value,
                        "type": o.request.order_type.value,
                        "quantity": to_api_string(o.request.quantity),
                        "price": to_api_string(o.request.price) if o.request.price is not None else None,
                        "state": o.state.value,
                        "filled_qty": to_api_string(o.progress.filled_qty),
                        "reduce_only": o.request.reduce_only,
                    }
                    for o in self._orders.open_orders(symbol)
                ],
            }
        return out

    def reconciliation(self) -> dict[str, Any]:
        return self._orders.reconciliation_status()

    def database(self) -> dict[str, Any]:
        db = self._db
        ok = db.ok and not self.database_problem
        return {
            "ok": ok,
            "last_write_latency_ms": round(db.last_latency_ms, 3) if db.last_latency_ms is not None else None,
            "backend": "postgresql" if db.url.startswith("postgresql") else "sqlite",
            "error": self.database_problem or db.last_error,
        }

    def risk_limits(self) -> list[dict[str, str]]:
        config = self._config()
        state = self._risk.state
        limits: list[dict[str, str]] = [
            {
                "name": "max_total_exposure_usdt",
                "scope": "portfolio",
                "used": f"{state.total_exposure():.2f}",
                "allowed": str(config.risk.max_total_exposure_usdt),
            },
            {
                "name": "max_orders_per_minute",
                "scope": "portfolio",
                "used": str(state.orders_in_window()),
                "allowed": str(config.risk.max_orders_per_minute),
            },
        ]
        if config.risk.portfolio_daily_loss_limit_usdt is not None:
            today = self._risk.judge.portfolio.today  # every daemon on the database
            limits.append({
                "name": "portfolio_daily_loss_limit_usdt",
                "scope": "portfolio",
                "used": f"{max(-today, Decimal(0)):.2f}",
                "allowed": str(config.risk.portfolio_daily_loss_limit_usdt),
            })
        with state.totals_held():
            for symbol, runner in sorted(self._runners.items()):
                limits.extend(risk_limits_used(state, config.risk_for(symbol), symbol=symbol,
                                               strategy=runner.strategy.name))
        return limits

    def pnl_today(self) -> dict[str, str]:
        return self._pnl

    def last_error(self) -> dict[str, object] | None:
        return self._errors.last

    async def refresh_pnl(self) -> None:
        """Re-read today's realized PnL, fees and funding (on the database thread)."""
        now = self._clock.now_ms()
        realized, fees, funding = await self._db.run(lambda s: _pnl_since(s, now - now % DAY_MS))
        net = realized - fees + funding
        self._pnl = {
            k: to_api_string(v)
            for k, v in (("realized", realized), ("fees", fees), ("funding", funding), ("net", net))
        }

    def register(self, heartbeat: Heartbeat) -> None:
        """Register every section (the schema's and the components' counters) and the state."""
        for section in ("streams", "user_stream", "symbols", "reconciliation", "database", "risk_limits",
                        "pnl_today", "last_error"):  # fmt: skip
            heartbeat.register(section, getattr(self, section))
        heartbeat.register("strategies", lambda: {s: r.status() for s, r in self._runners.items()})
        heartbeat.register("risk", self._risk.status)
        heartbeat.register("orders", self._orders.status)
        heartbeat.register("logging", lambda: {"failed_writes": failed_writes()})  # a full disk, ...
        heartbeat.register("performance", _performance)
        heartbeat.set_state_source(self.state)
        self._interval_s = heartbeat.interval_s

    async def refresh(
        self,
        database_problem: Callable[[], str | None] | None,
        on_database_lost: Callable[[str], Awaitable[None]],
    ) -> None:
        """On the heartbeat's cadence: today's PnL from the database, and the database file itself;
        all along, the event loop's lag (the `performance` section)."""
        lag = asyncio.ensure_future(watch_loop_lag())
        try:
            while True:
                problem = database_problem() if database_problem is not None else None
                if problem is not None and self.database_problem is None:
                    self.database_problem = problem
                    await on_database_lost(problem)
                elif problem is None:
                    with contextlib.suppress(Exception):
                        await self.refresh_pnl()
                await self._slice_symbols()
                await asyncio.sleep(self._interval_s)
        finally:
            lag.cancel()


def _performance() -> dict[str, object]:
    """Hot-path latency histograms (utils/latency.py): market event to strategy decision, loop lag."""
    return {"decision": DECISION_LATENCY.summary(), "loop_lag": LOOP_LAG.summary(),
            "loop_lag_own": LOOP_LAG_OWN.summary()}


__all__ = ["DaemonStatus"]
