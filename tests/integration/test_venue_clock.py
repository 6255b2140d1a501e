"""Issue 12 item 9: candles where the start-up back-fill meets the live stream, and gaps.

A standalone simulator at speed 600 stamps its klines in simulated time while its /fapi/v1/time is
the wall clock. The daemon ran on the wall clock, so it took the newer candles for unclosed and
back-filled nothing: 18-19 minutes were missing where the warm-up met the stream and after each
reconnect. Now it follows the simulator's clock, refuses a venue whose market clock disagrees with
its own, and logs every gap and whether the venue's klines filled it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from pathlib import Path

import pytest
from sqlmodel import select
from structlog.testing import capture_logs

from core.bus import Bus
from database.engine import Database
from database.models import CandleRow
from executor.binance.market_streams import MarketStreams
from tests.integration.process_rig import DaemonProcess, cleanup
from tests.integration.venue import simulated_venue
from trader.market_data import MINUTE_MS, MarketDataService

pytestmark = pytest.mark.slow


def _gaps(times: list[int]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in itertools.pairwise(times) if b - a != MINUTE_MS]


async def _until(predicate: object, within: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_a_daemon_follows_an_accelerated_standalone_simulator_and_loses_no_candle(
    tmp_path: Path,
) -> None:
    async with simulated_venue(speed=600) as venue:
        daemon = DaemonProcess(tmp_path, venue)
        count = "select count(*) from candles_1m where symbol = 'WLDUSDT'"
        try:
            await daemon.start()
            await daemon.wait_running()
            warm = int(daemon.rows(count)[0][0])
            await _until(lambda: int(daemon.rows(count)[0][0]) >= warm + 15, 60, "live candles")
            venue.server.inject("ws_drop")  # every socket cut: the reconnect's back-fill must join up
            reconnected = int(daemon.rows(count)[0][0])
            await _until(lambda: int(daemon.rows(count)[0][0]) >= reconnected + 15, 60, "later candles")
        finally:
            await cleanup(daemon)
        times = [t for (t,) in daemon.rows("select open_time from candles_1m where symbol = 'WLDUSDT' "
                                           "order by open_time")]
        assert _gaps(times) == [], f"candles missing: {_gaps(times)[:3]}"
        # The daemon's market time was the simulator's, not the wall clock's.
        assert times[-1] > time.time() * 1000 + 10 * MINUTE_MS
        assert "venue.clock_followed" in (tmp_path / "logs" / "trader.log").read_text()


async def test_a_venue_whose_market_clock_disagrees_is_refused_with_one_line(tmp_path: Path) -> None:
    # Two hours ahead and no /_sim/status asked (testnet mode): exchangeInfo's serverTime says so.
    ahead = time.time_ns() // 1_000_000 + 120 * MINUTE_MS
    async with simulated_venue(speed=1, start_ms=ahead) as venue:
        daemon = DaemonProcess(tmp_path, venue, TRADER_MODE="testnet")
        try:
            await daemon.start()
            code = await daemon.wait_exit(within=60)
        finally:
            await cleanup(daemon)
    assert code == 1
    last = daemon.text().strip().splitlines()[-1]
    assert "market clock" in last and "120.0 minutes ahead" in last, last
    assert "Traceback" not in daemon.text()


async def test_a_gap_in_the_stream_is_backfilled_and_logged(db: Database) -> None:
    # The service reads time only from the venue's clock, so a speed of 20 shows the same gap as
    # speed 1 did in a twentieth of the wall time (the next candle closes about 4 s later, not 62 s).
    now = time.time_ns() // 1_000_000
    start = (now // MINUTE_MS + 1) * MINUTE_MS - 15_000
    async with simulated_venue(speed=20, start_ms=start) as venue:
        service = MarketDataService(venue.gateway, db, Bus(), venue.clock)
        history = await service.warm_up("WLDUSDT", 30)
        streams = MarketStreams(venue.endpoints.stream_url, venue.clock, service.sink)
        task = asyncio.create_task(service.run())
        await streams.start(["WLDUSDT"])
        # No kline message from now to 5 s past the minute's end on the venue's clock (however long
        # the warm-up took): the candle closing then is lost, and the next one shows the gap.
        venue_now = venue.clock.now_ms()
        minute_end = (venue_now // MINUTE_MS + 1) * MINUTE_MS
        venue.server.inject("kline_gap", f"{(minute_end + 5_000 - venue_now) / MINUTE_MS:.4f}")
        try:
            with capture_logs() as logged:
                await _until(lambda: service.gaps_detected >= 1, 90, "the next closed candle to show the gap")
                # The warm-up's own candles count as back-filled too: wait for the gap's.
                await _until(lambda: service.candles_backfilled > len(history) and not service._pending, 30,
                             "filled")
        finally:
            await streams.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    times = sorted({c.open_time for c in history} | set(_stored_times(db)))
    assert _gaps(times) == []
    assert times[-1] >= history[-1].open_time + 2 * MINUTE_MS
    events = {e.get("event") for e in logged}
    assert {"market_data.gap", "market_data.gap_repaired"} <= events, events


def _stored_times(db: Database) -> list[int]:
    with db.session() as session:
        return [r.open_time for r in session.exec(select(CandleRow).where(CandleRow.symbol == "WLDUSDT"))]
