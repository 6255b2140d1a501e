"""A stream down longer than the threshold is alerted once, and so is its recovery; a blip is not."""

from __future__ import annotations

import asyncio
import time

from alerts.stream_watch import StreamWatch
from core import channels
from core.alerts import Alert, AlertKind, Severity
from core.bus import Bus
from executor.binance.connection import ConnectionStatus
from executor.binance.market_streams import MarketStreams
from simulator.server import SimulatorServer
from tests.alerts.conftest import until
from tests.integration.venue import simulated_venue
from utils.clock import ManualClock, WallClock

T0 = 1_717_243_384_000


def _status(name: str, connected: bool, error: str = "") -> ConnectionStatus:
    return ConnectionStatus(name, connected, 4, None, 0, 0, 0, error)


def _drain(sub: object) -> list[Alert]:
    out: list[Alert] = []
    while True:
        try:
            out.append(sub.get_nowait())  # type: ignore[attr-defined]
        except asyncio.QueueEmpty:
            return out


async def test_down_past_the_threshold_then_back_is_two_alerts_and_a_blip_is_none() -> None:
    bus = Bus()
    seen = bus.subscribe(channels.ALERT, name="test.alerts")
    wall, clock = ManualClock(0), ManualClock(T0)
    sockets = {"market-0": _status("market-0", True), "user": _status("user", True)}
    watch = StreamWatch(bus, clock, wall, [lambda: list(sockets.values())], threshold_s=30)

    watch.check()
    sockets["user"] = _status("user", False, "ConnectionResetError")
    watch.check()
    wall.advance(20_000)
    sockets["user"] = _status("user", True)  # a 20 s blip: the supervisor's reconnect did its job
    watch.check()
    assert _drain(seen) == []

    sockets["market-0"] = _status("market-0", False, "no data for 5.0 s")
    watch.check()
    wall.advance(29_999)
    watch.check()
    assert _drain(seen) == []
    wall.advance(1)
    watch.check()
    wall.advance(60_000)
    watch.check()  # still down: not said twice
    [down] = _drain(seen)
    assert (down.kind, down.severity, down.symbol, down.time) == (
        AlertKind.STREAM_DOWN,
        Severity.WARNING,
        None,
        T0,
    )
    assert down.text == "market-0 stream down for 30 s (last error: no data for 5.0 s); reconnecting"
    sockets["market-0"] = _status("market-0", True)
    watch.check()
    [back] = _drain(seen)
    assert (back.kind, back.text) == (AlertKind.STREAM_RECOVERED, "market-0 stream back after 1 min 30 s")


async def test_a_real_market_stream_whose_venue_goes_away_is_alerted_and_its_return_too() -> None:
    async with simulated_venue() as venue:
        bus = Bus()
        seen = bus.subscribe(channels.ALERT, name="test.alerts")
        streams = MarketStreams(venue.endpoints.stream_url, venue.clock, lambda _e: None, backoff_max_s=0.5)
        watch = StreamWatch(bus, venue.clock, WallClock(), [streams.status], threshold_s=1.0, poll_s=0.05)
        task = asyncio.create_task(watch.run())
        try:
            await streams.start(["WLDUSDT"])
            assert await streams.wait_connected(10)
            port = int(venue.server.stream_url.rsplit(":", 1)[1].split("/")[0])
            went = time.monotonic()  # before the stop: the socket may drop while the server stops
            await venue.server.stop()  # the venue is gone: every reconnect is refused
            down: Alert = await asyncio.wait_for(seen.get(), 15)
            assert down.kind is AlertKind.STREAM_DOWN and time.monotonic() - went >= 1.0
            assert down.text.startswith("market-0 stream down for ")
            again = SimulatorServer(venue.server.exchange, venue.clock, port=port)
            await again.start()
            try:
                back: Alert = await asyncio.wait_for(seen.get(), 15)
                assert back.kind is AlertKind.STREAM_RECOVERED and back.text.startswith(
                    "market-0 stream back after"
                )
                await until(lambda: all(s.connected for s in streams.status()), what="reconnected")
                assert watch.alerts == 2
            finally:
                await streams.stop()
                await again.stop()
        finally:
            await streams.stop()  # again when an assertion failed before the inner block
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
