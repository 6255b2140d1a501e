"""The matching engine: one implementation for the simulator, paper trading and backtests.

Pure and deterministic: no sockets, no clock, no randomness. Time comes in as epoch ms through
`advance(now_ms)` and the `now_ms` of each request (never backwards: an earlier time is treated as
the engine's current time). Prices come from a `PricePath` per symbol (the replay's intra-bar path).

Matching model (documented simplifications):
- Liquidity is unlimited at the path price: every fill is a full fill, never partial.
- A LIMIT order that is marketable on arrival (buy: limit >= price, sell: limit <= price) fills at
  once as taker at the current price plus slippage, never beyond its limit. GTC/GTX orders that are
  not marketable rest; IOC/FOK orders that are not marketable expire (NEW then EXPIRED events).
- GTX (post-only) that would take is rejected with -5022, as binance-facts.md documents for the
  current API (older API versions accepted it and sent EXPIRED; the daemon handles both).
- A resting buy limit fills as maker at its limit price as soon as the path trades at or below it
  (a sell: at or above it), checked over every instant since the last advance, so a wick between
  two advances is not missed. Fills happen at the advance's time.
- MARKET orders fill as taker at the path price ± `slippage_bps`, rounded to the tick against the
  taker. Fees (maker/taker rate × quote qty) are charged in USDT.
- reduceOnly must shrink the position without flipping it: rejected (-2022) when flat, on the same
  side or larger than the position; a resting reduce-only order that could no longer do so expires.
- Margin (cross, USDT): an order needs (the part of its qty that adds exposure) × price / leverage
  of available balance (-2019). Open orders reserve that margin until they fill or end.
- Funding: at each symbol's funding times (every `funding_interval_hours`, aligned to 00:00 UTC)
  a position pays amount × mark × rate (a long pays when the rate is positive).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Protocol

from core.instruments import Instrument
from simulator.account import ASSET, Account, money
from simulator.engine_types import (
    AccountEvent,
    AccountSummary,
    BalanceSnapshot,
    EngineConfig,
    NewOrder,
    Order,
    OrderEvent,
    PositionSnapshot,
    Trade,
    UserEvent,
)
from simulator.errors import SimError
from simulator.funding import (
    FundingSchedule,
    funding_interval_ms,
    funding_rate,
    is_funding_time,
    next_funding_time,
)
from simulator.matching import average_price, crosses, next_part, opposite, reduces, taker_price
from simulator.order_rules import (
    MSG_DUPLICATE_ID,
    MSG_INVALID_SYMBOL,
    MSG_MARGIN,
    MSG_MAX_ORDERS,
    MSG_NO_ORDER,
    MSG_POST_ONLY,
    MSG_REDUCE_ONLY,
    MSG_UNKNOWN_ORDER,
    check_filters,
)

MAINT_MARGIN_RATE = Decimal("0.004")  # first leverage bracket's maintenance ratio
_ZERO = Decimal(0)


class PricePath(Protocol):
    """The price of one symbol at any millisecond (the replay's intra-bar path)."""

    def price_at(self, now_ms: int) -> Decimal: ...

    def price_range(self, after_ms: int, until_ms: int) -> tuple[Decimal, Decimal]: ...


class MatchingEngine:
    """Orders, fills, the account and funding for one simulated account.

    Funding follows `funding` where it announced a symbol's times and rates (paper mode), and
    otherwise the configured schedule (every `funding_interval_hours` from 00:00 UTC, default rate).
    """

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        prices: Mapping[str, PricePath],
        config: EngineConfig,
        start_ms: int,
        funding: FundingSchedule | None = None,
    ) -> None:
        self.instruments = instruments
        self.prices = prices
        self.config = config
        self._funding = funding
        self.account = Account(config.starting_balance, config.default_leverage)
        self._now = start_ms
        self._orders: dict[int, Order] = {}
        self._open: dict[str, dict[int, Order]] = {}  # symbol -> open orders by id (placement order)
        self._by_client_id: dict[tuple[str, str], int] = {}  # latest order with that id
        self._trades: list[Trade] = []
        self._events: list[UserEvent] = []
        self._next_order_id = config.first_order_id
        self._next_trade_id = config.first_trade_id

    # --- time ----------------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self._now

    def advance(self, now_ms: int) -> None:
        """Process time up to `now_ms`: resting fills, then funding, in time order."""
        while now_ms > self._now:
            funding_at = self._next_funding_due(now_ms)
            step_to = funding_at if funding_at is not None else now_ms
            if any(self._open.values()):
                # One minute at a time while orders rest, so a fill carries the minute it happened in.
                step_to = min(step_to, self._now - self._now % 60_000 + 60_000)
            self._match_resting(step_to)
            self._now = step_to
            if funding_at is not None and step_to == funding_at:
                self._pay_funding(funding_at)

    def drain_events(self) -> list[UserEvent]:
        """The user events produced since the last drain, in order."""
        events, self._events = self._events, []
        return events

    # --- queries -------------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        """The symbol's rules, or -1121."""
        inst = self.instruments.get(symbol)
        if inst is None or symbol not in self.prices:
            raise SimError(-1121, MSG_INVALID_SYMBOL)
        return inst

    def mark_price(self, symbol: str, now_ms: int | None = None) -> Decimal:
        """Mark price = the path price (at the engine's time unless `now_ms` is given)."""
        self.instrument(symbol)
        return self.prices[symbol].price_at(self._now if now_ms is None else now_ms)

    def get_order(
        self, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """An order by id or client id (the latest with that client id), or -2013."""
        found = self._find(symbol, order_id, client_order_id)
        if found is None:
            raise SimError(-2013, MSG_NO_ORDER)
        return found

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders of one symbol or all, oldest first."""
        symbols = [symbol] if symbol is not None else sorted(self._open)
        return [o for s in symbols for o in self._open.get(s, {}).values()]

    def orders(self, symbol: str) -> list[Order]:
        """Every order of a symbol, oldest first."""
        return [o for o in self._orders.values() if o.symbol == symbol]

    def trades(self, symbol: str) -> list[Trade]:
        """Every fill of a symbol, oldest first."""
        return [t for t in self._trades if t.symbol == symbol]

    def funding_interval_ms(self, symbol: str) -> int:
        """The symbol's funding interval."""
        return funding_interval_ms(self.config, symbol)

    def next_funding_time(self, symbol: str, now_ms: int) -> int:
        """The first funding time strictly after `now_ms` (an announced one, if any)."""
        return next_funding_time(self.config, self._funding, symbol, now_ms)

    def funding_rate(self, symbol: str, funding_time: int) -> Decimal:
        """The rate applied at `funding_time`: the announced one, else the configured default."""
        return funding_rate(self.config, self._funding, symbol, funding_time)

    def summary(self) -> AccountSummary:
        """Wallet, unrealized PnL and margins at the current mark prices."""
        unrealized = position_im = maint = _ZERO
        for pos in self.account.positions():
            if pos.amount:
                mark = self.mark_price(pos.symbol)
                unrealized += self.account.unrealized(pos.symbol, mark)
                notional = abs(pos.amount) * mark
                position_im += notional / pos.leverage
                maint += notional * MAINT_MARGIN_RATE
        order_im = sum((o.margin for o in self.open_orders()), _ZERO)
        return AccountSummary(
            self.account.wallet, unrealized, money(position_im), money(order_im), money(maint)
        )

    def position_snapshot(self, symbol: str) -> PositionSnapshot:
        """The symbol's position with unrealized PnL at the current mark."""
        pos = self.account.position(symbol)
        unrealized = self.account.unrealized(symbol, self.mark_price(symbol)) if pos.amount else _ZERO
        return PositionSnapshot(symbol, pos.amount, pos.entry_price, pos.realized, unrealized)

    # --- commands ------------------------------------------------------------------------------

    def set_leverage(self, symbol: str, leverage: int, now_ms: int) -> int:
        """Change a symbol's leverage (1..max_leverage, else -4028)."""
        self.instrument(symbol)
        if not 1 <= leverage <= self.config.max_leverage:
            raise SimError(-4028, f"Leverage {leverage} is not valid")
        self.account.set_leverage(symbol, leverage, max(now_ms, self._now))
        return leverage

    def place_order(self, req: NewOrder, now_ms: int) -> Order:
        """Validate and place an order; return it as it stands after any immediate fill."""
        self.advance(now_ms)
        now = self._now
        inst = self.instrument(req.symbol)
        current = self.prices[req.symbol].price_at(now)
        check_filters(req, inst, current)
        position = self.account.position(req.symbol).amount
        if req.reduce_only and not reduces(position, req.side, req.quantity):
            raise SimError(-2022, MSG_REDUCE_ONLY)
        open_orders = self._open.setdefault(req.symbol, {})
        if req.client_order_id is not None:
            prev = self._by_client_id.get((req.symbol, req.client_order_id))
            if prev is not None and prev in open_orders:
                raise SimError(-4116, MSG_DUPLICATE_ID)
        if len(open_orders) >= inst.max_num_orders:
            raise SimError(-2025, MSG_MAX_ORDERS)
        marketable = req.type == "MARKET" or crosses(req.side, req.price or _ZERO, current, current)
        if req.time_in_force == "GTX" and req.type == "LIMIT" and marketable:
            raise SimError(-5022, MSG_POST_ONLY)
        price_for_margin = req.price if req.price is not None else current
        margin = _ZERO
        if not req.reduce_only:
            adding = req.quantity - (abs(position) if opposite(position, req.side) else _ZERO)
            margin = money(max(adding, _ZERO) * price_for_margin / self.account.leverage(req.symbol))
            if margin > self.summary().available_balance:
                raise SimError(-2019, MSG_MARGIN)
        order = self._create(req, now, margin)
        if marketable:
            price = taker_price(req.side, req.price, current, inst.tick_size, self.config.slippage_bps)
            while order.executed_qty < order.orig_qty:
                order = self._fill(order, price, self._next_part(order), maker=False, now=now)
        elif req.time_in_force in ("IOC", "FOK"):
            self._end(order, "EXPIRED", now)
        else:
            open_orders[order.order_id] = order
        return self._orders[order.order_id]

    def cancel_order(
        self, symbol: str, now_ms: int, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an open order; -2011 when unknown or no longer open."""
        self.advance(now_ms)
        self.instrument(symbol)
        order = self._find(symbol, order_id, client_order_id)
        if order is None or not order.is_open:
            raise SimError(-2011, MSG_UNKNOWN_ORDER)
        return self._end(order, "CANCELED", self._now)

    # --- internals -----------------------------------------------------------------------------

    def _find(self, symbol: str, order_id: int | None, client_order_id: str | None) -> Order | None:
        if order_id is None and client_order_id is not None:
            order_id = self._by_client_id.get((symbol, client_order_id))
        order = self._orders.get(order_id) if order_id is not None else None
        return order if order is not None and order.symbol == symbol else None

    def _create(self, req: NewOrder, now: int, margin: Decimal) -> Order:
        order_id = self._next_order_id
        self._next_order_id += 1
        client_id = req.client_order_id or f"sim-{order_id}"
        order = Order(
            order_id,
            client_id,
            req.symbol,
            req.side,
            req.type,
            req.time_in_force,
            req.quantity,
            req.price if req.price is not None else _ZERO,
            req.reduce_only,
            "NEW",
            _ZERO,
            _ZERO,
            _ZERO,
            now,
            now,
            margin,
        )
        self._orders[order_id] = order
        self._by_client_id[(req.symbol, client_id)] = order_id
        self._events.append(OrderEvent("NEW", order, None, now))
        return order

    def _end(self, order: Order, status: str, now: int) -> Order:
        ended = replace(order, status=status, update_time=now, margin=_ZERO)
        self._orders[order.order_id] = ended
        self._open.get(order.symbol, {}).pop(order.order_id, None)
        self._events.append(OrderEvent(status, ended, None, now))
        return ended

    def _next_part(self, order: Order) -> Decimal:
        """The quantity of `order`'s next trade: what remains, or a `fill_parts` share of it."""
        return next_part(order, self.config.fill_parts, self.instruments[order.symbol].step_size)

    def _fill(self, order: Order, price: Decimal, qty: Decimal, *, maker: bool, now: int) -> Order:
        """One trade of `qty` at `price`: book it, update the order, emit its events."""
        quote = qty * price
        fee = money(quote * (self.config.maker_fee if maker else self.config.taker_fee))
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        realized = self.account.apply_fill(order.symbol, order.side, qty, price, fee, now, trade_id)
        trade = Trade(
            trade_id,
            order.order_id,
            order.symbol,
            order.side,
            price,
            qty,
            quote,
            fee,
            ASSET,
            realized,
            maker,
            now,
        )
        self._trades.append(trade)
        executed = order.executed_qty + qty
        cum_quote = order.cum_quote + quote
        done = executed >= order.orig_qty
        filled = replace(
            order,
            status="FILLED" if done else "PARTIALLY_FILLED",
            executed_qty=executed,
            cum_quote=cum_quote,
            avg_price=price if order.avg_price in (_ZERO, price) else average_price(cum_quote, executed),
            update_time=now,
            # The margin still reserved is the unfilled share's: it shrinks with what remains.
            margin=(
                _ZERO
                if done
                else money(order.margin * (order.orig_qty - executed) / (order.orig_qty - order.executed_qty))
            ),
        )
        self._orders[order.order_id] = filled
        resting = self._open.get(order.symbol, {})
        if done:
            resting.pop(order.order_id, None)
        elif order.order_id in resting:
            resting[order.order_id] = filled
        self._events.append(OrderEvent("TRADE", filled, trade, now))
        self._events.append(self._account_event("ORDER", _ZERO, (self.position_snapshot(order.symbol),), now))
        return filled

    def _account_event(
        self, reason: str, change: Decimal, positions: tuple[PositionSnapshot, ...], now: int
    ) -> AccountEvent:
        wallet = self.account.wallet
        return AccountEvent(reason, (BalanceSnapshot(ASSET, wallet, wallet, change),), positions, now)

    def _match_resting(self, until: int) -> None:
        for symbol in sorted(self._open):
            orders = self._open[symbol]
            if not orders:
                continue
            low, high = self.prices[symbol].price_range(self._now, until)
            for order in list(orders.values()):
                if not crosses(order.side, order.price, low, high):
                    continue
                position = self.account.position(symbol).amount
                remaining = order.orig_qty - order.executed_qty
                if order.reduce_only and not reduces(position, order.side, remaining):
                    self._end(order, "EXPIRED", until)
                else:
                    self._fill(order, order.price, self._next_part(order), maker=True, now=until)

    def _next_funding_due(self, until: int) -> int | None:
        due = [self.next_funding_time(p.symbol, self._now) for p in self.account.positions() if p.amount]
        first = min(due, default=None)
        return first if first is not None and first <= until else None

    def _pay_funding(self, at: int) -> None:
        for pos in self.account.positions():
            if pos.amount and is_funding_time(self.config, self._funding, pos.symbol, at):
                mark = self.prices[pos.symbol].price_at(at)
                change = self.account.apply_funding(pos.symbol, mark, self.funding_rate(pos.symbol, at), at)
                # Binance: a cross-margin FUNDING_FEE update carries the balance only, no positions.
                self._events.append(self._account_event("FUNDING_FEE", change, (), at))

