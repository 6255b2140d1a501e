"""Issue 12.6: orders held behind a rate-limit pause are never sent late at stale prices.

A 429 with Retry-After 37 s: an entry that cannot leave within its deadline is dropped locally with
the reason recorded (never sent); an exit waits out the pause and goes. The real order manager on
the in-process venue, on a simulated clock.
"""

from __future__ import annotations

from typing import ClassVar

from sqlmodel import select

from core import channels
from core.errors import RateLimitedError
from core.events import OrderRequest, OrderType, Side
from database.engine import Database
from database.models import OrderRow
from executor.venue_api import VenueOrder
from tests.orders_integration.test_in_process_gateway import START, _FlakyGateway, _request, _rig, _until


class _Throttled(_FlakyGateway):
    """The venue answers 429 (Retry-After 37 s) to the next `pauses` orders."""

    pauses: ClassVar[int] = 0
    sent: ClassVar[list[str]] = []

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        if type(self).pauses > 0:
            type(self).pauses -= 1
            raise RateLimitedError(
                "Too many requests; IP banned until the window ends", -1003, retry_after=37.0
            )
        type(self).sent.append(request.client_order_id)
        return await super().place_order(request)


async def test_an_entry_behind_a_429_pause_is_dropped_and_an_exit_waits_and_goes(db: Database) -> None:
    async with _rig(db) as rig:
        rig.bus.publish(
            channels.ORDER_REQUEST, _request("rl-open", Side.BUY, OrderType.MARKET, "100", None, START)
        )
        await _until(rig, lambda u: u.client_order_id == "rl-open" and u.state == "FILLED")

        rig.gateway.__class__ = _Throttled
        _Throttled.pauses, _Throttled.sent = 2, []
        now = rig.clock.now_ms()
        rig.bus.publish(
            channels.ORDER_REQUEST, _request("rl-entry", Side.BUY, OrderType.MARKET, "100", None, now)
        )
        rig.bus.publish(
            channels.ORDER_REQUEST,
            _request("rl-exit", Side.SELL, OrderType.MARKET, "100", None, now, reduce_only=True),
        )
        dropped = await _until(
            rig, lambda u: u.client_order_id == "rl-entry" and u.state == "EXPIRED", max_ms=60_000
        )
        assert "not sent: an entry cannot leave within 30 s" in dropped.reason
        closed = await _until(
            rig, lambda u: u.client_order_id == "rl-exit" and u.state == "FILLED", max_ms=120_000
        )
        assert closed.filled_qty == 100
        # The exit left after the pause; the entry never left at all.
        assert _Throttled.sent == ["rl-exit"]
        assert rig.clock.now_ms() - now >= 37_000
        rows = await db.run(
            lambda s: s.exec(select(OrderRow).where(OrderRow.client_order_id == "rl-entry")).all()
        )
        assert [(r.state, r.send_attempts) for r in rows] == [("EXPIRED", 1)]
