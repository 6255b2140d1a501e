"""Imported market history: candles of intervals other than 1m, and funding rates.

Written by `python -m trader data import` (backtest/store.py); read by the backtest. 1m candles go
to `candles_1m` (models.CandleRow), the table the daemon warms up from, so imported 1m history serves
both; coarser candles (3m, 1h, ...) are kept here with their interval, keyed (symbol, interval,
open_time) so a candle is stored once. Funding rates are the archive's `fundingRate` files: one
row per (symbol, funding_time).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger
from sqlmodel import Field

from database.columns import SYMBOL_WIDTH, Table, millis_column, money_column

INTERVAL_WIDTH = 8  # "1m", "15m", "1h", "1d", "1w", "1M"


class IntervalCandleRow(Table, table=True):
    """A closed candle of `interval` (Binance's spelling: 3m, 1h, 1d...); 1m candles live in candles_1m."""

    __tablename__ = "candles"

    symbol: str = Field(max_length=SYMBOL_WIDTH, primary_key=True)
    interval: str = Field(max_length=INTERVAL_WIDTH, primary_key=True)
    open_time: int = Field(sa_type=BigInteger(), primary_key=True, sa_column_kwargs={"autoincrement": False})
    close_time: int = millis_column()
    open: Decimal = money_column()
    high: Decimal = money_column()
    low: Decimal = money_column()
    close: Decimal = money_column()
    volume: Decimal = money_column()
    quote_volume: Decimal = money_column()
    trades: int = 0


class FundingRateRow(Table, table=True):
    """A funding rate the venue applied at `funding_time` (the archive's calc_time)."""

    __tablename__ = "funding_rates"

    symbol: str = Field(max_length=SYMBOL_WIDTH, primary_key=True)
    funding_time: int = Field(
        sa_type=BigInteger(), primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    interval_hours: int = 8
    rate: Decimal = money_column()


__all__ = ["INTERVAL_WIDTH", "FundingRateRow", "IntervalCandleRow"]
