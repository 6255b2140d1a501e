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
    instance_id: str = "",
) -> int:
    """Write one run (of the daemon `instance_id`) and its differences in one transaction; returns
    the run's id."""
    run = ReconciliationRunRow(
        instance_id=instance_id,
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


def last_run(session: Session, instance_id: str | None = None) -> StoredRun | None:
    """The newest run (of the daemon `instance_id`, or of a run naming none; None: of any daemon),
    or None when there is none on this database."""
    query = select(ReconciliationRunRow)
    if instance_id is not None:
        query = query.where(col(ReconciliationRunRow.instance_id).in_(["", instance_id]))
    row = session.exec(query.order_by(col(ReconciliationRunRow.id).desc())).first()
    if row is None:
        return None
    return StoredRun(row.time, row.trigger, row.result, row.differences, row.detail)
