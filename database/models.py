"""The database tables (SQLModel) and who writes them.

| table             | written by                         | holds                                        |
|-------------------|------------------------------------|----------------------------------------------|
| orders            | executor.orders.store               | every order, PENDING_NEW before it is sent   |
| order_events      | executor.orders.store               | the audit trail of each order's states       |
| fills             | executor.orders.store               | our trades, unique on (symbol, trade_id)     |
| positions         | executor.orders.store               | one-way position per symbol, PnL, fees       |
| funding_payments  | executor.orders.store               | funding fees, unique on (symbol, time)       |
| signals           | trader.audit                       | every signal with the inputs that fired it   |
| risk_decisions    | executor.risk.gate                 | every accept/reject with reason and numbers  |
| volatility_events | trader.audit                       | 5-second volatility guard activations        |
| candles_1m        | trader.market_data (upsert_candles)| closed 1m candles, key (symbol, open_time)   |
| candles           | backtest.store (data import)       | other intervals, key (symbol, interval, time)|
| funding_rates     | backtest.store (data import)       | archived funding rates, (symbol, time)       |
| strategy_state    | trader.audit.DatabaseStateStore    | strategy state that survives a restart       |
| control           | executor.risk.kill_switch               | the kill switch and per-symbol halts         |
| alerts            | alerts.store                       | alerts, repeats counted, delivery status     |
| equity_snapshots  | (equity issue)                     | the equity curve                             |
| backtest_runs     | backtest.saving                    | backtest configurations and results          |
| backtest_trades   | backtest.saving                    | the round trips of each backtest run         |
| reconciliation_*  | executor.orders.reconciler         | each reconciliation run and each difference  |

The dashboard reads every table, read-only.

Conventions: money, prices and quantities are `Money` (exact Decimal, database/types.py); times are
BIGINT epoch milliseconds named `*_time` (or `time`); JSON documents (signal inputs, risk details,
strategy state, backtest config/result) are TEXT the writer serialises with `json.dumps`; ids are
autoincrement integers. A table class refuses keyword arguments that are not its columns: SQLModel
would otherwise drop a misspelt column silently and write its default.

A schema change is a new Alembic revision in database/migrations/versions; the test suite fails
when the migrations and these classes disagree.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Index, MetaData, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from database.columns import (
    ASSET_WIDTH,
    CLIENT_ID_WIDTH,
    ENUM_WIDTH,
    INSTANCE_WIDTH,
    SIGNAL_ID_WIDTH,
    STRATEGY_WIDTH,
    SYMBOL_WIDTH,
    Table,
    millis_column,
    money_column,
    text_column,
)

metadata: MetaData = SQLModel.metadata
_SYMBOL = SYMBOL_WIDTH
_STRATEGY = STRATEGY_WIDTH
_ENUM = ENUM_WIDTH
_CLIENT_ID = CLIENT_ID_WIDTH
_SIGNAL_ID = SIGNAL_ID_WIDTH
_ASSET = ASSET_WIDTH
_text = text_column
_millis = millis_column
_money = money_column
_Table = Table


def _instance() -> str:
    """The `instance_id` column: the daemon that wrote the row; '' (also the server default, so a
    row written without it still inserts) for rows from before instances were recorded."""
    value: str = Field(default="", max_length=INSTANCE_WIDTH, sa_column_kwargs={"server_default": ""})
    return value


# --- the order path ------------------------------------------------------------------------------


class OrderRow(_Table, table=True):
    """One order intent, from PENDING_NEW (written before any byte is sent) to its final state.

    `state` is core.order_state.OrderState's name; `expire_time` is the TTL deadline of a resting
    entry (None: no TTL); `intent` says why the order exists (entry, exit, TTL re-price...).
    """

    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(max_length=_CLIENT_ID, unique=True)
    symbol: str = Field(max_length=_SYMBOL, index=True)
    strategy: str = Field(default="", max_length=_STRATEGY)
    side: str = Field(max_length=_ENUM)
    order_type: str = Field(max_length=_ENUM)
    time_in_force: str | None = Field(default=None, max_length=_ENUM)
    quantity: Decimal = _money()
    price: Decimal | None = _money(None)
    reduce_only: bool = False
    state: str = Field(max_length=_ENUM, index=True)
    venue_order_id: int | None = _millis(default=None)  # the venue's order id (BIGINT)
    filled_qty: Decimal = _money()
    avg_price: Decimal = _money()
    cum_quote: Decimal = _money()
    signal_id: str | None = Field(default=None, max_length=_SIGNAL_ID, index=True)
    intent: str = Field(default="", max_length=_ENUM)
    reason: str = _text()
    send_attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text())
    created_time: int = _millis()
    updated_time: int = _millis()
    expire_time: int | None = _millis(default=None)
    # The daemon that wrote it (several daemons on one PostgreSQL); '' before revision 0006.
    instance_id: str = _instance()


class OrderEventRow(_Table, table=True):
    """One state change of one order (`event` is the new state's name): the audit trail."""

    __tablename__ = "order_events"

    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(max_length=_CLIENT_ID, index=True)
    event: str = Field(max_length=_ENUM)
    detail: str = _text()
    event_time: int = _millis()


class FillRow(_Table, table=True):
    """One of our trades; the venue's (symbol, trade_id) books it exactly once.

    `order_id` is the venue's order id (Binance's name for it); `realized_pnl` is what the fill
    realized in our own accounting.
    """

    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("symbol", "trade_id"),)

    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(max_length=_SYMBOL)  # queries by symbol use the (symbol, trade_id) key
    trade_id: int = _millis()
    order_id: int = _millis()
    client_order_id: str = Field(max_length=_CLIENT_ID, index=True)
    side: str = Field(max_length=_ENUM)
    price: Decimal = _money()
    quantity: Decimal = _money()
    commission: Decimal = _money()
    commission_asset: str = Field(default="USDT", max_length=_ASSET)
    realized_pnl: Decimal = _money()
    is_maker: bool = False
    time: int = _millis(index=True)  # the day's realized PnL is summed by time
    instance_id: str = _instance()  # the daemon that booked it; '' before revision 0007


