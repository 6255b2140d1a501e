"""Scenarios 3, 4, 5 and 9: send failures end with exactly one order on the venue (or none)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

from core.events import Side
from core.order_state import OrderState
from database.engine import Database
from tests.orders_integration.rig import Rig, check_db_matches_venue, order_rig, wait_for


def _counter(rig: Rig, name: str, value: int) -> Callable[[], Awaitable[bool]]:
    async def reached() -> bool:
        return int(getattr(rig.manager.counters, name)) >= value

    return reached


async def _filled_once(rig: Rig, cid: str, *, attempts: int) -> None:
    row = await rig.wait_state(cid, "FILLED", within=8)
    assert len(rig.venue_orders_for(cid)) == 1, rig.venue_orders_for(cid)
    fills = await rig.fill_rows(cid)

    async def booked() -> bool:
        return len(await rig.fill_rows(cid)) == 1

    await wait_for(booked, 3, f"one fill of {cid}")
    fills = await rig.fill_rows(cid)
    assert sum(Decimal(f.quantity) for f in fills) == Decimal(row.quantity)
    assert row.send_attempts == attempts, (row.send_attempts, row.last_error)
    assert any(u.state == "FILLED" for u in rig.updates_for(cid))
    position = await rig.position_row()
    assert position is not None and Decimal(position.quantity) == Decimal(row.quantity)
    await check_db_matches_venue(rig)


async def test_timeout_with_the_order_executed_is_adopted_not_resent(db: Database) -> None:
    async with order_rig(db, timeout_s=0.5) as rig:
        # The venue executes the order, then answers after the client has given up.
        rig.server.inject("rest_delay", "order", seconds=1.5, method="POST")
        rig.publish(rig.request("itest-timeout-1", Side.BUY, "10"))
        await _filled_once(rig, "itest-timeout-1", attempts=1)
        # The user stream may report the fill before the send times out; either way the timed-out
        # send must end as an unknown outcome resolved by query, not as a second order.
        await wait_for(_counter(rig, "unknown_outcomes", 1), 3, "the send to time out")
        await asyncio.sleep(0.3)
        row = await rig.wait_state("itest-timeout-1", "FILLED")
        assert row.send_attempts == 1
        assert rig.manager.order_state("itest-timeout-1") is OrderState.FILLED
        status = rig.manager.status()
        assert status["open_orders"] == 0
        assert status["unknown_resolved"] == status["unknown_outcomes"] == 1, status
        await check_db_matches_venue(rig)


async def test_5xx_before_executing_is_resent_once_with_the_same_client_id(db: Database) -> None:
    async with order_rig(db) as rig:
        rig.server.inject("rest_error", "order", when="before", status=503, method="POST")
        rig.publish(rig.request("itest-5xx-before", Side.BUY, "10"))
        await _filled_once(rig, "itest-5xx-before", attempts=2)
        assert rig.server.faults.fired["rest_error"] == 1


async def test_5xx_after_executing_is_adopted_never_duplicated(db: Database) -> None:
    async with order_rig(db) as rig:
        rig.server.inject("rest_error", "order", when="after", status=503, method="POST")
        rig.publish(rig.request("itest-5xx-after", Side.BUY, "10"))
        await _filled_once(rig, "itest-5xx-after", attempts=1)
        assert rig.server.faults.fired["rest_error"] == 1


async def test_429_is_retried_after_retry_after_exactly_once(db: Database) -> None:
    async with order_rig(db) as rig:
        rig.server.inject("force_429", 1)
        rig.publish(rig.request("itest-429", Side.BUY, "10"))
        await _filled_once(rig, "itest-429", attempts=2)
        assert rig.server.faults.fired["force_429"] == 1


async def test_a_venue_rejection_is_final_recorded_and_published(db: Database) -> None:
    async with order_rig(db) as rig:
        rig.server.inject("reject_orders", 1, code=-2019)
        rig.publish(rig.request("itest-reject", Side.BUY, "10"))
        row = await rig.wait_state("itest-reject", "REJECTED")
        assert "-2019" in row.reason and "Margin is insufficient" in row.reason, row.reason
        updates = rig.updates_for("itest-reject")
        assert [u.state for u in updates] == ["REJECTED"] and "-2019" in updates[0].reason
        # Never retried: the next order goes through, and still nothing of the rejected one.
        rig.publish(rig.request("itest-after-reject", Side.BUY, "10"))
        await rig.wait_state("itest-after-reject", "FILLED")
        row = await rig.wait_state("itest-reject", "REJECTED")
        assert row.send_attempts == 1
        assert rig.venue_orders_for("itest-reject") == []
        assert rig.server.faults.fired["reject_orders"] == 1
        await check_db_matches_venue(rig)


async def test_timeout_resolved_by_query_when_the_stream_says_nothing(db: Database) -> None:
    async with order_rig(db, timeout_s=0.5) as rig:
        # Executed, answer lost, and its user-data events lost too: only the query by client id
        # and the userTrades back-fill can learn what happened.
        rig.server.inject("user_drop", 2, event="ORDER_TRADE_UPDATE")
        rig.server.inject("rest_delay", "order", seconds=1.5, method="POST")
        rig.publish(rig.request("itest-timeout-2", Side.BUY, "10"))
        await _filled_once(rig, "itest-timeout-2", attempts=1)
        status = rig.manager.status()
        assert status["unknown_outcomes"] == status["unknown_resolved"] == 1, status
        assert status["fills_backfilled"] == 1, status


async def test_5xx_after_executing_with_a_failing_first_query_is_still_one_order(db: Database) -> None:
    async with order_rig(db) as rig:
        # Its user-data events are lost as well, or a quick stream would settle the order before
        # the query that this scenario is about.
        rig.server.inject("user_drop", 2, event="ORDER_TRADE_UPDATE")
        rig.server.inject("rest_error", "order", when="after", status=503, method="POST")
        rig.server.inject("rest_error", "order", when="before", status=502, method="GET")
        rig.publish(rig.request("itest-5xx-query", Side.BUY, "10"))
        await _filled_once(rig, "itest-5xx-query", attempts=1)
        assert rig.server.faults.fired["rest_error"] == 2
