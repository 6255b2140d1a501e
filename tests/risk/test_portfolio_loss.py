"""The portfolio-wide daily loss limit on the judge: every daemon's PnL of the day against
`risk.portfolio_daily_loss_limit_usdt` (unset: no such limit), a new UTC day starting from zero, a
symbol taken over from another daemon not counting that daemon's PnL as ours."""

from __future__ import annotations

from decimal import Decimal

from core.events import SignalAction
from executor.risk.judge import RiskJudge
from executor.risk.rules import Reason
from tests.risk._fixtures import DAY0, DAY_MS, NOON, OTHER, SYMBOL, instrument, limits, mark, position, signal
from utils.clock import ManualClock


def _judge(clock: ManualClock, **overrides: object) -> RiskJudge:
    judge = RiskJudge(
        clock,
        {SYMBOL: instrument(), OTHER: instrument(OTHER)},
        limits_for=lambda _s: limits(**overrides),
        starting_equity=Decimal(10000),
    )
    judge.state.on_mark(mark("2"))
    return judge


def test_the_other_daemons_loss_refuses_an_entry_only_when_a_portfolio_limit_is_set() -> None:
    clock = ManualClock(NOON)
    unset = _judge(clock)
    unset.portfolio.set_others_today(Decimal(-5000), DAY0)
    assert unset.judge(signal(SignalAction.OPEN_LONG, signal_id="s1"))[0].accepted

    judge = _judge(clock, portfolio_daily_loss_limit_usdt=Decimal(100))
    judge.on_position(position("0", "-40"))  # our own loss today
    judge.portfolio.set_others_today(Decimal(-50), DAY0)
    assert judge.judge(signal(SignalAction.OPEN_LONG, signal_id="s2"))[0].accepted  # -90
    judge.portfolio.set_others_today(Decimal(-61), DAY0)
    decision, requests = judge.judge(signal(SignalAction.OPEN_LONG, signal_id="s3"))  # -101
    assert (decision.reason, requests) == (Reason.PORTFOLIO_DAILY_LOSS_LIMIT.value, ())
    assert decision.details["portfolio_daily_loss_limit"] == "100"

    clock.advance(DAY_MS)  # a new UTC day: yesterday's losses, ours and theirs, no longer count
    assert judge.portfolio.today == 0
    assert judge.judge(signal(SignalAction.OPEN_LONG, signal_id="s4", time=NOON + DAY_MS))[0].accepted


def test_a_symbol_taken_over_does_not_count_the_dead_daemons_pnl_as_ours() -> None:
    judge = _judge(ManualClock(NOON), portfolio_daily_loss_limit_usdt=Decimal(100))
    judge.on_position(position("5", "-30", symbol=OTHER), own=False)  # beta's, for the exposure
    judge.on_position(position("0", "-80", symbol=OTHER))  # taken over: beta's last stored numbers
    assert judge.portfolio.own_today == 0  # beta's loss is in beta's fills, counted as theirs
    judge.on_position(position("0", "-90", symbol=OTHER))  # then ours loses 10 on it
    assert judge.portfolio.own_today == Decimal(-10)


async def test_the_portfolio_loss_is_told_to_humans_once_and_its_release_too() -> None:
    from core.bus import Bus
    from executor.risk.alerting import RiskAlerts

    bus = Bus()
    sub = bus.subscribe("alert", name="test.alerts")
    clock = ManualClock(NOON)
    judge = _judge(clock, portfolio_daily_loss_limit_usdt=Decimal(100))
    alerts = RiskAlerts(bus, clock)
    judge.portfolio.set_others_today(Decimal(-150), DAY0)
    for n in range(3):
        entry = signal(SignalAction.OPEN_LONG, signal_id=f"r{n}")
        alerts.judged(entry, judge.judge(entry)[0])
    judge.portfolio.set_others_today(Decimal(-10), DAY0)  # the other daemon's loss was corrected
    entry = signal(SignalAction.OPEN_LONG, signal_id="ok")
    alerts.judged(entry, judge.judge(entry)[0])
    texts = [sub.get_nowait().text for _ in range(len(sub))]
    assert len(texts) == 2, texts
    assert "portfolio daily loss limit of 100 USDT" in texts[0] and "other daemons -150" in texts[0]
    assert texts[1] == "portfolio daily loss back within the limit"
