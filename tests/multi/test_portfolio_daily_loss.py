"""Several daemons on one PostgreSQL: the portfolio-wide daily loss limit counts every daemon's
fills of the day from the shared database (read at start-up and after each reconciliation), so a
daemon's entry is refused once all daemons together lost more than
`risk.portfolio_daily_loss_limit_usdt`; the per-symbol daily loss limit stays this daemon's own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.events import SignalAction
from core.reconciliation import ReconcileResult, ReconciliationFinished
from database.engine import Database
from database.models import FillRow, FundingPaymentRow, PositionRow
from executor.risk.rules import Reason
from tests.risk._fixtures import DAY_MS, NOON, OTHER, STRATEGY, SYMBOL, position, signal
from tests.risk._gate import start_gate, until

pytestmark = pytest.mark.postgres
HOUR_MS = 3_600_000


_trade_ids = iter(range(1, 1_000))


async def _book(db: Database, instance: str, symbol: str, gross: str, fee: str, time: int) -> None:
    """A fill as the daemon `instance` booked it in the shared database."""
    row = FillRow(
        symbol=symbol,
        trade_id=next(_trade_ids),
        order_id=1,
        client_order_id=f"{instance}-{time}",
        side="SELL",
        price=Decimal(2),
        quantity=Decimal(10),
        commission=Decimal(fee),
        realized_pnl=Decimal(gross),
        time=time,
        instance_id=instance,
    )

    await _insert(db, row)


async def _insert(db: Database, *rows: object) -> None:
    def write(session: object) -> None:
        session.add_all(rows)  # type: ignore[attr-defined]
        session.commit()  # type: ignore[attr-defined]

    await db.run(write)


async def test_an_entry_is_refused_when_all_daemons_together_passed_the_portfolio_daily_loss(
    pg: Database,
) -> None:
    # Earlier today alpha lost 30 on WLDUSDT and beta 65 on ADAUSDT (60, a 1 USDT fee and 4 of
    # funding on the position it holds); beta's loss of yesterday is not today's.
    await _book(pg, "alpha", SYMBOL, "-30", "0", NOON - 2 * HOUR_MS)
    await _book(pg, "beta", OTHER, "-60", "1", NOON - HOUR_MS)
    await _book(pg, "beta", OTHER, "-1000", "0", NOON - DAY_MS)
    await _insert(
        pg,
        PositionRow(symbol=OTHER, quantity=Decimal(5), entry_price=Decimal(2), updated_time=NOON,
                    instance_id="beta"),
        FundingPaymentRow(symbol=OTHER, amount=Decimal(-4), time=NOON - HOUR_MS // 2),
    )
    alpha = await start_gate(pg, instance_id="alpha", portfolio_daily_loss_limit_usdt=Decimal(100))
    beta = await start_gate(pg, instance_id="beta", portfolio_daily_loss_limit_usdt=Decimal(100))
    try:
        assert (alpha.gate.judge.portfolio.own_today, alpha.gate.judge.portfolio.others_today) == (-30, -65)
        assert beta.gate.judge.portfolio.today == Decimal(-95)
        alpha.gate.pauses.set_not_owned(OTHER, "owned by beta", exits_too=True)
        # Beta's stored position, told to alpha for the total exposure, is not alpha's PnL.
        alpha.bus.publish("position.update", position("0", "-500", symbol=OTHER))
        # Alpha loses 5 more on its own symbol: -35 - 65 = -100, still within 100.
        alpha.bus.publish("position.update", position("0", "-5"))
        await until(lambda: alpha.gate.judge.portfolio.own_today == Decimal(-35))
        first = alpha.gate.handle_signal(signal(SignalAction.OPEN_LONG, signal_id="a1"))
        assert first.accepted, first

        # Beta loses 20 more; alpha reads it after its next reconciliation: -35 - 85 = -120.
        await _book(pg, "beta", OTHER, "-20", "0", NOON + 1)
        alpha.bus.publish(
            "reconciliation", ReconciliationFinished("periodic", ReconcileResult.OK, 0, (), NOON)
        )
        await until(lambda: alpha.gate.judge.portfolio.others_today == Decimal(-85), within=5)
        refused = alpha.gate.handle_signal(signal(SignalAction.OPEN_LONG, signal_id="a2"))
        assert (refused.accepted, refused.reason) == (False, Reason.PORTFOLIO_DAILY_LOSS_LIMIT.value)
        assert refused.details["portfolio_daily_pnl"] == "-120"
        assert refused.details["other_daemons_pnl"] == "-85"
        # The per-symbol limit (300) is alpha's own: its WLDUSDT lost 35, not the portfolio's 120.
        # (The stored fill has no order row, so no strategy: it counts under "".)
        state = alpha.gate.state
        assert state.realized_today(STRATEGY, SYMBOL) + state.realized_today("", SYMBOL) == Decimal(-35)
        # An exit still leaves.
        alpha.bus.publish("position.update", position("10", "-5"))
        await until(lambda: alpha.gate.state.position_qty(SYMBOL) == Decimal(10))
        close = alpha.gate.handle_signal(signal(SignalAction.CLOSE, signal_id="a3"))
        assert close.accepted, close
    finally:
        await alpha.stop()
        await beta.stop()