class PositionRow(_Table, table=True):
    """The one-way-mode position of a symbol; `quantity` is signed (short < 0)."""

    __tablename__ = "positions"

    symbol: str = Field(max_length=_SYMBOL, primary_key=True)
    strategy: str = Field(default="", max_length=_STRATEGY)
    quantity: Decimal = _money()
    entry_price: Decimal = _money()
    realized_pnl: Decimal = _money()
    fees: Decimal = _money()
    funding: Decimal = _money()
    opened_time: int | None = _millis(default=None)
    updated_time: int = _millis()
    instance_id: str = _instance()  # the daemon that wrote it last; '' before revision 0007


class FundingPaymentRow(_Table, table=True):
    """A funding fee paid (< 0) or received (> 0); one per (symbol, time)."""

    __tablename__ = "funding_payments"
    __table_args__ = (UniqueConstraint("symbol", "time"),)

    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(max_length=_SYMBOL)
    amount: Decimal = _money()
    asset: str = Field(default="USDT", max_length=_ASSET)
    time: int = _millis()


FundingRow = FundingPaymentRow  # the name the database brief uses


# --- strategies and risk -------------------------------------------------------------------------


class SignalRow(_Table, table=True):
    """A strategy signal with the indicator values that made it fire (`inputs`: JSON str -> str)."""

    __tablename__ = "signals"

    id: int | None = Field(default=None, primary_key=True)
    signal_id: str = Field(max_length=_SIGNAL_ID, unique=True)
    symbol: str = Field(max_length=_SYMBOL, index=True)
    strategy: str = Field(max_length=_STRATEGY)
    action: str = Field(max_length=_ENUM)
    reason: str = _text()
    price: Decimal = _money()
    notional: Decimal | None = _money(None)
    inputs: str = _text("{}")
    event_time: int = _millis(index=True)
    instance_id: str = _instance()  # the daemon whose strategy fired it; '' before revision 0007


class RiskDecisionRow(_Table, table=True):
    """The risk gate's verdict on a signal, with the numbers behind it (`details`: JSON)."""

    __tablename__ = "risk_decisions"

    id: int | None = Field(default=None, primary_key=True)
    signal_id: str = Field(max_length=_SIGNAL_ID, index=True)
    symbol: str = Field(max_length=_SYMBOL, index=True)
    strategy: str = Field(max_length=_STRATEGY)
    accepted: bool
    reason: str = _text()
    details: str = _text("{}")
    event_time: int = _millis(index=True)


class VolatilityEventRow(_Table, table=True):
    """One activation of the 5-second volatility guard: entries blocked until `until_time`."""

    __tablename__ = "volatility_events"

    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(max_length=_SYMBOL, index=True)
    strategy: str = Field(max_length=_STRATEGY)
    range_fraction: Decimal = _money()
    threshold: Decimal = _money()
    until_time: int = _millis()
    event_time: int = _millis()


class StrategyStateRow(_Table, table=True):
    """A strategy's persisted state (JSON) for one symbol."""

    __tablename__ = "strategy_state"

    symbol: str = Field(max_length=_SYMBOL, primary_key=True)
    strategy: str = Field(max_length=_STRATEGY, primary_key=True)
    state: str = _text("{}")
    updated_time: int = _millis()


