"""Events that cross the bus: small, typed, immutable.

Times are integer epoch milliseconds on the venue's clock (the `E`/`T` fields Binance sends, or
the simulated clock), named `*_time`. Prices, quantities and money are `Decimal`, never float.
Each event is a frozen, slotted dataclass so a consumer can never change what another one sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

_EMPTY: Mapping[str, str] = MappingProxyType({})


class Side(StrEnum):
    """Order side, spelled as Binance spells it."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    """The order types the daemon sends."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TimeInForce(StrEnum):
    """Binance time-in-force values; GTX is post-only."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"


class VenueOrderStatus(StrEnum):
    """Order status as the venue reports it (`X` in ORDER_TRADE_UPDATE, `status` over REST)."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"  # self-trade prevention expired it


class ExecutionType(StrEnum):
    """Why the venue sent an order update (`x` in ORDER_TRADE_UPDATE)."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    CALCULATED = "CALCULATED"  # liquidation
    EXPIRED = "EXPIRED"
    TRADE = "TRADE"
    AMENDMENT = "AMENDMENT"


class SignalAction(StrEnum):
    """What a strategy asks for."""

    OPEN_LONG = "OPEN_LONG"
    OPEN_SHORT = "OPEN_SHORT"
    CLOSE = "CLOSE"

    @property
    def is_entry(self) -> bool:
        return self is not SignalAction.CLOSE


# --- market data -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candle:
    """A 1m kline: a live update (`closed=False`, every 250 ms) or the final bar (`closed=True`)."""

    symbol: str
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    closed: bool
    event_time: int


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """A markPrice@1s update; `next_funding_time` is the symbol's own schedule (1, 4 or 8 h)."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_time: int
    event_time: int


# --- strategy and risk ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's request to open or close a position, with the inputs that made it fire.

    `signal_id` is deterministic (symbol, strategy, action and the candle that triggered it), so a
    signal replayed after a restart maps to the same order intent and never to a second order.
    `notional` is the position size the strategy wants in quote currency (None for CLOSE).
    """

    signal_id: str
    symbol: str
    strategy: str
    action: SignalAction
    reason: str
    price: Decimal
    event_time: int
    notional: Decimal | None = None
    inputs: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The risk gate's verdict on one signal; recorded whether accepted or not."""

    signal_id: str
    symbol: str
    strategy: str
    accepted: bool
    reason: str
    event_time: int
    details: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class VolatilityGuardTriggered:
    """The 5-second volatility guard blocked new entries on a symbol until `until_time`."""

    symbol: str
    strategy: str
    range_fraction: Decimal
    threshold: Decimal
    until_time: int
    event_time: int


# --- orders -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order the risk gate accepted; the order manager validates, persists, then sends it.

    `client_order_id` is deterministic for the intent and matches ^[.A-Z:/a-z0-9_-]{1,36}$.
    """

    client_order_id: str
    symbol: str
    strategy: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    created_time: int
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    signal_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """One ORDER_TRADE_UPDATE (or its REST equivalent) translated from the wire, untouched.

    `trade_id` and the `last_*` fields are set only for execution type TRADE.
    """

    symbol: str
    client_order_id: str
    order_id: int
    side: Side
    order_type: str
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    avg_price: Decimal
    status: VenueOrderStatus
    execution_type: ExecutionType
    cum_filled_qty: Decimal
    last_filled_qty: Decimal
    last_filled_price: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int | None
    realized_pnl: Decimal
    reduce_only: bool
    is_maker: bool
    transaction_time: int
    event_time: int


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """The order manager's view of an order after a change, published on `order.update`.

    `state` is the local state machine's state name (core/order_state.py). The `last_fill_*`
    fields are set when this update was caused by a new fill.
    """

    client_order_id: str
    symbol: str
    strategy: str
    side: Side
    state: str
    quantity: Decimal
    filled_qty: Decimal
    avg_price: Decimal
    event_time: int
    order_id: int | None = None
    reduce_only: bool = False
    last_fill_qty: Decimal | None = None
    last_fill_price: Decimal | None = None
    trade_id: int | None = None
    commission: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """A symbol's position after a fill or an account update. `quantity` is signed (short < 0).

    `realized_pnl` (gross, like Binance's `rp`), `fees` (USDT commissions paid, > 0) and `funding`
    (received > 0, paid < 0) are cumulative for the symbol; `net_realized` is what the account
    gained from them, what the risk limits count."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    event_time: int
    strategy: str = ""
    fees: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)

    @property
    def net_realized(self) -> Decimal:
        """Realized PnL net of USDT fees and funding."""
        return self.realized_pnl - self.fees + self.funding


# --- account ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """One asset in an ACCOUNT_UPDATE: wallet balance, cross wallet and the change."""

    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    balance_change: Decimal


@dataclass(frozen=True, slots=True)
class PositionChange:
    """One position in an ACCOUNT_UPDATE, as the venue states it."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    accumulated_realized: Decimal
    unrealized_pnl: Decimal
    position_side: str


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """An ACCOUNT_UPDATE: `reason` is Binance's `m` (ORDER, FUNDING_FEE, DEPOSIT, ...)."""

    reason: str
    balances: tuple[BalanceChange, ...]
    positions: tuple[PositionChange, ...]
    transaction_time: int
    event_time: int


@dataclass(frozen=True, slots=True)
class UserStreamReset:
    """The user-data stream was interrupted (reconnect, expired listenKey): reconcile over REST."""

    reason: str
    event_time: int
