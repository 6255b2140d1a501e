"""candles_1m stays gap-free and duplicate-free across start-up, lost messages and restarts."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace

from sqlmodel import select

from core.bus import Bus
from core.events import Candle
from database.engine import Database
from database.models import CandleRow
from tests.integration.venue import simulated_venue
from trader.market_data import MINUTE_MS, MarketDataService


def _stored(db: Database, symbol: str) -> list[int]:
    with db.session() as session:
        rows = session.exec(select(CandleRow).where(CandleRow.symbol == symbol)).all()
    return sorted(r.open_time for r in rows)


def _assert_contiguous(times: list[int]) -> None:
    assert times, "no candles stored"
    assert len(times) == len(set(times)), "duplicate candles"
    gaps = [(a, b) for a, b in itertools.pairwise(times) if b - a != MINUTE_MS]
    assert not gaps, f"gaps in candles_1m: {gaps[:3]}"


async def test_warm_up_fills_history_and_a_restart_fetches_only_what_is_new(db: Database) -> None:
    async with simulated_venue(speed=120) as venue:
        service = MarketDataService(venue.gateway, db, Bus(), venue.clock)
        history = await service.warm_up("WLDUSDT", 300)
        assert len(history) == 300
        assert all(c.closed for c in history)
        # Every candle returned is stored, up to the newest. (The warm-up's pages are fetched while
        # the venue's clock runs, at 120x two minutes a second: on a loaded machine the first page
        # may start a minute or two before the 300 returned, and those are stored too.)
        stored = _stored(db, "WLDUSDT")
        assert stored[-300:] == [c.open_time for c in history]
        _assert_contiguous(stored)
        # Prices are the real replayed data, exact decimals.
        assert all(c.low <= c.close <= c.high for c in history)

        while venue.clock.now_ms() < history[-1].open_time + 4 * 60_000:  # two more minutes close
            await asyncio.sleep(0.05)
        restarted = MarketDataService(venue.gateway, db, Bus(), venue.clock)
        again = await restarted.warm_up("WLDUSDT", 300)
        new_minutes = (again[-1].open_time - history[-1].open_time) // 60_000
        assert new_minutes >= 2
        assert restarted.candles_backfilled == new_minutes, "only the new minutes are fetched"
        _assert_contiguous(_stored(db, "WLDUSDT"))


async def test_a_lost_closed_candle_is_detected_and_backfilled(db: Database) -> None:
    async with simulated_venue(speed=120) as venue:
        bus = Bus()
        sub = bus.subscribe("market.WLDUSDT")
        service = MarketDataService(venue.gateway, db, bus, venue.clock)
        history = await service.warm_up("WLDUSDT", 30)
        task = asyncio.create_task(service.run())
        try:
            # Wait (on the venue's clock) for two candles to close after the warm-up's last one.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            closed: list[Candle] = []
            while len(closed) < 2:
                assert loop.time() < deadline, "the venue closed no two new candles in 60 s"
                await asyncio.sleep(0.1)
                latest = await venue.gateway.klines("WLDUSDT", limit=5)
                closed = [c for c in latest if c.closed and c.open_time > history[-1].open_time]
            # The stream "delivers" only the newest closed candle: the ones before it were lost.
            service.sink(closed[-1])
            assert service.gaps_detected == 1
            # Wait for what the back-fill stands for: the stored candles reach the delivered one.
            while not (times := _stored(db, "WLDUSDT")) or times[-1] < closed[-1].open_time:
                assert loop.time() < deadline + 30, f"not back-filled in 30 s: {times[-3:]}"
                await asyncio.sleep(0.05)
            assert service.candles_backfilled >= 1
            _assert_contiguous(times)
            # (the warm-up may store a minute more than it returns when one closes while it fetches)
            assert times[0] <= history[0].open_time and times[-1] >= closed[-1].open_time
            # Strategies got every missed candle, in order, exactly once.
            published = []
            while len(sub):
                event = sub.get_nowait()
                if isinstance(event, Candle) and event.closed:
                    published.append(event.open_time)
            assert published == sorted(set(published))
            assert published[-1] >= closed[-1].open_time
        finally:
            task.cancel()


async def test_a_repeated_final_candle_is_stored_once(db: Database) -> None:
    async with simulated_venue(speed=60) as venue:
        bus = Bus()
        sub = bus.subscribe("market.WLDUSDT")
        service = MarketDataService(venue.gateway, db, bus, venue.clock)
        history = await service.warm_up("WLDUSDT", 5)
        last = history[-1]
        nxt = replace(last, open_time=last.open_time + MINUTE_MS, close_time=last.close_time + MINUTE_MS)
        service.sink(nxt)
        service.sink(nxt)  # a reconnect replays the final update
        await service.flush()
        assert _stored(db, "WLDUSDT").count(nxt.open_time) == 1
        assert len(sub) == 1


async def test_warming_up_245_symbols_stays_within_the_request_weight_limit(db: Database) -> None:
    # 245 klines requests: at the largest page's weight (10) that is 2,450 of the 2,400 a minute
    # allows; a page sized to the 100 minutes wanted weighs 2.
    async with simulated_venue(speed=1, count=245) as venue:
        service = MarketDataService(venue.gateway, db, Bus(), venue.clock)
        symbols = venue.server.exchange.symbols()
        for symbol in symbols:
            assert len(await service.warm_up(symbol, 100)) == 100
        # The whole warm-up fits one minute's budget, whichever window boundaries it straddled.
        assert venue.server.limiter.weight_total <= 2400 // 2


async def test_a_days_warm_up_is_fetched_in_the_cheapest_pages(db: Database) -> None:
    # vwap at 23:00 UTC wants 1,941 candles (the day since its anchor and 560 for the ADX). Pages of
    # 499 weigh 2 each (4 pages: 8); one page of 1,500 and one of 441 weighed 12. 500 symbols:
    # 4,000 of the 2,400 a minute instead of 6,000, so a start-up spans one window boundary, not two.
    async with simulated_venue(speed=1) as venue:
        service = MarketDataService(venue.gateway, db, Bus(), venue.clock)
        before = venue.server.limiter.weight_total
        assert len(await service.warm_up("WLDUSDT", 1_941)) == 1_941
        assert venue.server.limiter.weight_total - before <= 9  # 8, or 9 if a minute closed meanwhile
