"""The risk gate's alerts reach Slack: kill switch, pauses, automatic halts and their release, limits.

The real gate, its control-table watcher, a second database handle for the operator's commands (as
`python -m trader halt` opens), the real router and the recording Slack server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from alerts.slack import WebhookDestination
from database.engine import Database
from executor.risk.kill_switch import KillSwitchWatcher, halt, resume
from tests.alerts.conftest import running_router, until
from tests.alerts.slack_server import RecordingSlack
from tests.risk._fixtures import DAY_MS, MINUTE_MS, NOON, OTHER, STRATEGY, SYMBOL, mark, position, signal
from tests.risk._gate import Harness, start_gate
from utils.clock import ManualClock


@asynccontextmanager
async def _gate_to_slack(db: Database, slack: RecordingSlack, **limits: Any) -> AsyncIterator[Harness]:
    h = await start_gate(db, clock=ManualClock(NOON), **limits)
    watcher = asyncio.create_task(KillSwitchWatcher(db, h.gate, interval_s=0.05).run())
    try:
        async with running_router(h.bus, WebhookDestination(slack.webhook_url())):
            yield h
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await h.stop()


async def _texts(slack: RecordingSlack, count: int) -> list[str]:
    return [r.text for r in await slack.wait_for(count, within=10)]


async def test_kill_switch_and_a_symbol_pause_are_alerted_with_their_release(
    db: Database, slack: RecordingSlack
) -> None:
    operator = Database(db.url)
    try:
        async with _gate_to_slack(db, slack):
            halt(operator, "operator says stop")
            texts = await _texts(slack, 1)
            assert texts[0].startswith(
                "[SIM] CRITICAL Kill switch ON: every entry is refused: operator says stop; "
                "exits still go out"
            )
            resume(operator)
            texts = await _texts(slack, 2)
            assert texts[1].startswith("[SIM] WARNING Kill switch released: entries are allowed again")
            halt(operator, "news at 14:00", symbol=SYMBOL)
            texts = await _texts(slack, 3)
            assert texts[2].startswith(
                f"[SIM] WARNING Entries paused · {SYMBOL}: entries paused: news at 14:00"
            )
            assert f"resume --symbol {SYMBOL}" in texts[2]
            resume(operator, SYMBOL)
            texts = await _texts(slack, 4)
            assert texts[3].startswith(
                f"[SIM] INFO Entries resumed · {SYMBOL}: entries allowed again (resumed)"
            )
        assert slack.count == 4  # the watcher's polls in between said nothing twice
    finally:
        operator.close()


async def _lose(h: Harness, realized: Decimal) -> Decimal:
    h.bus.publish("position.update", position("10", str(realized)))
    h.bus.publish("position.update", position("0", str(realized - 1)))
    await until(lambda: h.gate.state.realized_today(STRATEGY, SYMBOL) < realized, what="the loss booked")
    return realized - 1


async def test_a_loss_streak_halt_is_alerted_and_so_is_the_end_of_its_cool_down(
    db: Database, slack: RecordingSlack
) -> None:
    async with _gate_to_slack(db, slack, max_consecutive_losses=2, loss_cooldown_minutes=120) as h:
        h.bus.publish("position.update", position("0", "0"))
        realized = await _lose(h, Decimal(0))
        await _lose(h, realized)
        [halted] = await _texts(slack, 1)
        assert halted.startswith(
            f"[SIM] CRITICAL Halted after consecutive losses · {SYMBOL}: 2 consecutive losing trades (vwap): "
            "entries halted until 2024-03-04 14:00 UTC"
        )
        h.clock.set(NOON + 120 * MINUTE_MS)  # the cool-down ends; the next poll of the table sees it
        texts = await _texts(slack, 2)
        assert texts[1].startswith(
            f"[SIM] INFO Entries resumed · {SYMBOL}: entries allowed again (cool-down over)"
        )


async def test_the_daily_loss_limit_is_alerted_once_and_released_the_next_day(
    db: Database, slack: RecordingSlack
) -> None:
    async with _gate_to_slack(
        db, slack, daily_loss_limit_usdt=Decimal("1.5"), max_consecutive_losses=10
    ) as h:
        h.bus.publish("position.update", position("0", "0"))
        realized = await _lose(h, Decimal(0))
        await _lose(h, realized)
        for n in range(3):
            h.bus.publish(f"signal.{SYMBOL}", signal(signal_id=f"loss-{n}"))
            assert (await h.decision()).reason == "daily_loss_limit"
        [text] = await _texts(slack, 1)
        assert text.startswith(
            f"[SIM] CRITICAL Daily loss limit reached · {SYMBOL}: vwap: today's PnL -2 USDT is beyond "
            "the daily loss limit of 1.5 USDT: new entries are refused"
        )
        h.clock.set(NOON + DAY_MS)
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="tomorrow", time=NOON + DAY_MS))
        assert (await h.decision()).accepted
        texts = await _texts(slack, 2)
        assert texts[1].startswith(
            f"[SIM] INFO Entries resumed · {SYMBOL}: vwap: daily loss back within the limit"
        )
        assert slack.count == 2  # the repeated rejections were one alert


async def test_an_entry_refused_by_a_limit_is_alerted_with_its_numbers(
    db: Database, slack: RecordingSlack
) -> None:
    async with _gate_to_slack(db, slack, max_exposure_usdt=Decimal(100)) as h:
        h.bus.publish("market.WLDUSDT", mark("2"))
        h.bus.publish("position.update", position("50", "0"))  # 100 USDT: no room left
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="full"))
        assert (await h.decision()).reason == "max_exposure"
        h.bus.publish(f"signal.{OTHER}", signal(signal_id="fine", symbol=OTHER))
        assert (await h.decision()).accepted
        [text] = await _texts(slack, 1)
        assert text.startswith(
            f"[SIM] WARNING Risk limit reached · {SYMBOL}: vwap entry refused: max_exposure reached "
            "(symbol_exposure 100"
        )
        assert "max_exposure 100" in text
