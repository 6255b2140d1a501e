"""`InProcessGateway`: the order path's gateway to a `MatchingEngine` in the same process.

It implements `executor.venue_api.OrderGateway` (and the account calls the daemon's start-up
makes) by calling the engine directly: typed requests in, typed records out, no HTTP, no JSON, no
signatures. The engine's refusals (`SimError`, Binance's code and message) become the same typed
errors the Binance adapter raises (`core.binance_codes.error_for_code`). The user-data stream is
replaced by `pump()`: every event the engine produced since the last pump is translated
(`reports.py`) and handed to the sink, the same function that the real user stream feeds.

The caller owns time: `advance(now_ms)` moves the engine to the clock's now (resting fills,
funding) and pumps. Every call reads the injected clock, so a backtest's simulated clock drives it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.binance_codes import error_for_code
from core.errors import GatewayError
from core.events import AccountUpdate, ExecutionReport, OrderRequest, OrderType, UserStreamReset
from core.instruments import ExchangeInfo
from executor.in_process.reports import (
    account_update,
    execution_report,
    venue_income,
    venue_order,
    venue_position,
    venue_trade,
)
from executor.venue_api import VenueBalance, VenueIncome, VenueOrder, VenuePosition, VenueTrade
from simulator.account import ASSET
from simulator.engine import MatchingEngine
from simulator.engine_types import AccountEvent, NewOrder, OrderEvent
from simulator.errors import SimError
from utils.clock import Clock

AccountSink = Callable[[ExecutionReport | AccountUpdate | UserStreamReset], None]

NO_SUCH_ORDER = -2013


def _error(exc: SimError, *, idempotent: bool) -> GatewayError:
    return error_for_code(exc.code, exc.msg, idempotent=idempotent, http_status=exc.http_status)


class InProcessGateway:
    """A venue in this process (see the module docstring). `sink` receives the user events."""

    def __init__(self, engine: MatchingEngine, clock: Clock, sink: AccountSink | None = None) -> None:
        self.engine = engine
        self._clock = clock
        self._sink = sink
        self.requests = 0

    def set_sink(self, sink: AccountSink) -> None:
        """Where `pump()` delivers the engine's user events (the daemon's account channel)."""
        self._sink = sink

    # --- time and the user stream --------------------------------------------------------------

    def advance(self, now_ms: int | None = None) -> None:
        """Move the engine to `now_ms` (default: the clock's now), then deliver its events."""
        self.engine.advance(self._clock.now_ms() if now_ms is None else now_ms)
        self.pump()

    def pump(self) -> None:
        """Deliver every user event the engine produced since the last pump, in order."""
        sink = self._sink
        for event in self.engine.drain_events():
            if sink is None:
                continue
            if type(event) is OrderEvent:
                sink(execution_report(event))
            elif type(event) is AccountEvent:
                sink(account_update(event))

    def _now(self) -> int:
        self.requests += 1
        return self._clock.now_ms()

    # --- reference data -------------------------------------------------------------------------

    async def exchange_info(self) -> ExchangeInfo:
        """The engine's instruments (no rate limits: nothing to throttle in-process)."""
        return ExchangeInfo(
            instruments=dict(self.engine.instruments), rate_limits=(), server_time=self._now()
        )

    async def server_time(self) -> int:
        """The clock's now."""
        return self._now()

    # --- orders ---------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        """Place on the engine; an immediate fill is in the answer and in the next pump."""
        new = NewOrder(
            symbol=request.symbol,
            side=request.side,
            type=request.order_type.value,
            quantity=request.quantity,
            price=request.price if request.order_type is OrderType.LIMIT else None,
            time_in_force=request.time_in_force.value if request.time_in_force else "GTC",
            reduce_only=request.reduce_only,
            client_order_id=request.client_order_id,
        )
        try:
            order = self.engine.place_order(new, self._now())
        except SimError as exc:
            raise _error(exc, idempotent=False) from None
        finally:
            self.pump()
        return venue_order(order)

    async def query_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """The order by client id; None when the engine never saw it (-2013)."""
        self._now()
        try:
            order = self.engine.get_order(symbol, client_order_id=client_order_id)
        except SimError as exc:
            if exc.code == NO_SUCH_ORDER:
                return None
            raise _error(exc, idempotent=True) from None
        return venue_order(order)

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        """Cancel by client id (-2011 when unknown or no longer open)."""
        try:
            order = self.engine.cancel_order(symbol, self._now(), client_order_id=client_order_id)
        except SimError as exc:
            raise _error(exc, idempotent=False) from None
        finally:
            self.pump()
        return venue_order(order)

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """Open orders of one symbol or all, oldest first."""
        self._now()
        return [venue_order(o) for o in self.engine.open_orders(symbol)]

    async def user_trades(
        self, symbol: str, start_time: int | None = None, from_id: int | None = None
    ) -> list[VenueTrade]:
        """Our fills on `symbol` from `start_time` or trade id `from_id`, oldest first."""
        self._now()
        trades = [
            t
            for t in self.engine.trades(symbol)
            if (from_id is None or t.trade_id >= from_id) and (start_time is None or t.time >= start_time)
        ]
        return [venue_trade(t) for t in trades]

    # --- account --------------------------------------------------------------------------------

    async def positions(self) -> list[VenuePosition]:
        """Open positions (signed quantities) at the engine's mark prices."""
        now = self._now()
        engine = self.engine
        found = []
        for state in engine.account.positions():
            if state.amount == 0:
                continue
            snapshot = engine.position_snapshot(state.symbol)
            mark = engine.mark_price(state.symbol)
            found.append(venue_position(snapshot, mark, state.leverage, now))
        return found

    async def balances(self) -> list[VenueBalance]:
        """The USDT wallet."""
        now = self._now()
        summary = self.engine.summary()
        return [
            VenueBalance(
                asset=ASSET,
                wallet_balance=summary.wallet_balance,
                available_balance=summary.available_balance,
                unrealized_pnl=summary.unrealized_pnl,
                update_time=now,
            )
        ]

    async def income(
        self, income_type: str, start_time: int, end_time: int, symbol: str | None = None
    ) -> list[VenueIncome]:
        """Income records of one type on [start_time, end_time], oldest first."""
        self._now()
        return [
            venue_income(i)
            for i in self.engine.account.income
            if i.income_type == income_type
            and start_time <= i.time <= end_time
            and (symbol is None or i.symbol == symbol)
        ]

    async def dual_side_position(self) -> bool:
        """The engine keeps one-way positions only."""
        return False

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Change a symbol's leverage (-4028 when out of range)."""
        try:
            self.engine.set_leverage(symbol, leverage, self._now())
        except SimError as exc:
            raise _error(exc, idempotent=True) from None

    def equity(self) -> Decimal:
        """Wallet plus unrealized PnL, USDT."""
        summary = self.engine.summary()
        return summary.wallet_balance + summary.unrealized_pnl