class ControlRow(_Table, table=True):
    """Operator controls that survive restarts: the kill switch and per-symbol halts."""

    __tablename__ = "control"

    key: str = Field(max_length=128, primary_key=True)
    value: str = _text()
    updated_time: int = _millis()


# --- market data ---------------------------------------------------------------------------------


class CandleRow(_Table, table=True):
    """A closed 1m candle; (symbol, open_time) is the key, so a candle is stored once."""

    __tablename__ = "candles_1m"

    symbol: str = Field(max_length=_SYMBOL, primary_key=True)
    open_time: int = Field(sa_type=BigInteger(), primary_key=True, sa_column_kwargs={"autoincrement": False})
    close_time: int = _millis()
    open: Decimal = _money()
    high: Decimal = _money()
    low: Decimal = _money()
    close: Decimal = _money()
    volume: Decimal = _money()
    quote_volume: Decimal = _money()
    trades: int = 0


# --- later issues --------------------------------------------------------------------------------


class AlertRow(_Table, table=True):
    """One alert for humans, with its repeats folded in: written by alerts.store.

    A row is one (kind, symbol) `key` from its first occurrence (`time`) to its last (`last_time`);
    `occurrences` counts every one of them, also those folded into a later message. `status` is the
    delivery of its latest message: pending, delivered, undelivered (gave up, `error` says why),
    dropped (the queue was full), or logged (no Slack destination configured).
    """

    __tablename__ = "alerts"
    __table_args__ = (Index(None, "status", "time"),)

    id: int | None = Field(default=None, primary_key=True)
    time: int = _millis(index=True)
    last_time: int = _millis()
    severity: str = Field(max_length=_ENUM)
    kind: str = Field(max_length=64)
    symbol: str | None = Field(default=None, max_length=_SYMBOL)
    key: str = Field(max_length=128, index=True)
    message: str = _text()
    occurrences: int = 1
    status: str = Field(max_length=_ENUM)
    attempts: int = 0
    error: str = _text()


class EquityRow(_Table, table=True):
    """A point of the equity curve: equity = wallet balance + unrealized PnL."""

    __tablename__ = "equity_snapshots"

    id: int | None = Field(default=None, primary_key=True)
    time: int = _millis(index=True)
    wallet_balance: Decimal = _money()
    unrealized_pnl: Decimal = _money()
    equity: Decimal = _money()


class BacktestRunRow(_Table, table=True):
    """One backtest run: its configuration and result (JSON), the config's hash and the data range.

    Its trades are in `backtest_trades` (database/backtest_tables.py).
    """

    __tablename__ = "backtest_runs"

    id: int | None = Field(default=None, primary_key=True)
    created_time: int = _millis(index=True)
    name: str = Field(default="", sa_type=String(200))
    config: str = _text("{}")
    result: str = _text("{}")
    status: str = Field(default="", max_length=_ENUM)
    config_hash: str = Field(default="", max_length=64)
    start_time: int = _millis()  # the data range: first candle's open
    end_time: int = _millis()  # ... and the first millisecond after the last candle


# Tables kept in their own modules (one subject each); imported here so the metadata has them all.
from database.backtest_tables import BacktestTradeRow  # noqa: E402
from database.history_tables import FundingRateRow, IntervalCandleRow  # noqa: E402
from database.reconciliation_tables import ReconciliationDifferenceRow, ReconciliationRunRow  # noqa: E402

TABLES: tuple[type[SQLModel], ...] = (
    OrderRow,
    OrderEventRow,
    FillRow,
    PositionRow,
    FundingPaymentRow,
    SignalRow,
    RiskDecisionRow,
    VolatilityEventRow,
    StrategyStateRow,
    ControlRow,
    CandleRow,
    AlertRow,
    EquityRow,
    BacktestRunRow,
    ReconciliationRunRow,
    ReconciliationDifferenceRow,
    IntervalCandleRow,
    FundingRateRow,
    BacktestTradeRow,
)

__all__ = [
    "TABLES",
    "AlertRow",
    "BacktestRunRow",
    "BacktestTradeRow",
    "CandleRow",
    "ControlRow",
    "EquityRow",
    "FillRow",
    "FundingPaymentRow",
    "FundingRateRow",
    "FundingRow",
    "IntervalCandleRow",
    "OrderEventRow",
    "OrderRow",
    "PositionRow",
    "ReconciliationDifferenceRow",
    "ReconciliationRunRow",
    "RiskDecisionRow",
    "SignalRow",
    "StrategyStateRow",
    "VolatilityEventRow",
    "metadata",
]
