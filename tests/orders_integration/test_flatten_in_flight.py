"""Flatten never closes twice: a second flatten while the first one's close is still in flight
(sent, not answered) sends nothing (issue 14). The real order manager on the in-process venue."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import ClassVar

from core import channels
from core.events import OrderRequest, OrderType, Side
from database.engine import Database
from executor.venue_api import VenueOrder
from tests.orders_integration.test_in_process_gateway import (
    START,
    SYMBOL,
    _FlakyGateway,
    _request,
    _rig,
    _settle,
)


class _HeldGateway(_FlakyGateway):
    """Holds every reduce-only send until released, as a slow venue would."""

    release: ClassVar[asyncio.Event | None] = None
    sends: ClassVar[list[str]] = []

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        if request.reduce_only and self.release is not None:
            type(self).sends.append(request.client_order_id)
            await self.release.wait()
        return await super().place_order(request)


async def test_a_second_flatten_during_an_unanswered_close_sends_nothing(db: Database) -> None:
    async with _rig(db) as rig:
        rig.bus.publish(
            channels.ORDER_REQUEST, _request("ff-open", Side.BUY, OrderType.MARKET, "300", None, START)
        )
        for _ in range(20):
            rig.clock.advance(500)
            rig.gateway.advance()
            await _settle(db)
        assert rig.gateway.engine.account.position(SYMBOL).amount == Decimal(300)

        rig.gateway.__class__ = _HeldGateway
        _HeldGateway.release = asyncio.Event()
        _HeldGateway.sends = []
        first = asyncio.create_task(rig.manager.flattener().flatten(SYMBOL, wait_s=0))
        while not _HeldGateway.sends:  # the first close is on its way and unanswered
            await asyncio.sleep(0.01)
        second = await rig.manager.flattener().flatten(SYMBOL, wait_s=0)
        assert second.closes == []  # what the in-flight close will take is not closed again
        _HeldGateway.release.set()
        await first
        assert rig.gateway.engine.account.position(SYMBOL).amount == 0
        closes = [o for o in rig.gateway.engine.orders(SYMBOL) if o.reduce_only]
        assert len(closes) == 1 and len(_HeldGateway.sends) == 1
