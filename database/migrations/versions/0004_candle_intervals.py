"""candles of other intervals than 1m, and funding rates, for imported history

Revision ID: 0004_candle_intervals
Revises: 0003_alerts
Create Date: 2026-12-04 20:20:00.000000

Two new tables; candles_1m and its rows are untouched (1m candles stay there, where the daemon
warms up from), so every stored row keeps its place and meaning.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from database.types import Money


revision: str = '0004_candle_intervals'
down_revision: str | None = '0003_alerts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('candles',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('open_time', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('close_time', sa.BigInteger(), nullable=False),
    sa.Column('open', Money(), nullable=False),
    sa.Column('high', Money(), nullable=False),
    sa.Column('low', Money(), nullable=False),
    sa.Column('close', Money(), nullable=False),
    sa.Column('volume', Money(), nullable=False),
    sa.Column('quote_volume', Money(), nullable=False),
    sa.Column('trades', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('symbol', 'interval', 'open_time', name=op.f('pk_candles'))
    )
    op.create_table('funding_rates',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('funding_time', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('interval_hours', sa.Integer(), nullable=False),
    sa.Column('rate', Money(), nullable=False),
    sa.PrimaryKeyConstraint('symbol', 'funding_time', name=op.f('pk_funding_rates'))
    )


def downgrade() -> None:
    op.drop_table('funding_rates')
    op.drop_table('candles')
