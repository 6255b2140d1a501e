"""The daily summary: at the configured UTC time, the last 24 hours in one message.

Trades (fills), realized PnL net of fees and funding, the positions still open, and the alerts of
the day, read from the database (the order path's tables and the alerts table). It fires on the
daemon's clock (`alerts.daily_summary_utc`), so a simulated day gets its summary too, and a
backtest or a test can drive it with a manual clock. Money is summed in Python with Decimal (on
SQLite, SQL sums over money columns would be textual).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from sqlmodel import Session, col, select

from alerts.store import SessionRunner
from core.alerts import AlertKind, Severity, publish_alert
from core.bus import Bus
from database.models import AlertRow, FillRow, FundingPaymentRow, PositionRow
from utils.clock import Clock

_log = structlog.get_logger(__name__)
DAY_MS = 86_400_000
_ZERO = Decimal(0)
_CENT = Decimal("0.01")


def next_summary_ms(now_ms: int, hour: int, minute: int) -> int:
    """The first HH:MM UTC strictly after `now_ms`."""
    offset = (hour * 60 + minute) * 60_000
    day = now_ms - now_ms % DAY_MS
    due = day + offset
    return due if due > now_ms else due + DAY_MS


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """A position still open at the summary time."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal


@dataclass(frozen=True, slots=True)
class DaySummary:
    """What the summary says about [start_ms, end_ms)."""

    start_ms: int
    end_ms: int
    fills: int
    symbols: tuple[str, ...]
    realized: Decimal  # gross, as booked per fill
    fees: Decimal  # USDT commissions paid (positive = paid)
    other_fees: tuple[tuple[str, Decimal], ...]  # commissions in other assets (BNB...)
    funding: Decimal  # received > 0, paid < 0
    positions: tuple[OpenPosition, ...]
    alerts: tuple[tuple[Severity, int], ...]  # occurrences per severity, highest first
    undelivered: int

    @property
    def net(self) -> Decimal:
        """Realized PnL net of USDT fees and funding."""
        return self.realized - self.fees + self.funding


def summarize(session: Session, start_ms: int, end_ms: int) -> DaySummary:
    """Read the day [start_ms, end_ms) from the database (database thread or sync code)."""
    in_day = (col(FillRow.time) >= start_ms, col(FillRow.time) < end_ms)
    fills = session.exec(select(FillRow).where(*in_day)).all()
    realized = sum((f.realized_pnl for f in fills), _ZERO)
    fees = sum((f.commission for f in fills if f.commission_asset == "USDT"), _ZERO)
    other: dict[str, Decimal] = {}
    for fill in fills:
        if fill.commission_asset != "USDT":
            other[fill.commission_asset] = other.get(fill.commission_asset, _ZERO) + fill.commission
    funding_rows = session.exec(
        select(FundingPaymentRow).where(
            col(FundingPaymentRow.time) >= start_ms, col(FundingPaymentRow.time) < end_ms
        )
    ).all()
    funding = sum((p.amount for p in funding_rows if p.asset == "USDT"), _ZERO)
    positions = tuple(
        OpenPosition(p.symbol, p.quantity, p.entry_price)
        for p in session.exec(select(PositionRow).order_by(col(PositionRow.symbol))).all()
        if p.quantity != _ZERO
    )
    alert_rows = session.exec(
        select(AlertRow).where(col(AlertRow.time) >= start_ms, col(AlertRow.time) < end_ms)
    ).all()
    by_severity: Counter[str] = Counter()
    for row in alert_rows:
        by_severity[row.severity] += row.occurrences
    counts = tuple((s, by_severity[s.value]) for s in reversed(Severity) if by_severity[s.value])
    return DaySummary(
        start_ms=start_ms,
        end_ms=end_ms,
        fills=len(fills),
        symbols=tuple(sorted({f.symbol for f in fills})),
        realized=realized,
        fees=fees,
        other_fees=tuple(sorted(other.items())),
        funding=funding,
        positions=positions,
        alerts=counts,
        undelivered=sum(1 for r in alert_rows if r.status == "undelivered"),
    )


def summary_text(day: DaySummary) -> str:
    """The message body: one line per topic."""
    start = datetime.fromtimestamp(day.start_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
    end = datetime.fromtimestamp(day.end_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
    lines = [f"{start} → {end} UTC"]
    traded = f" on {', '.join(day.symbols)}" if day.symbols else ""
    lines.append(f"Trades: {day.fills} fill{'s' if day.fills != 1 else ''}{traded}")
    other = "".join(f", fees {-amount.normalize():f} {asset}" for asset, amount in day.other_fees)
    lines.append(
        f"Realized PnL: {_money(day.net)} USDT net (gross {_money(day.realized)}, fees "
        f"{_money(-day.fees)}, funding {_money(day.funding)}{other})"
    )
    if day.positions:
        shown = "; ".join(
            f"{p.symbol} {'long' if p.quantity > 0 else 'short'} {abs(p.quantity).normalize():f} @ "
            f"{p.entry_price.normalize():f}"
            for p in day.positions
        )
        lines.append(f"Open positions: {shown}")
    else:
        lines.append("Open positions: none")
    if day.alerts:
        counted = ", ".join(f"{n} {s.value}" for s, n in day.alerts)
        undelivered = f" ({day.undelivered} undelivered)" if day.undelivered else ""
        lines.append(f"Alerts: {counted}{undelivered}")
    else:
        lines.append("Alerts: none")
    return "\n".join(lines)


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT):+f}"


class DailySummary:
    """Publishes the DAILY_SUMMARY alert every day at (hour, minute) UTC on `clock`."""

    def __init__(self, bus: Bus, clock: Clock, db: SessionRunner, *, at: tuple[int, int]) -> None:
        self._bus = bus
        self._clock = clock
        self._db = db
        self._at = at
        self.next_due_ms: int | None = None
        self.sent = 0

    async def run(self) -> None:
        """Until cancelled: sleep to the next summary time, summarise the day before it, publish."""
        due = 0
        while True:
            due = self.next_due_ms = next_summary_ms(max(self._clock.now_ms(), due), *self._at)
            # A sleep may end a hair early on a scaled clock: sleep again until it is time.
            while (now := self._clock.now_ms()) < due:
                await self._clock.sleep((due - now) / 1000)
            try:
                await self.publish(due)
            except Exception as exc:  # a failed read must not end the schedule
                _log.error("alerts.daily_summary_failed", error=f"{type(exc).__name__}: {exc}")

    async def publish(self, end_ms: int) -> None:
        """Summarise [end_ms - 24 h, end_ms) and publish it now."""
        day = await self._db.run(lambda s: summarize(s, end_ms - DAY_MS, end_ms))
        publish_alert(self._bus, AlertKind.DAILY_SUMMARY, summary_text(day), time=self._clock.now_ms())
        self.sent += 1


__all__ = ["DailySummary", "DaySummary", "OpenPosition", "next_summary_ms", "summarize", "summary_text"]
