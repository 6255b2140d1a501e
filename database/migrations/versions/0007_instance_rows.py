"""fills, positions, signals and reconciliation runs name their daemon: instance_id (several daemons
on one PostgreSQL)

Revision ID: 0007_instance_rows
Revises: 0006_instances
Create Date: 2026-12-04 23:25:00.000000

As with orders (0006): rows already stored get '' (written before instances were recorded), and
the server default stays, so a row written without it (an older tool, a restore script, a single
daemon's raw insert) still inserts, as "no instance named". A position row has one owner at a
time: its instance_id is the daemon that wrote it last.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007_instance_rows'
down_revision: str | None = '0006_instances'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ('fills', 'positions', 'signals', 'reconciliation_runs')


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('instance_id', sa.String(length=64), nullable=False, server_default='')
            )


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('instance_id')
