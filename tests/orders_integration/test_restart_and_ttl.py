"""Scenario 8 (the daemon killed between writing an order and sending it, then reconciled at
start-up) and scenario 10 (an unfilled entry is cancelled after its TTL, and optionally re-priced)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from functools import partial

from core.client_ids import reprice_client_id
from core.decimals import PriceIntent, quantize_price
from core.events import Candle, MarkPrice, OrderRequest, Side
from core.order_state import OrderState
from database.engine import Database
from executor.binance.market_streams import MarketStreams
from executor.orders import store as order_store
from executor.orders.reconcile import NEVER_REACHED, reconcile
from tests.orders_integration.rig import SYMBOL, Rig, check_db_matches_venue, order_rig, wait_for


async def _written_not_sent(rig: Rig, request: OrderRequest) -> None:
    """What the order manager commits before sending: the PENDING_NEW row (then the 'crash')."""
    inserted = await rig.db.run(
        partial(
            order_store.insert_order,
            request=request,
            state=OrderState.PENDING_NEW,
            now=rig.clock.now_ms(),
        )
    )
    assert inserted


async def test_killed_before_sending_is_resolved_as_never_arrived_and_never_sent(db: Database) -> None:
    async with order_rig(db, start_manager=False) as rig:
        await _written_not_sent(rig, rig.request("itest-crash-unsent", Side.BUY, "10"))
        report = await reconcile(rig.gateway, db, rig.clock, rig.instruments, settle_seconds=1.0)
        assert report.never_arrived == 1
        row = await rig.order_row("itest-crash-unsent")
        assert row is not None and row.state == "LOST" and row.reason == NEVER_REACHED
        # The restarted manager does not send it either.
        await rig.start_manager()
        await asyncio.sleep(1.0)
        assert rig.venue_orders_for("itest-crash-unsent") == []
        assert rig.manager.counters.send_attempts == 0
        await check_db_matches_venue(rig)


async def test_killed_after_the_venue_got_it_is_adopted_with_fills_and_position(db: Database) -> None:
    async with order_rig(db, start_manager=False) as rig:
        request = rig.request("itest-crash-sent", Side.BUY, "10")
        await _written_not_sent(rig, request)
        await rig.probe.place_order(request)  # the request left just before the crash
        report = await reconcile(rig.gateway, db, rig.clock, rig.instruments, settle_seconds=1.0)
        assert report.filled == 1 and report.fills_backfilled == 1, report
        row = await rig.order_row("itest-crash-sent")
        assert row is not None and row.state == "FILLED" and Decimal(row.filled_qty) == 10
        position = await rig.position_row()
        assert position is not None and Decimal(position.quantity) == 10
        await check_db_matches_venue(rig, within=0)
        # The restarted manager neither resends it nor books it twice.
        await rig.start_manager()
        rig.publish(request)

        async def recognised() -> bool:
            return rig.manager.counters.duplicates >= 1

        await wait_for(recognised, 10, "the replayed request to be recognised")
        assert len(rig.venue_orders_for("itest-crash-sent")) == 1
        await check_db_matches_venue(rig, within=0)


async def test_a_request_still_in_flight_at_restart_is_adopted_not_declared_lost(db: Database) -> None:
    """The request left just before the crash and reaches the venue while reconciliation runs:
    "never arrived" may only be concluded once its recvWindow has passed (in wall time)."""
    async with order_rig(db, start_manager=False, speed=120) as rig:
        request = rig.request("itest-crash-inflight", Side.BUY, "10")
        await _written_not_sent(rig, request)

        asked = rig.gateway.requests_sent

        async def lands_late() -> None:
            while rig.gateway.requests_sent == asked:  # reconciliation has started asking the venue
                await asyncio.sleep(0.005)
            await rig.probe.place_order(request)

        late = asyncio.create_task(lands_late())
        # The settle window is generous so a loaded machine still lands the request inside it.
        report = await reconcile(rig.gateway, db, rig.clock, rig.instruments, settle_seconds=5.0)
        await late
        assert report.never_arrived == 0, report
        row = await rig.order_row("itest-crash-inflight")
        assert row is not None and row.state == "FILLED", (row.state if row else None)
        await check_db_matches_venue(rig, within=0)


async def test_an_unfilled_entry_is_cancelled_after_its_ttl(db: Database) -> None:
    # TTL 30 s of market time at speed 60: half a second of wall time.
    async with order_rig(db, speed=60, ttl_s=30) as rig:
        tick = rig.instruments[SYMBOL].tick_size
        far = quantize_price(rig.mark() * Decimal("0.955"), tick, Side.BUY, PriceIntent.PASSIVE)
        rig.publish(rig.request("itest-ttl", Side.BUY, "10", price=far))
        await rig.wait_state("itest-ttl", "NEW")
        assert len(rig.venue_orders_for("itest-ttl")) == 1
        row = await rig.wait_state("itest-ttl", "CANCELED", within=5)
        assert "TTL" in row.reason, row.reason
        assert rig.manager.counters.ttl_cancels == 1
        assert await rig.probe.open_orders(SYMBOL) == []
        [venue] = rig.venue_orders_for("itest-ttl")
        assert venue["status"] == "CANCELED"

        async def published() -> bool:
            return any(u.state == "CANCELED" for u in rig.updates_for("itest-ttl"))

        await wait_for(published, 2, "order.update CANCELED")
        await check_db_matches_venue(rig)


async def test_ttls_follow_the_market_clock_of_a_fast_simulator(db: Database) -> None:
    # At 600x a real second is 10 market minutes: checking once per real second (the poll cadence)
    # would cancel a 30 s TTL up to 10 minutes late. The daemon checks once per market second.
    speed = 600
    async with order_rig(db, speed=speed, ttl_s=30, poll_s=5.0, ttl_check_s=1 / speed) as rig:
        tick = rig.instruments[SYMBOL].tick_size
        far = quantize_price(rig.mark() * Decimal("0.955"), tick, Side.BUY, PriceIntent.PASSIVE)
        rig.publish(rig.request("itest-ttl-fast", Side.BUY, "10", price=far))
        row = await rig.wait_state("itest-ttl-fast", "CANCELED", within=5)
        assert row.expire_time is not None
        late_ms = row.updated_time - row.expire_time
        # Checked at the poll cadence (5 real s = 3,000 market s) it would be up to 50 minutes late;
        # once per market second, it is late by the loop's lag only. A third of the poll cadence
        # tells the two apart even on a loaded machine (1.6 s of lag).
        assert 0 <= late_ms < 5.0 * speed * 1000 / 3, f"cancelled {late_ms / 1000:.0f} market s after its TTL"
        await check_db_matches_venue(rig)


async def test_an_expired_entry_is_re_priced_once_at_the_mark_under_a_derived_id(db: Database) -> None:
    async with order_rig(db, speed=60, ttl_s=30, reprice=True) as rig:
        # The real market streams feed the order manager its mark prices, as in the daemon.
        def sink(event: Candle | MarkPrice) -> None:
            rig.bus.publish(f"market.{event.symbol}", event)

        streams = MarketStreams(rig.endpoints.stream_url, rig.clock, sink)
        await streams.start([SYMBOL])
        try:
            tick = rig.instruments[SYMBOL].tick_size
            far = quantize_price(rig.mark() * Decimal("0.955"), tick, Side.BUY, PriceIntent.PASSIVE)
            rig.publish(rig.request("itest-reprice", Side.BUY, "10", price=far))
            await rig.wait_state("itest-reprice", "CANCELED", within=5)
            copy = reprice_client_id("itest-reprice")
            row = await rig.wait_state(copy, "NEW", "FILLED", "CANCELED", within=5)
            mark = rig.mark()
            # At the mark (rounded down for a buy), not at the stale far price.
            assert row.price is not None and abs(row.price - mark) / mark < Decimal("0.01"), (row.price, mark)
            assert row.price > far and row.quantity == Decimal(10)
            # The copy is never re-priced again: after its own TTL it ends, filled or cancelled.
            final = await rig.wait_state(copy, "FILLED", "CANCELED", within=5)
            assert rig.manager.counters.reprices == 1
            assert len(rig.venue_orders_for("itest-reprice")) == 1
            assert [o["status"] for o in rig.venue_orders_for(copy)] == [final.state]
            assert not rig.venue_orders_for(reprice_client_id(copy))
            await check_db_matches_venue(rig)
        finally:
            await streams.stop()
