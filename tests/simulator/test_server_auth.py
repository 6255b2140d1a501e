"""Authentication on the loopback simulator, seen from the official SDK and from a raw HTTP client:
API keys (-2014/-2015), signatures (-1022), timestamps against the wall clock (-1021), error bodies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from binance_common.configuration import ConfigurationRestAPI
from binance_common.errors import BadRequestError, UnauthorizedError
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
    DerivativesTradingUsdsFutures,
)
from yarl import URL

from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET, sign
from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
async def server() -> AsyncIterator[SimulatorServer]:
    clock = ScaledClock(WallClock().now_ms(), speed=60)
    exchange = SimulatedExchange.from_data(DATA, start_ms=clock.now_ms(), symbols=["ADAUSDT"])
    async with SimulatorServer(exchange, clock, tick_ms=20) as srv:
        yield srv


def rest(server: SimulatorServer, key: str = DEFAULT_API_KEY, secret: str = DEFAULT_API_SECRET) -> Any:
    config = ConfigurationRestAPI(api_key=key, api_secret=secret, base_path=server.rest_url, retries=0,
                                  timeout=5000)
    return DerivativesTradingUsdsFutures(config_rest_api=config).rest_api


async def raw(server: SimulatorServer, method: str, path: str, query: str = "", body: str = "",
              key: str | None = DEFAULT_API_KEY) -> tuple[int, str, Any]:
    headers = {"X-MBX-APIKEY": key} if key is not None else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    # encoded=True: send the query bytes exactly as signed (yarl would re-quote them otherwise)
    url = URL(f"{server.rest_url}{path}" + (f"?{query}" if query else ""), encoded=True)
    async with aiohttp.ClientSession() as session, session.request(
        method, url, data=body or None, headers=headers
    ) as resp:
        return resp.status, resp.content_type, await resp.json(content_type=None)


def signed(query: str, secret: str = DEFAULT_API_SECRET) -> str:
    return f"{query}&signature={sign(secret, query)}"


async def test_server_time_is_the_wall_clock_and_ping_answers(server: SimulatorServer) -> None:
    client = rest(server)
    before = time.time_ns() // 1_000_000
    server_time = (await asyncio.to_thread(client.check_server_time)).data().server_time
    after = time.time_ns() // 1_000_000
    assert before <= server_time <= after
    assert (await asyncio.to_thread(client.test_connectivity)).status == 200


async def test_signed_request_with_the_right_credentials_passes(server: SimulatorServer) -> None:
    response = await asyncio.to_thread(rest(server).get_current_position_mode)
    assert response.data().dual_side_position is False
    assert int(response.headers["X-MBX-USED-WEIGHT-1M"]) >= 30


async def test_wrong_secret_is_refused_with_1022(server: SimulatorServer) -> None:
    with pytest.raises(BadRequestError) as err:
        await asyncio.to_thread(rest(server, secret="x" * 64).get_current_position_mode)
    assert err.value.status_code == -1022
    assert err.value.error_message == "Signature for this request is not valid."


async def test_unknown_key_is_refused_with_2015_and_missing_key_with_2014(server: SimulatorServer) -> None:
    with pytest.raises(UnauthorizedError) as err:
        await asyncio.to_thread(rest(server, key="A" * 64).get_current_position_mode)
    assert err.value.status_code == -2015
    status, ctype, body = await raw(server, "GET", "/fapi/v1/positionSide/dual",
                                    signed(f"timestamp={time.time_ns() // 1_000_000}"), key=None)
    assert (status, ctype) == (401, "application/json")
    assert body == {"code": -2014, "msg": "API-key format invalid."}
    status, _, body = await raw(server, "POST", "/fapi/v1/listenKey", key="bad key!")
    assert (status, body["code"]) == (401, -2014)


async def test_stale_and_future_timestamps_are_refused_with_1021(server: SimulatorServer) -> None:
    now = time.time_ns() // 1_000_000
    path = "/fapi/v1/positionSide/dual"
    status, _, body = await raw(server, "GET", path, signed(f"timestamp={now - 6000}"))
    assert (status, body) == (400, {"code": -1021,
                                    "msg": "Timestamp for this request is outside of the recvWindow."})
    # the same age passes with a wider recvWindow, and recvWindow is capped at 60000
    query = f"recvWindow=10000&timestamp={now - 6000}"
    assert (await raw(server, "GET", "/fapi/v1/positionSide/dual", signed(query)))[0] == 200
    status, _, body = await raw(server, "GET", "/fapi/v1/positionSide/dual",
                                signed(f"recvWindow=70000&timestamp={now}"))
    assert (status, body["code"]) == (400, -1131)
    status, _, body = await raw(server, "GET", path, signed(f"timestamp={now + 3000}"))
    assert (status, body["code"]) == (400, -1021)
    assert "ahead" in body["msg"]


async def test_signature_covers_the_exact_bytes_and_a_form_body(server: SimulatorServer) -> None:
    now = time.time_ns() // 1_000_000
    query = f"timestamp={now}"
    # parameters in a form body, signature over query + body (Binance's totalParams)
    body = "dualSidePosition=false"
    sig = sign(DEFAULT_API_SECRET, query + body)
    status, _, answer = await raw(server, "GET", "/fapi/v1/positionSide/dual",
                                  f"{query}&signature={sig}", body=body)
    assert status == 200, answer
    # a tampered parameter after signing is refused
    tampered = signed(f"timestamp={now}&recvWindow=5000").replace("5000", "6000", 1)
    assert (await raw(server, "GET", "/fapi/v1/positionSide/dual", tampered))[2]["code"] == -1022
    # percent-encoded values are verified as sent
    query = urlencode({"timestamp": now, "recvWindow": "5000", "x": "a b/c"})
    assert (await raw(server, "GET", "/fapi/v1/positionSide/dual", signed(query)))[0] == 200


async def test_unknown_path_is_404_json(server: SimulatorServer) -> None:
    status, ctype, body = await raw(server, "GET", "/fapi/v1/nothingHere")
    assert (status, ctype) == (404, "application/json")
    assert set(body) == {"code", "msg"}


async def test_listen_key_lifecycle(server: SimulatorServer) -> None:
    client = rest(server)
    first = (await asyncio.to_thread(client.start_user_data_stream)).data().listen_key
    assert first is not None and len(first) == 64 and first.isalnum()
    again = (await asyncio.to_thread(client.start_user_data_stream)).data().listen_key
    assert again == first  # Binance returns the live key while it is valid
    assert (await asyncio.to_thread(client.keepalive_user_data_stream)).data().listen_key == first
    await asyncio.to_thread(client.close_user_data_stream)
    with pytest.raises(BadRequestError) as err:
        await asyncio.to_thread(client.keepalive_user_data_stream)
    assert (err.value.status_code, err.value.error_message) == (-1125, "This listenKey does not exist.")
    third = (await asyncio.to_thread(client.start_user_data_stream)).data().listen_key
    assert third != first
