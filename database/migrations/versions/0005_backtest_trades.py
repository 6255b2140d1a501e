"""backtest runs: config hash and data range; their trades

Revision ID: 0005_backtest_trades
Revises: 0004_candle_intervals
Create Date: 2026-12-04 20:35:00.000000

backtest_runs gains config_hash, start_time and end_time (rows already stored get '' and 0, then
the server defaults are removed: the models have none); backtest_trades is new.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from database.types import Money


revision: str = '0005_backtest_trades'
down_revision: str | None = '0004_candle_intervals'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADDED = {
    'config_hash': (sa.String(length=64), ''),
    'start_time': (sa.BigInteger(), '0'),
    'end_time': (sa.BigInteger(), '0'),
}


def upgrade() -> None:
    with op.batch_alter_table('backtest_runs', schema=None) as batch_op:
        for name, (type_, default) in _ADDED.items():
            batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=default))
    with op.batch_alter_table('backtest_runs', schema=None) as batch_op:
        for name, (type_, _default) in _ADDED.items():
            batch_op.alter_column(name, existing_type=type_, existing_nullable=False, server_default=None)
    op.create_table('backtest_trades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=32), nullable=False),
    sa.Column('quantity', Money(), nullable=False),
    sa.Column('entry_time', sa.BigInteger(), nullable=False),
    sa.Column('entry_price', Money(), nullable=False),
    sa.Column('exit_time', sa.BigInteger(), nullable=False),
    sa.Column('exit_price', Money(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('gross_pnl', Money(), nullable=False),
    sa.Column('fees', Money(), nullable=False),
    sa.Column('funding', Money(), nullable=False),
    sa.Column('net_pnl', Money(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backtest_trades'))
    )
    with op.batch_alter_table('backtest_trades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backtest_trades_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('backtest_trades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backtest_trades_run_id'))
    op.drop_table('backtest_trades')
    with op.batch_alter_table('backtest_runs', schema=None) as batch_op:
        for name in ('end_time', 'start_time', 'config_hash'):
            batch_op.drop_column(name)
