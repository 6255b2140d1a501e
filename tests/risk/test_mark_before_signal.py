"""An entry is sized and valued at the newest mark from before its signal's instant.

Live, the mark price stamped with a candle's close instant and the closed candle come on two
streams; which one reaches the risk gate first is a race. `trader parity` found an entry sized
184 live and 182 in the backtest for that reason. Now both use the mark from before the signal.
"""

from __future__ import annotations

from decimal import Decimal

from core.events import SignalAction
from executor.risk.judge import RiskJudge
from tests.risk._fixtures import NOON, instrument, limits, mark, signal
from utils.clock import ManualClock

SYMBOL = "WLDUSDT"


def _judge() -> RiskJudge:
    return RiskJudge(
        ManualClock(NOON),
        {SYMBOL: instrument()},
        limits_for=lambda _: limits(),
        starting_equity=Decimal(10_000),
    )


def _quantity(judge: RiskJudge) -> Decimal:
    _, requests = judge.judge(signal(SignalAction.OPEN_LONG, notional="100", price="2", time=NOON))
    (request,) = requests
    return request.quantity


def test_the_mark_stamped_with_the_signals_instant_does_not_size_it_whichever_came_first() -> None:
    before_first = _judge()
    before_first.state.on_mark(mark("2", time=NOON - 37_500))
    before_first.state.on_mark(mark("2.5", time=NOON))  # arrived before the signal
    after = _judge()
    after.state.on_mark(mark("2", time=NOON - 37_500))  # the mark at NOON comes after the signal
    assert _quantity(before_first) == _quantity(after) == Decimal("50")  # 100 USDT at the mark 2


def test_a_mark_from_before_the_signal_sizes_it() -> None:
    judge = _judge()
    judge.state.on_mark(mark("2", time=NOON - 75_000))
    judge.state.on_mark(mark("4", time=NOON - 37_500))
    assert _quantity(judge) == Decimal("25")  # the newest before the signal: 4


def test_outside_a_judgement_the_latest_mark_is_in_force() -> None:
    judge = _judge()
    judge.state.on_mark(mark("2", time=NOON - 37_500))
    judge.state.on_mark(mark("2.5", time=NOON))
    assert judge.state.mark_price(SYMBOL) == Decimal("2.5")
