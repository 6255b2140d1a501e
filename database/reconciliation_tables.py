"""Reconciliation history: every run against the venue and every difference it found.

Written by `executor/orders/reconciler.py`; read by the dashboard's Reconciliation page and
`python -m trader status`.
"""

from __future__ import annotations

from sqlmodel import Field

from database.columns import (
    CLIENT_ID_WIDTH,
    ENUM_WIDTH,
    INSTANCE_WIDTH,
    SYMBOL_WIDTH,
    Table,
    millis_column,
    text_column,
)


class ReconciliationRunRow(Table, table=True):
    """One reconciliation: when, why (start-up, periodic, after a stream reset), and its result.

    `result` is ok (nothing differed), repaired (differences found and repaired), mismatch (a
    position difference no repair explained: that symbol's entries are paused), or failed (the
    venue could not be asked: entries stay paused and the run is retried).
    """

    __tablename__ = "reconciliation_runs"

    id: int | None = Field(default=None, primary_key=True)
    time: int = millis_column(index=True)
    trigger: str = Field(max_length=ENUM_WIDTH)
    result: str = Field(max_length=ENUM_WIDTH)
    differences: int = 0
    duration_ms: int = 0
    detail: str = text_column()
    # The daemon that ran it (several daemons on one PostgreSQL); '' before revision 0007.
    instance_id: str = Field(default="", max_length=INSTANCE_WIDTH, sa_column_kwargs={"server_default": ""})


class ReconciliationDifferenceRow(Table, table=True):
    """One thing the venue and the database disagreed on, and what was done about it."""

    __tablename__ = "reconciliation_differences"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)
    time: int = millis_column(index=True)
    kind: str = Field(max_length=64)
    symbol: str = Field(default="", max_length=SYMBOL_WIDTH)
    client_order_id: str = Field(default="", max_length=CLIENT_ID_WIDTH)
    ours: str = text_column()
    venue: str = text_column()
    action: str = text_column()
