"""The matching engine's typed records, as the order path sees a venue's: `executor/venue_api.py`
records for REST-like answers, `core.events` for the user-data stream.

The same values the loopback simulator would put on the wire, without the wire: amounts of USDT
carry 8 decimals as Binance prints them, prices and quantities are exact.
"""

from __future__ import annotations

from decimal import Decimal

from core.events import (
    AccountUpdate,
    BalanceChange,
    ExecutionReport,
    ExecutionType,
    PositionChange,
    VenueOrderStatus,
)
from executor.venue_api import VenueIncome, VenueOrder, VenuePosition, VenueTrade
from simulator.account import money
from simulator.engine_types import AccountEvent, Income, Order, OrderEvent, PositionSnapshot, Trade

_ZERO = Decimal(0)


def venue_order(order: Order) -> VenueOrder:
    """An order as GET /fapi/v1/order would report it."""
    return VenueOrder(
        symbol=order.symbol,
        client_order_id=order.client_order_id,
        order_id=order.order_id,
        side=order.side,
        order_type=order.type,
        time_in_force=order.time_in_force,
        status=VenueOrderStatus(order.status),
        orig_qty=order.orig_qty,
        price=order.price,
        avg_price=order.avg_price,
        executed_qty=order.executed_qty,
        cum_quote=order.cum_quote,
        reduce_only=order.reduce_only,
        update_time=order.update_time,
    )


def venue_trade(trade: Trade) -> VenueTrade:
    """A fill as GET /fapi/v1/userTrades would report it."""
    return VenueTrade(
        symbol=trade.symbol,
        trade_id=trade.trade_id,
        order_id=trade.order_id,
        side=trade.side,
        price=trade.price,
        quantity=trade.qty,
        quote_qty=trade.quote_qty,
        commission=money(trade.commission),
        commission_asset=trade.commission_asset,
        realized_pnl=money(trade.realized_pnl),
        is_maker=trade.maker,
        time=trade.time,
    )


def venue_income(income: Income) -> VenueIncome:
    """An income record as GET /fapi/v1/income would report it."""
    return VenueIncome(
        symbol=income.symbol,
        income_type=income.income_type,
        amount=money(income.income),
        asset=income.asset,
        time=income.time,
        tran_id=income.tran_id,
    )


def venue_position(
    snapshot: PositionSnapshot, mark: Decimal, leverage: int, update_time: int
) -> VenuePosition:
    """A position as GET /fapi/v3/positionRisk would report it."""
    return VenuePosition(
        symbol=snapshot.symbol,
        quantity=snapshot.amount,
        entry_price=snapshot.entry_price,
        mark_price=mark,
        unrealized_pnl=money(snapshot.unrealized),
        notional=snapshot.amount * mark,
        leverage=leverage,
        update_time=update_time,
    )


def execution_report(event: OrderEvent) -> ExecutionReport:
    """ORDER_TRADE_UPDATE for one order event of the engine."""
    order, trade = event.order, event.trade
    return ExecutionReport(
        symbol=order.symbol,
        client_order_id=order.client_order_id,
        order_id=order.order_id,
        side=order.side,
        order_type=order.type,
        time_in_force=order.time_in_force,
        orig_qty=order.orig_qty,
        price=order.price,
        avg_price=order.avg_price,
        status=VenueOrderStatus(order.status),
        execution_type=ExecutionType(event.execution),
        cum_filled_qty=order.executed_qty,
        last_filled_qty=trade.qty if trade else _ZERO,
        last_filled_price=trade.price if trade else _ZERO,
        commission=money(trade.commission) if trade else _ZERO,
        commission_asset=trade.commission_asset if trade else "USDT",
        trade_id=trade.trade_id if trade else None,
        realized_pnl=money(trade.realized_pnl) if trade else _ZERO,
        reduce_only=order.reduce_only,
        is_maker=trade.maker if trade else False,
        transaction_time=event.time,
        event_time=event.time,
    )


def account_update(event: AccountEvent) -> AccountUpdate:
    """ACCOUNT_UPDATE (reason ORDER or FUNDING_FEE) for one account event of the engine."""
    return AccountUpdate(
        reason=event.reason,
        balances=tuple(
            BalanceChange(
                b.asset, money(b.wallet_balance), money(b.cross_wallet_balance), money(b.balance_change)
            )
            for b in event.balances
        ),
        positions=tuple(
            PositionChange(p.symbol, p.amount, p.entry_price, money(p.realized), money(p.unrealized), "BOTH")
            for p in event.positions
        ),
        transaction_time=event.time,
        event_time=event.time,
    )
