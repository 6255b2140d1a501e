"""The risk judge on a symbol this daemon does not own: another daemon's symbol refuses entries and
closes (its position is that daemon's); an unproven one refuses entries but lets a close leave."""

from __future__ import annotations

from decimal import Decimal

from core.events import SignalAction
from executor.risk.judge import RiskJudge
from executor.risk.rules import Reason
from tests.risk._fixtures import NOON, SYMBOL, instrument, limits, mark, position, signal
from utils.clock import ManualClock


def _judge() -> RiskJudge:
    judge = RiskJudge(
        ManualClock(NOON),
        {SYMBOL: instrument()},
        limits_for=lambda _s: limits(),
        starting_equity=Decimal(10000),
    )
    judge.state.on_mark(mark("2"))
    judge.on_position(position("50"))  # a long position stands
    return judge


def test_another_daemons_symbol_refuses_entries_and_closes_with_the_owner_named() -> None:
    judge = _judge()
    judge.pauses.set_not_owned(SYMBOL, "owned by alpha", exits_too=True)
    for action, signal_id in ((SignalAction.OPEN_LONG, "s1"), (SignalAction.CLOSE, "s2")):
        decision, requests = judge.judge(signal(action, signal_id=signal_id))
        assert (decision.accepted, decision.reason, requests) == (False, Reason.NOT_OWNED.value, ())
        assert decision.details["detail"] == "owned by alpha"


def test_an_unproven_symbol_refuses_entries_but_lets_the_close_leave() -> None:
    judge = _judge()
    judge.pauses.set_not_owned(SYMBOL, "ownership unproven: the lock connection was lost")
    entry, _ = judge.judge(signal(SignalAction.OPEN_LONG, signal_id="s1"))
    assert (entry.accepted, entry.reason) == (False, Reason.NOT_OWNED.value)
    close, requests = judge.judge(signal(SignalAction.CLOSE, signal_id="s2"))
    assert close.accepted and requests[0].reduce_only
    judge.pauses.set_not_owned(SYMBOL, None)  # proven again
    again, _ = judge.judge(signal(SignalAction.OPEN_LONG, signal_id="s3"))
    assert again.reason != Reason.NOT_OWNED.value
