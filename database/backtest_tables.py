"""Backtest results: the trades of each run in `backtest_runs` (models.BacktestRunRow).

Written by `python -m trader backtest` (backtest/saving.py) unless `--no-save`; read by the
dashboard's Backtests page. Money columns are exact (`Money`), times epoch milliseconds.
"""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Field

from database.columns import ENUM_WIDTH, SYMBOL_WIDTH, Table, millis_column, money_column


class BacktestTradeRow(Table, table=True):
    """One round trip of a backtest run: entry, exit, why it exited, what it earned."""

    __tablename__ = "backtest_trades"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)
    symbol: str = Field(max_length=SYMBOL_WIDTH)
    side: str = Field(max_length=ENUM_WIDTH)
    quantity: Decimal = money_column()
    entry_time: int = millis_column()
    entry_price: Decimal = money_column()
    exit_time: int = millis_column()
    exit_price: Decimal = money_column()
    reason: str = Field(max_length=64)
    gross_pnl: Decimal = money_column()
    fees: Decimal = money_column()
    funding: Decimal = money_column()
    net_pnl: Decimal = money_column()


__all__ = ["BacktestTradeRow"]
