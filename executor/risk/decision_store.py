"""What the risk gate writes and reads back: decisions, halts and losing streaks, and the state
that must survive a restart.

Runs on the database thread (`Database.run`). Decisions are written in batches; a conflict (a
decision stored by an earlier run) never loses the others. `load_restored` reads everything the
gate needs before it judges its first signal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.events import RiskDecision
from core.order_state import OrderState
from database.models import ControlRow, FillRow, FundingPaymentRow, OrderRow, RiskDecisionRow
from executor.orders import store as order_store
from executor.orders.positions import FEE_ASSET, Position
from executor.risk.kill_switch import HaltState, read_halts, write_halt
from executor.risk.rules import SymbolHalt

_ZERO = Decimal(0)


def _row(decision: RiskDecision) -> RiskDecisionRow:
    return RiskDecisionRow(
        signal_id=decision.signal_id,
        symbol=decision.symbol,
        strategy=decision.strategy,
        accepted=decision.accepted,
        reason=decision.reason,
        details=json.dumps(dict(decision.details), sort_keys=True),
        event_time=decision.event_time,
    )


STREAK_PREFIX = "streak:"  # control key `streak:<SYMBOL>:<strategy>` -> losing trades in a row


def store_decisions(
    session: Session,
    decisions: list[RiskDecision],
    halts: list[SymbolHalt],
    now_ms: int,
    streaks: dict[tuple[str, str], int] | None = None,
) -> None:
    """Write decisions, halts and losing streaks in one transaction; one row per decision, even on
    a conflict."""
    for (strategy, symbol), count in (streaks or {}).items():
        key = f"{STREAK_PREFIX}{symbol}:{strategy}"
        row = session.get(ControlRow, key)
        if row is None:
            row = ControlRow(key=key, value=str(count), updated_time=now_ms)
        else:
            row.value, row.updated_time = str(count), now_ms
        session.add(row)
    for halt in halts:
        write_halt(
            session,
            halt.reason,
            symbol=halt.symbol,
            until_ms=halt.until_ms,
            strategy=halt.strategy,
            now_ms=now_ms,
        )
    if not decisions:
        session.commit()
        return
    session.add_all([_row(d) for d in decisions])
    try:
        session.commit()
    except IntegrityError:
        # One row conflicts (a decision already stored by an earlier run): store the others.
        session.rollback()
        for decision in decisions:
            session.add(_row(decision))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()


def _accepted_signal_ids(session: Session) -> set[str]:
    rows = session.exec(
        select(RiskDecisionRow.signal_id).where(col(RiskDecisionRow.accepted).is_(True))
    ).all()
    return set(rows)


@dataclass(frozen=True, slots=True)
class Restored:
    accepted_ids: set[str]
    halts: HaltState
    positions: dict[str, Position]
    live_orders: list[order_store.StoredOrder]
    realized_today: dict[tuple[str, str], Decimal]  # (strategy, symbol) -> today's net PnL
    opened_today: dict[str, Decimal]  # symbol -> entry quantity opened today
    streaks: dict[tuple[str, str], int]  # (strategy, symbol) -> losing trades in a row


def load_restored(session: Session, day_start: int) -> Restored:
    """What must survive a restart, read in one go at start-up."""
    live = order_store.orders_in_states(session, [s for s in OrderState if not s.is_terminal])
    positions = order_store.load_positions(session)
    fills = session.exec(
        select(FillRow, col(OrderRow.strategy))
        .join(OrderRow, col(OrderRow.client_order_id) == col(FillRow.client_order_id), isouter=True)
        .where(col(FillRow.time) >= day_start)
    ).all()
    realized: dict[tuple[str, str], Decimal] = {}
    # Net, as RiskState counts it: gross minus USDT fees (a BNB fee is not USDT) plus funding.
    for fill, strategy in fills:
        symbol = fill.symbol
        owner = strategy or (positions[symbol].strategy if symbol in positions else "")
        cost = Decimal(fill.commission) if fill.commission_asset == FEE_ASSET else _ZERO
        realized[(owner, symbol)] = realized.get((owner, symbol), _ZERO) + Decimal(fill.realized_pnl) - cost
    funding = session.exec(
        select(FundingPaymentRow).where(col(FundingPaymentRow.time) >= day_start)
    ).all()
    for payment in funding:
        owner = positions[payment.symbol].strategy if payment.symbol in positions else ""
        key = (owner, payment.symbol)
        realized[key] = realized.get(key, _ZERO) + Decimal(payment.amount)
    entries = session.exec(
        select(OrderRow).where(col(OrderRow.created_time) >= day_start, col(OrderRow.reduce_only).is_(False))
    ).all()
    opened: dict[str, Decimal] = {}
    for row in entries:
        # A finished order opened what it filled; a live one may still open all of it.
        qty = Decimal(row.filled_qty) if OrderState(row.state).is_terminal else Decimal(row.quantity)
        opened[row.symbol] = opened.get(row.symbol, _ZERO) + qty
    streaks: dict[tuple[str, str], int] = {}
    saved = session.exec(select(ControlRow).where(col(ControlRow.key).startswith(STREAK_PREFIX))).all()
    for control in saved:
        symbol, _, strategy = control.key[len(STREAK_PREFIX):].partition(":")
        streaks[(strategy, symbol)] = int(control.value)
    return Restored(
        _accepted_signal_ids(session), read_halts(session), positions, live, realized, opened, streaks
    )
