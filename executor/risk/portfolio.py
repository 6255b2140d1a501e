"""Today's net realized PnL of the whole portfolio, every daemon on the database together, and the
portfolio-wide daily loss limit (`risk.portfolio_daily_loss_limit_usdt`) judged against it.

Two parts (docs/scaling.md):

- **this daemon's own**, kept current from the position updates of the symbols it owns (net of USDT
  fees and funding, as `RiskState` counts the per-symbol limit), restored at start-up from the
  fills it booked today (`instance_id` this daemon's, or '' for rows from before revision 0007)
  and today's funding of the symbols whose stored position names it;
- **the other daemons'**, read from the shared database: today's fills whose `instance_id` names
  another daemon and the funding of their positions, at start-up and after every reconciliation
  (the points where the other daemons' stored positions are counted in the total exposure), so it
  lags by up to one `reconcile.interval_seconds`.

The position updates of a symbol another daemon owns (published so the total exposure counts them)
are not this daemon's PnL: they only move the baseline. A symbol taken over starts from the dead
daemon's last stored numbers; what that daemon realized stays in its own fills, counted as theirs.
With one daemon (SQLite) the other part is 0 and the total is that daemon's realized PnL today.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, select

from config.models import RiskLimits
from core.events import PositionUpdate
from database.models import FillRow, FundingPaymentRow, PositionRow
from executor.orders.positions import FEE_ASSET
from executor.risk.rules import Breach, Reason
from executor.risk.state import DAY_MS
from utils.clock import Clock

_ZERO = Decimal(0)


class PortfolioPnl:
    """Today's net realized PnL: this daemon's own plus the other daemons' (loop only, no I/O)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._day = clock.now_ms() // DAY_MS
        self._last: dict[str, Decimal] = {}  # symbol -> cumulative net realized, as last reported
        self._foreign: set[str] = set()  # symbols whose last update was another daemon's position
        self._own = _ZERO
        self._others = _ZERO
        self._others_day: int | None = None

    def _roll(self) -> int:
        day = self._clock.now_ms() // DAY_MS
        if day != self._day:
            self._day, self._own = day, _ZERO
        return day

    def set_baseline(self, symbol: str, net_realized: Decimal) -> None:
        """What `symbol` had realized before we watched it: later updates count what they add."""
        self._last[symbol] = net_realized

    def on_position(self, update: PositionUpdate, *, own: bool) -> None:
        """A position update; `own` False when another daemon owns the symbol (only the baseline
        moves). The first own update after foreign ones (a takeover) also only sets the baseline."""
        self._roll()
        symbol, net = update.symbol, update.net_realized
        last = self._last.get(symbol)
        self._last[symbol] = net
        if not own:
            self._foreign.add(symbol)
            return
        if symbol in self._foreign:
            self._foreign.discard(symbol)
            return
        if last is not None:
            self._own += net - last

    def add_own_today(self, pnl: Decimal) -> None:
        """Add PnL this daemon realized earlier today (restored from the database at start-up)."""
        self._roll()
        self._own += pnl

    def set_others_today(self, pnl: Decimal, day_start: int) -> None:
        """The other daemons' net realized PnL of the UTC day starting at `day_start`, as read from
        the database; a reading of a day already over is ignored."""
        if day_start // DAY_MS == self._roll():
            self._others, self._others_day = pnl, day_start // DAY_MS

    @property
    def own_today(self) -> Decimal:
        """This daemon's net realized PnL since 00:00 UTC."""
        self._roll()
        return self._own

    @property
    def others_today(self) -> Decimal:
        """The other daemons' net realized PnL since 00:00 UTC, as of the last reading."""
        return self._others if self._others_day == self._roll() else _ZERO

    @property
    def today(self) -> Decimal:
        """Every daemon's net realized PnL since 00:00 UTC."""
        return self.own_today + self.others_today


def check_portfolio_daily_loss(pnl: Decimal, others: Decimal, limits: RiskLimits) -> Breach | None:
    """Today's realized PnL of every daemon together must not be below
    -portfolio_daily_loss_limit_usdt (no limit when it is not set)."""
    limit = limits.portfolio_daily_loss_limit_usdt
    if limit is None or pnl >= -limit:
        return None
    return Breach(
        Reason.PORTFOLIO_DAILY_LOSS_LIMIT,
        {
            "portfolio_daily_pnl": str(pnl),
            "other_daemons_pnl": str(others),
            "portfolio_daily_loss_limit": str(limit),
        },
    )


@dataclass(frozen=True, slots=True)
class DailyPnl:
    """Today's net realized PnL from the database: this daemon's and the other daemons'."""

    own: Decimal
    others: Decimal


def _net(fill: FillRow) -> Decimal:
    # As RiskState counts it: gross minus the commission when paid in USDT (a BNB fee is not USDT).
    cost = Decimal(fill.commission) if fill.commission_asset == FEE_ASSET else _ZERO
    return Decimal(fill.realized_pnl) - cost


def daily_pnl(session: Session, instance_id: str, day_start: int) -> DailyPnl:
    """Today's net realized PnL split by daemon (runs on the database thread).

    A fill is the daemon's that booked it (`instance_id`; '' before revision 0007 counts as ours).
    A funding payment names no daemon: it is the daemon's whose position row names it (the one
    that booked it, or took the symbol over since)."""
    mine = ("", instance_id)
    own = others = _ZERO
    for fill in session.exec(select(FillRow).where(col(FillRow.time) >= day_start)).all():
        if fill.instance_id in mine:
            own += _net(fill)
        else:
            others += _net(fill)
    holders = dict(session.exec(select(PositionRow.symbol, PositionRow.instance_id)).all())
    payments = session.exec(select(FundingPaymentRow).where(col(FundingPaymentRow.time) >= day_start)).all()
    for payment in payments:
        if holders.get(payment.symbol, "") in mine:
            own += Decimal(payment.amount)
        else:
            others += Decimal(payment.amount)
    return DailyPnl(own, others)


def others_today(session: Session, instance_id: str, day_start: int) -> Decimal:
    """The other daemons' net realized PnL since `day_start` (runs on the database thread)."""
    return daily_pnl(session, instance_id, day_start).others


__all__ = ["DailyPnl", "PortfolioPnl", "check_portfolio_daily_loss", "daily_pnl", "others_today"]
