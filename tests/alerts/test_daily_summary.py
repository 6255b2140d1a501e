"""The daily summary fires at the configured UTC time on the daemon's (simulated) clock, with the
day's trades, net PnL, open positions and alerts read from the database."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from alerts.daily_summary import DAY_MS, DailySummary, next_summary_ms
from alerts.slack import WebhookDestination
from core import channels
from core.alerts import Alert, AlertKind
from core.bus import Bus
from database.engine import Database
from database.models import AlertRow, FillRow, FundingPaymentRow, PositionRow
from tests.alerts.conftest import running_router
from tests.alerts.slack_server import RecordingSlack
from utils.clock import ManualClock

D = Decimal
JUNE1 = 1_717_200_000_000  # 2024-06-01 00:00:00 UTC
H, M = 3_600_000, 60_000
DUE = JUNE1 + 21 * H + 30 * M  # the configured 21:30


def _fill(trade_id: int, time: int, realized: str, commission: str, asset: str = "USDT") -> FillRow:
    return FillRow(
        symbol="WLDUSDT",
        trade_id=trade_id,
        order_id=trade_id,
        client_order_id=f"c{trade_id}",
        side="BUY",
        price=D("2.1"),
        quantity=D("10"),
        commission=D(commission),
        commission_asset=asset,
        realized_pnl=D(realized),
        time=time,
    )


def _seed(db: Database) -> None:
    with db.session() as session:
        session.add_all(
            [
                _fill(1, DUE - 2 * DAY_MS, "99", "9"),  # the day before yesterday: not in this summary
                _fill(2, DUE - DAY_MS, "0", "0.1"),  # exactly 24 h before: in
                _fill(3, DUE - 2 * H, "0", "0.1"),
                _fill(4, DUE - H, "12.5", "0.2"),
                _fill(5, DUE - M, "0", "0.001", asset="BNB"),
                _fill(6, DUE, "50", "1"),  # at the summary time: tomorrow's
                FundingPaymentRow(symbol="WLDUSDT", amount=D("-0.56"), time=DUE - 5 * H),
                FundingPaymentRow(symbol="ADAUSDT", amount=D("1"), time=DUE - 2 * DAY_MS),
                PositionRow(symbol="WLDUSDT", strategy="vwap", quantity=D("95"), entry_price=D("2.1034")),
                PositionRow(symbol="ADAUSDT", strategy="vwap", quantity=D("-40.5"), entry_price=D("0.45")),
                PositionRow(symbol="BTCUSDT", strategy="vwap", quantity=D("0"), entry_price=D("0")),
            ]
        )
        for severity, occurrences, status in (
            ("critical", 1, "delivered"),
            ("critical", 3, "delivered"),
            ("warning", 1, "undelivered"),
        ):
            session.add(
                AlertRow(
                    time=DUE - H,
                    last_time=DUE - H,
                    severity=severity,
                    kind="order_lost",
                    key="order_lost",
                    message="x",
                    occurrences=occurrences,
                    status=status,
                )
            )
        session.commit()


EXPECTED = (
    "2024-05-31 21:30 → 2024-06-01 21:30 UTC\n"
    "Trades: 4 fills on WLDUSDT\n"
    "Realized PnL: +11.54 USDT net (gross +12.50, fees -0.40, funding -0.56, fees -0.001 BNB)\n"
    "Open positions: ADAUSDT short 40.5 @ 0.45; WLDUSDT long 95 @ 2.1034\n"
    "Alerts: 4 critical, 1 warning (1 undelivered)"
)


async def test_the_summary_fires_at_the_configured_time_on_a_simulated_clock(
    db: Database, slack: RecordingSlack
) -> None:
    _seed(db)
    clock = ManualClock(DUE - 90 * M)
    bus = Bus()
    seen = bus.subscribe(channels.ALERT, name="test.alerts")
    summary = DailySummary(bus, clock, db, at=(21, 30))
    async with running_router(bus, WebhookDestination(slack.webhook_url())):
        task = asyncio.create_task(summary.run())
        try:
            while summary.next_due_ms is None:
                await asyncio.sleep(0)
            assert summary.next_due_ms == DUE
            clock.set(DUE - 1)
            clock.set(DUE)
            alert: Alert = await asyncio.wait_for(seen.get(), 10)
            assert (alert.kind, alert.time, alert.symbol) == (AlertKind.DAILY_SUMMARY, DUE, None)
            assert alert.text == EXPECTED
            [post] = await slack.wait_for(1, within=10)
            assert post.text.startswith("[SIM] INFO Daily summary: 2024-05-31 21:30 → 2024-06-01 21:30 UTC\n")
            # The next one a day later, not before.
            assert summary.next_due_ms == DUE + DAY_MS
            clock.set(DUE + DAY_MS - 1)
            clock.set(DUE + DAY_MS)
            tomorrow: Alert = await asyncio.wait_for(seen.get(), 10)
            assert tomorrow.time == DUE + DAY_MS and "Trades: 1 fill on WLDUSDT" in tomorrow.text
            assert summary.sent == 2
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_an_empty_day_says_so(db: Database) -> None:
    bus = Bus()
    seen = bus.subscribe(channels.ALERT, name="test.alerts")
    await DailySummary(bus, ManualClock(DUE), db, at=(21, 30)).publish(DUE)
    alert: Alert = seen.get_nowait()
    assert alert.text.splitlines()[1:] == [
        "Trades: 0 fills",
        "Realized PnL: +0.00 USDT net (gross +0.00, fees +0.00, funding +0.00)",
        "Open positions: none",
        "Alerts: none",
    ]


@pytest.mark.parametrize(
    ("now", "at", "due"),
    [
        (JUNE1, (0, 0), JUNE1 + DAY_MS),  # exactly at the time: the next day's
        (JUNE1 - 1, (0, 0), JUNE1),
        (JUNE1 + 21 * H + 29 * M, (21, 30), DUE),
        (DUE + 1, (21, 30), DUE + DAY_MS),
        (JUNE1 + 23 * H + 59 * M, (0, 0), JUNE1 + DAY_MS),
    ],
)
def test_the_next_summary_time_is_the_first_hh_mm_utc_strictly_after_now(
    now: int, at: tuple[int, int], due: int
) -> None:
    assert next_summary_ms(now, *at) == due
