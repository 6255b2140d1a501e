"""Storing reconciliation runs and their differences (database thread)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from database.reconciliation_tables import ReconciliationDifferenceRow, ReconciliationRunRow


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing our records and the venue disagreed on, and what reconciliation did about it.

    `explained` is False for a position difference that no repair accounted for: the symbol's
    entries pause until a later reconciliation finds it clean.
    """

    kind: str
    symbol: str
    client_order_id: str = ""
    ours: str = ""
    venue: str = ""
    action: str = ""
    explained: bool = True


@dataclass(frozen=True, slots=True)
class StoredRun:
    """The newest reconciliation run, as `status` and the heartbeat show it after a restart."""

    time: int
    trigger: str
    result: str
    differences: int
    detail: str


def record_run(
    session: Session,
    *,
    time: int,
    trigger: str,
    result: str,
    duration_ms: int,
    detail: str,
    differences: Sequence[Difference],
) -> int:
    """Write one run and its differences in one transaction; returns the run's id."""
    run = ReconciliationRunRow(
        time=time,
        trigger=trigger,
        result=result,
        differences=len(differences),
        duration_ms=duration_ms,
        detail=detail[:2000],
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    for difference in differences:
        session.add(
            ReconciliationDifferenceRow(
                run_id=run.id,
                time=time,
                kind=difference.kind,
                symbol=difference.symbol,
                client_order_id=difference.client_order_id[:36],
                ours=difference.ours,
                venue=difference.venue,
                action=json.dumps({"action": difference.action, "explained": difference.explained}),
            )
        )
    session.commit()
    return run.id


def last_run(session: Session) -> StoredRun | None:
    """The newest run, or None when reconciliation never ran on this database."""
    row = session.exec(select(ReconciliationRunRow).order_by(col(ReconciliationRunRow.id).desc())).first()
    if row is None:
        return None
    return StoredRun(row.time, row.trigger, row.result, row.differences, row.detail)
