"""Simulator fidelity against Binance (issue 13, items 7 and 8): the private stream's `events=` filter,
and Binance's update cadence in simulated time at --speed 60 and 600 (the standalone simulator), the
daemon's default speed included."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from simulator.exchange import SimulatedExchange
from simulator.exchange_market import paced_update_intervals
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


async def _user_events(ws: aiohttp.ClientWebSocketResponse) -> list[str]:
    """Event types received up to (and with) the first ACCOUNT_UPDATE."""
    seen: list[str] = []
    while "ACCOUNT_UPDATE" not in seen:
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        seen.append(frame.get("data", frame)["e"])
    return seen


async def test_private_stream_delivers_only_the_event_types_asked_for() -> None:
    clock = ScaledClock(WallClock().now_ms(), speed=1)
    exchange = SimulatedExchange.from_data(DATA, start_ms=clock.now_ms(), symbols=["ADAUSDT"])
    server = SimulatorServer(exchange, clock, tick_ms=20)
    await server.start()
    try:
        key = server.listen_keys.create()
        async with aiohttp.ClientSession() as session:
            base = f"{server.stream_url}/private/ws?listenKey={key}"
            filtered = await session.ws_connect(f"{base}&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE")
            everything = await session.ws_connect(base)
            while len(server.hub.connections) < 2:  # both sockets registered before the fill
                await asyncio.sleep(0.01)
            exchange.new_order(
                {"symbol": "ADAUSDT", "side": "BUY", "type": "MARKET", "quantity": "20",
                 "newClientOrderId": "fidelity-1"}, clock.now_ms(),
            )
            got_filtered, got_all = await asyncio.gather(_user_events(filtered), _user_events(everything))
            await filtered.close()
            await everything.close()
    finally:
        await server.stop()
    assert "TRADE_LITE" in got_all
    assert got_filtered == [e for e in got_all if e != "TRADE_LITE"]
    assert set(got_filtered) == {"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"}


async def _frames(url: str, streams: list[str], wanted: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Payloads per stream until each has `wanted[stream]` of them."""
    got: dict[str, list[dict[str, Any]]] = {s: [] for s in streams}
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"{url}/market/stream?streams={'/'.join(streams)}"
    ) as ws:
        while any(len(got[s]) < n for s, n in wanted.items()):
            msg = await ws.receive(timeout=20)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            frame = json.loads(msg.data)
            got[frame["stream"]].append(frame["data"])
    return got


def _gaps(payloads: list[dict[str, Any]]) -> set[int]:
    return {b["E"] - a["E"] for a, b in itertools.pairwise(payloads)}


@pytest.mark.parametrize("speed", ["60", "600"])
def test_updates_keep_binances_cadence_in_simulated_time(speed: str) -> None:
    """240 kline updates a candle and a mark price every second, also at the daemon's default speed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "--port", "0", "--speed", speed, "--symbols", "ADAUSDT"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = ""
        while "simulator: streams" not in line:
            line = proc.stdout.readline()
            assert line, f"exited early: {proc.wait(10)}"
        url = line.split()[2]
        streams = ["adausdt@kline_1m", "adausdt@markPrice@1s", "adausdt@markPrice"]
        got = asyncio.run(_frames(url, streams, {"adausdt@kline_1m": 500, "adausdt@markPrice@1s": 12,
                                                 "adausdt@markPrice": 5}))
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    live = [p for p in got["adausdt@kline_1m"] if not p["k"]["x"]]
    assert _gaps(live) == {250}
    # One whole candle as Binance sends it: 240 live updates (from :00.000 to :59.750) and the
    # final x=true one at the next minute's first instant.
    whole = sorted({p["k"]["t"] for p in live})[1]  # the first began before the socket connected
    assert len([p for p in live if p["k"]["t"] == whole]) == 240
    final = [p["E"] - whole for p in got["adausdt@kline_1m"] if p["k"]["t"] == whole and p["k"]["x"]]
    assert final == [60_000]
    assert _gaps(got["adausdt@markPrice@1s"]) == {1000}
    assert _gaps(got["adausdt@markPrice"]) == {3000}


def test_the_shipped_speed_keeps_binances_cadence() -> None:
    """`make run`'s simulator speed is within the exact-cadence range: 250 ms klines, 1 s marks."""
    shipped = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["simulator"]["speed"]
    assert paced_update_intervals(float(shipped)) == (250, 1000)
    assert paced_update_intervals(1200.0) == (500, 2000)  # the documented cap beyond 600x
