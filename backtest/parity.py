"""Parity: what a live run and a backtest decided and did, in one shape, and where they differ.

Both sides are reduced to the same records: signals (time, action, price), risk decisions
(time, verdict, reason), orders (time, side, type, quantity, price, reduce-only), fills (time,
side, price, quantity, fee) and the final position of each symbol (quantity, entry price,
realized PnL, fees). Records are matched by their deterministic keys (signal id, client order id,
a fill's rank within its order), so one extra or missing record is one difference, not a cascade.
Nothing is compared with a tolerance: the two runs must agree to the last digit.

Not compared, because they differ by nature: the venue's order and trade ids (the simulator
numbers what it is sent, the backtest what it places), and wall-clock instants (the database's
write times, network latency; the live run's simulated clock stands still while it waits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

from core.events import RiskDecision, Side, Signal
from executor.orders.positions import Position, apply_fill
from executor.orders.progress import Fill
from executor.orders.registry import TrackedOrder


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A strategy signal."""

    signal_id: str
    time: int
    symbol: str
    action: str
    price: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """The risk judge's verdict on a signal."""

    signal_id: str
    time: int
    accepted: bool
    reason: str


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as it was created."""

    client_order_id: str
    time: int
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    reduce_only: bool


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution; `rank` is its place among its order's fills."""

    client_order_id: str
    rank: int
    time: int
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """A symbol's position at the end of the window."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    fees: Decimal


@dataclass(slots=True)
class Decisions:
    """Everything one run decided and did within the window."""

    signals: list[SignalRecord]
    decisions: list[DecisionRecord]
    orders: list[OrderRecord]
    fills: list[FillRecord]
    positions: list[PositionRecord]


@dataclass(frozen=True, slots=True)
class Difference:
    """One record that differs: `live` / `backtest` say what each side had ("—": nothing)."""

    kind: str
    key: str
    field: str
    live: str
    backtest: str


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return str(value)


def _key(record: object) -> str:
    if isinstance(record, FillRecord):
        return f"{record.client_order_id}#{record.rank}"
    if isinstance(record, PositionRecord):
        return record.symbol
    return str(getattr(record, "signal_id", None) or getattr(record, "client_order_id", ""))


def _equal_decimal(a: object, b: object) -> bool:
    # 1.50 and 1.5 are one price: the database and the engine may carry different exponents.
    return a == b


def _compare(kind: str, live: Sequence[object], backtest: Sequence[object]) -> list[Difference]:
    left = {_key(r): r for r in live}
    right = {_key(r): r for r in backtest}
    out: list[Difference] = []
    for key in sorted(set(left) | set(right), key=lambda k: (_time(left.get(k) or right.get(k)), k)):
        a, b = left.get(key), right.get(key)
        if a is None or b is None:
            present = a if a is not None else b
            summary = _summary(present)
            out.append(Difference(kind, key, "(all)", summary if a else "—", summary if b else "—"))
            continue
        for f in fields(a):  # type: ignore[arg-type]
            va, vb = getattr(a, f.name), getattr(b, f.name)
            if not _equal_decimal(va, vb):
                out.append(Difference(kind, key, f.name, _text(va), _text(vb)))
    return out


def _time(record: object) -> int:
    return int(getattr(record, "time", 0))


def _summary(record: object) -> str:
    names = [f.name for f in fields(record)]  # type: ignore[arg-type]
    return " ".join(
        f"{n}={_text(getattr(record, n))}" for n in names if n not in ("signal_id", "client_order_id")
    )


def compare(live: Decisions, backtest: Decisions) -> list[Difference]:
    """Every difference between the two runs, kind by kind, in time order."""
    return (
        _compare("signal", live.signals, backtest.signals)
        + _compare("risk decision", live.decisions, backtest.decisions)
        + _compare("order", live.orders, backtest.orders)
        + _compare("fill", live.fills, backtest.fills)
        + _compare("position", live.positions, backtest.positions)
    )


# --- the backtest's side ----------------------------------------------------------------------------


def signal_record(signal: Signal) -> SignalRecord:
    """A strategy signal as parity compares it."""
    return SignalRecord(
        signal.signal_id, signal.event_time, signal.symbol, signal.action.value, signal.price, signal.reason
    )


def decision_record(decision: RiskDecision) -> DecisionRecord:
    """A risk decision as parity compares it."""
    return DecisionRecord(decision.signal_id, decision.event_time, decision.accepted, decision.reason)


def order_record(order: TrackedOrder) -> OrderRecord:
    """A backtest order as parity compares it."""
    r = order.request
    return OrderRecord(
        r.client_order_id,
        order.created_time,
        r.symbol,
        r.side.value,
        r.order_type.value,
        r.quantity,
        r.price,
        r.reduce_only,
    )


def fill_records(fills: Iterable[Fill]) -> list[FillRecord]:
    """Fills as parity compares them, ranked within their order."""
    ranks: dict[str, int] = {}
    out = []
    for f in fills:
        rank = ranks.get(f.client_order_id, 0)
        ranks[f.client_order_id] = rank + 1
        out.append(
            FillRecord(f.client_order_id, rank, f.time, f.side.value, f.price, f.quantity, f.commission)
        )
    return out


def positions_from(fills: Iterable[FillRecord], symbol_of: dict[str, str]) -> list[PositionRecord]:
    """Each symbol's position after `fills` (booked as the order manager books them)."""
    book: dict[str, Position] = {}
    for f in fills:
        symbol = symbol_of[f.client_order_id]
        position, _ = apply_fill(
            book.get(symbol) or Position(symbol),
            Side(f.side),
            f.quantity,
            f.price,
            commission=f.fee,
            time=f.time,
        )
        book[symbol] = position
    return [position_record(p) for _, p in sorted(book.items())]


def position_record(p: Position) -> PositionRecord:
    """A position as parity compares it."""
    return PositionRecord(p.symbol, p.quantity, p.entry_price, p.realized_pnl, p.fees)


__all__ = [
    "DecisionRecord",
    "Decisions",
    "Difference",
    "FillRecord",
    "OrderRecord",
    "PositionRecord",
    "SignalRecord",
    "compare",
    "decision_record",
    "fill_records",
    "order_record",
    "position_record",
    "positions_from",
    "signal_record",
]
