"""When the 5-second volatility guard trips, the symbol's resting entries are cancelled at the
venue (they could fill inside the spike); protective exits and other symbols' orders stand."""

from __future__ import annotations

from decimal import Decimal

from core import channels
from core.decimals import PriceIntent, quantize_price
from core.events import Side, VolatilityGuardTriggered
from database.engine import Database
from tests.orders_integration.rig import SYMBOL, check_db_matches_venue, order_rig, wait_for

OTHER = "ADAUSDT"


async def test_a_tripped_volatility_guard_cancels_the_symbols_resting_entries(db: Database) -> None:
    async with order_rig(db) as rig:
        rig.publish(rig.request("itest-open", Side.BUY, "20"))
        await rig.wait_state("itest-open", "FILLED")

        def resting(side: Side, factor: str, symbol: str = SYMBOL) -> Decimal:
            tick = rig.instruments[symbol].tick_size
            return quantize_price(rig.mark(symbol) * Decimal(factor), tick, side, PriceIntent.PASSIVE)

        # Far from the mark on the passive side: they rest.
        rig.publish(rig.request("itest-entry", Side.BUY, "10", price=resting(Side.BUY, "0.9")))
        rig.publish(
            rig.request("itest-exit", Side.SELL, "20", price=resting(Side.SELL, "1.1"), reduce_only=True)
        )
        rig.publish(rig.request("itest-other", Side.BUY, "50", price=resting(Side.BUY, "0.9", OTHER),
                                symbol=OTHER))
        for cid in ("itest-entry", "itest-exit", "itest-other"):
            await rig.wait_state(cid, "NEW")

        now = rig.clock.now_ms()
        rig.bus.publish(
            channels.STRATEGY_EVENT,
            VolatilityGuardTriggered(
                symbol=SYMBOL,
                strategy="itest",
                range_fraction=Decimal("0.012"),
                threshold=Decimal("0.01"),
                until_time=now + 60_000,
                event_time=now,
            ),
        )
        row = await rig.wait_state("itest-entry", "CANCELED")
        # Said in percent, as the YAML's volatility_max_range_pct is (not 0.012 above 0.01).
        assert "volatility guard: price range 1.20 % above 1.00 % (itest)" in row.reason
        assert [o["status"] for o in rig.venue_orders_for("itest-entry")] == ["CANCELED"]
        # The exit and the other symbol's entry were not touched.
        assert (await rig.order_row("itest-exit")).state == "NEW"  # type: ignore[union-attr]
        assert [o["status"] for o in rig.venue_orders_for("itest-exit")] == ["NEW"]
        assert [o["status"] for o in rig.venue_orders_for("itest-other", OTHER)] == ["NEW"]
        await check_db_matches_venue(rig, (SYMBOL, OTHER))


async def test_an_entry_still_being_sent_when_the_guard_trips_is_cancelled_once_it_rests(
    db: Database,
) -> None:
    async with order_rig(db) as rig:
        tick = rig.instruments[SYMBOL].tick_size
        price = quantize_price(rig.mark() * Decimal("0.9"), tick, Side.BUY, PriceIntent.PASSIVE)
        # The venue places the order, then answers only 2 s later: our send is still in flight.
        rig.server.inject("rest_delay", "order", seconds=2, method="POST", count=1)
        rig.publish(rig.request("itest-inflight", Side.BUY, "10", price=price))

        async def on_the_venue() -> bool:
            return bool(rig.venue_orders_for("itest-inflight"))

        await wait_for(on_the_venue, 5, "the entry on the venue")
        # (The user stream may already have said NEW; the REST answer, and so the send, is not back.)
        now = rig.clock.now_ms()
        rig.bus.publish(
            channels.STRATEGY_EVENT,
            VolatilityGuardTriggered(SYMBOL, "itest", Decimal("0.012"), Decimal("0.01"), now + 60_000, now),
        )
        row = await rig.wait_state("itest-inflight", "CANCELED", within=10)
        assert "volatility" in row.reason
        assert [o["status"] for o in rig.venue_orders_for("itest-inflight")] == ["CANCELED"]
        await check_db_matches_venue(rig)
