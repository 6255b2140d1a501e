"""Typed values the matching engine takes and returns: requests, orders, trades, events, config.

All frozen: the engine replaces an order's record on every change, so an event keeps the order
exactly as it was when the event happened. Only `simulator/wire_*.py` know Binance's JSON names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from core.events import Side

_NO_INTERVALS: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Account and venue parameters of one simulated account."""

    starting_balance: Decimal = Decimal("10000")
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    slippage_bps: Decimal = Decimal("0")
    default_leverage: int = 20
    max_leverage: int = 125
    default_funding_rate: Decimal = Decimal("0.0001")
    funding_interval_hours: int = 8
    # per-symbol funding intervals (1, 4 or 8 h on Binance)
    symbol_funding_hours: Mapping[str, int] = field(default_factory=lambda: _NO_INTERVALS)
    first_order_id: int = 4_000_000_000
    # Every fill is split into this many trades (1: one trade per order). A marketable order takes
    # all its trades at once (as if sweeping the book); a resting order takes one per matching step
    # the price trades through it, so it stays PARTIALLY_FILLED in between. A model, not depth data.
    fill_parts: int = 1
    first_trade_id: int = 900_000_000


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A parsed, typed order request (what the engine places). `price` is None for MARKET."""

    symbol: str
    side: Side
    type: str  # LIMIT | MARKET
    quantity: Decimal
    price: Decimal | None = None
    time_in_force: str = "GTC"  # GTC | IOC | FOK | GTX (LIMIT only)
    reduce_only: bool = False
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the venue holds it. `price` is 0 for MARKET, `avg_price` 0 until a fill."""

    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    type: str
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    reduce_only: bool
    status: str  # NEW | PARTIALLY_FILLED | FILLED | CANCELED | EXPIRED
    executed_qty: Decimal
    cum_quote: Decimal
    avg_price: Decimal
    time: int
    update_time: int
    margin: Decimal = Decimal(0)  # initial margin reserved while open

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill of one order."""

    trade_id: int
    order_id: int
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    maker: bool
    time: int


@dataclass(frozen=True, slots=True)
class PositionState:
    """A one-way position: signed amount, average entry, accumulated realized PnL."""

    symbol: str
    amount: Decimal
    entry_price: Decimal
    realized: Decimal
    update_time: int
    leverage: int


@dataclass(frozen=True, slots=True)
class Income:
    """One income record (REALIZED_PNL, COMMISSION, FUNDING_FEE)."""

    tran_id: int
    symbol: str
    income_type: str
    income: Decimal
    asset: str
    time: int
    trade_id: str = ""
    info: str = ""


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An ORDER_TRADE_UPDATE: `execution` is NEW/TRADE/CANCELED/EXPIRED; `trade` set for TRADE."""

    execution: str
    order: Order
    trade: Trade | None
    time: int


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    """The USDT balance line of an ACCOUNT_UPDATE."""

    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    balance_change: Decimal


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """A position line of an ACCOUNT_UPDATE (unrealized PnL at the mark price of the moment)."""

    symbol: str
    amount: Decimal
    entry_price: Decimal
    realized: Decimal
    unrealized: Decimal


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """An ACCOUNT_UPDATE: `reason` is Binance's m (ORDER, FUNDING_FEE)."""

    reason: str
    balances: tuple[BalanceSnapshot, ...]
    positions: tuple[PositionSnapshot, ...]
    time: int


UserEvent = OrderEvent | AccountEvent


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """Account-wide margin figures at the mark prices of the moment (cross margin, USDT)."""

    wallet_balance: Decimal
    unrealized_pnl: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    maint_margin: Decimal

    @property
    def margin_balance(self) -> Decimal:
        return self.wallet_balance + self.unrealized_pnl

    @property
    def initial_margin(self) -> Decimal:
        return self.position_initial_margin + self.open_order_initial_margin

    @property
    def available_balance(self) -> Decimal:
        return self.margin_balance - self.initial_margin
