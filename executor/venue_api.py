"""What the order path needs from a venue (`OrderGateway`) and the plain records it gets back.

Two gateways implement it: the Binance adapter (`executor/binance/gateway.py`, REST on the official
SDK) and the in-process venue (`executor/in_process/`, the simulator's matching engine called
directly). Each translates its venue's answers into these exact, venue-neutral records, so nothing
past a gateway depends on the SDK's classes or on Binance's one-letter field names.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from core.events import OrderRequest, Side, VenueOrderStatus


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue reports it (POST/GET/DELETE /fapi/v1/order, openOrders)."""

    symbol: str
    client_order_id: str
    order_id: int
    side: Side
    order_type: str
    time_in_force: str
    status: VenueOrderStatus
    orig_qty: Decimal
    price: Decimal
    avg_price: Decimal
    executed_qty: Decimal
    cum_quote: Decimal
    reduce_only: bool
    update_time: int

    @property
    def is_open(self) -> bool:
        return self.status in (VenueOrderStatus.NEW, VenueOrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One of our fills (GET /fapi/v1/userTrades)."""

    symbol: str
    trade_id: int
    order_id: int
    side: Side
    price: Decimal
    quantity: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    is_maker: bool
    time: int


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """A one-way-mode position (GET /fapi/v3/positionRisk); `quantity` is signed (short < 0)."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    notional: Decimal
    leverage: int | None
    update_time: int


@dataclass(frozen=True, slots=True)
class VenueIncome:
    """One entry of the account's income history (GET /fapi/v1/income), e.g. a funding fee."""

    symbol: str
    income_type: str
    amount: Decimal
    asset: str
    time: int
    tran_id: int


@dataclass(frozen=True, slots=True)
class VenueBalance:
    """One asset of the futures wallet (GET /fapi/v3/balance)."""

    asset: str
    wallet_balance: Decimal
    available_balance: Decimal
    unrealized_pnl: Decimal
    update_time: int


class OrderGateway(Protocol):
    """The calls the order path makes; every one raises only `core.errors.GatewayError` kinds."""

    async def place_order(self, request: OrderRequest) -> VenueOrder: ...
    async def query_order(self, symbol: str, client_order_id: str) -> VenueOrder | None: ...
    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder: ...
    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]: ...
    async def user_trades(
        self, symbol: str, start_time: int | None = None, from_id: int | None = None
    ) -> list[VenueTrade]: ...
    async def positions(self) -> list[VenuePosition]: ...
    async def income(
        self, income_type: str, start_time: int, end_time: int, symbol: str | None = None
    ) -> list[VenueIncome]: ...
