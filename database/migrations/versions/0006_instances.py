"""orders.instance_id: the daemon that wrote the row (several daemons on one PostgreSQL)

Revision ID: 0006_instances
Revises: 0005_backtest_trades
Create Date: 2026-12-04 21:20:00.000000

Rows already stored get '' (written by a single daemon, before instances were recorded); the
server default is then removed: the model has none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006_instances'
down_revision: str | None = '0005_backtest_trades'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        # The default stays: a row written without it (an older tool, a restore script, a
        # single daemon) still inserts, as "no instance named".
        batch_op.add_column(sa.Column('instance_id', sa.String(length=64), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('instance_id')
