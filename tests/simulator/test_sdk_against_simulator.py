"""The official SDK, unmodified, against the loopback simulator: every REST endpoint the daemon may call
is answered with something the SDK's own strict pydantic model accepts, and the kline, mark-price
and user-data streams reach the SDK's callbacks as validated models.

Fidelity is checked two ways: the SDK logs a warning and permanently relaxes a model
(`binance_common.utils._relaxed_models`) when a response breaks its strict types, so a test fails
if any model got relaxed or any such warning was logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from binance_common import utils as sdk_utils
from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketStreams
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
    DerivativesTradingUsdsFutures,
)
from pydantic import BaseModel

from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from utils.clock import ScaledClock, WallClock

DATA = Path(__file__).resolve().parents[2] / "data"
SYMBOL = "ADAUSDT"


@pytest.fixture
async def server() -> AsyncIterator[SimulatorServer]:
    clock = ScaledClock(WallClock().now_ms(), speed=60)
    exchange = SimulatedExchange.from_data(DATA, start_ms=clock.now_ms(), symbols=[SYMBOL])
    async with SimulatorServer(exchange, clock, tick_ms=20) as srv:
        yield srv


def sdk(server: SimulatorServer) -> DerivativesTradingUsdsFutures:
    return DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET,
                                             base_path=server.rest_url, retries=0, timeout=5000),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=server.stream_url),
    )


@pytest.fixture
def strict_models(caplog: pytest.LogCaptureFixture) -> Callable[[], None]:
    """Returns a check that no SDK model was relaxed or failed to parse since the fixture started."""
    relaxed_before = set(sdk_utils._relaxed_models)
    caplog.set_level(logging.WARNING)

    def check() -> None:
        relaxed = {m.__name__ for m in sdk_utils._relaxed_models - relaxed_before}
        assert not relaxed, f"responses broke the SDK's strict models: {sorted(relaxed)}"
        bad = [r.getMessage() for r in caplog.records
               if "did not match the declared types" in r.getMessage() or "Failed to parse" in r.getMessage()]
        assert not bad, bad

    return check


async def call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Run one blocking SDK call off the loop and return its decoded data."""
    response = await asyncio.to_thread(fn, **kwargs)
    assert response.status == 200
    return response.data()


def _tick(info: Any) -> Decimal:
    symbol = next(s for s in info.symbols if s.symbol == SYMBOL)
    return Decimal(next(f.tick_size for f in symbol.filters if f.filter_type == "PRICE_FILTER"))


async def test_every_rest_endpoint_passes_the_sdk_models(server: SimulatorServer,
                                                         strict_models: Callable[[], None]) -> None:
    api = sdk(server).rest_api
    assert (await asyncio.to_thread(api.test_connectivity)).status == 200
    assert (await call(api.check_server_time)).server_time > 0
    info = await call(api.exchange_information)
    assert SYMBOL in [s.symbol for s in info.symbols]
    klines = await call(api.kline_candlestick_data, symbol=SYMBOL, interval="1m", limit=5)
    assert len(klines) == 5 and all(isinstance(v, str) for v in klines[0][1:6])
    mark = Decimal((await call(api.mark_price, symbol=SYMBOL)).actual_instance.mark_price)
    assert mark > 0
    await call(api.mark_price)
    await call(api.ticker24hr_price_change_statistics, symbol=SYMBOL)
    await call(api.symbol_price_ticker, symbol=SYMBOL)
    await call(api.symbol_price_ticker_v2, symbol=SYMBOL)
    await call(api.get_funding_rate_history, symbol=SYMBOL, limit=10)
    key = (await call(api.start_user_data_stream)).listen_key
    assert (await call(api.keepalive_user_data_stream)).listen_key == key
    await call(api.change_initial_leverage, symbol=SYMBOL, leverage=5)
    await call(api.notional_and_leverage_brackets, symbol=SYMBOL)
    assert (await call(api.get_current_position_mode)).dual_side_position is False

    tick = _tick(info)
    price = format((mark * Decimal("0.9") // tick * tick).normalize(), "f")
    placed = await call(api.new_order, symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                        quantity="100", price=price, new_client_order_id="sim-fidelity-1")
    assert (placed.status, placed.price, placed.client_order_id) == ("NEW", price, "sim-fidelity-1")
    queried = await call(api.query_order, symbol=SYMBOL, orig_client_order_id="sim-fidelity-1")
    assert queried.order_id == placed.order_id and queried.status == "NEW"
    assert [o.order_id for o in await call(api.current_all_open_orders, symbol=SYMBOL)] == [placed.order_id]
    assert (await call(api.cancel_order, symbol=SYMBOL, order_id=placed.order_id)).status == "CANCELED"

    filled = await call(api.new_order, symbol=SYMBOL, side="BUY", type="MARKET", quantity="100",
                        new_client_order_id="sim-fidelity-2", new_order_resp_type="RESULT")
    assert filled.status == "FILLED" and Decimal(filled.executed_qty) == 100
    assert len(await call(api.all_orders, symbol=SYMBOL)) == 2
    trades = await call(api.account_trade_list, symbol=SYMBOL)
    assert sum(Decimal(t.qty) for t in trades) == 100
    await call(api.get_income_history)
    await call(api.account_information_v2)
    await call(api.account_information_v3)
    await call(api.futures_account_balance_v2)
    assert any(b.asset == "USDT" for b in await call(api.futures_account_balance_v3))
    await call(api.position_information_v2, symbol=SYMBOL)
    positions = await call(api.position_information_v3, symbol=SYMBOL)
    assert Decimal(positions[0].position_amt) == 100
    await asyncio.to_thread(api.close_user_data_stream)
    strict_models()


async def until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for `predicate` on the loop (the SDK's callbacks run on it)."""
    async with asyncio.timeout(seconds):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_streams_reach_the_sdk_callbacks_as_models(server: SimulatorServer,
                                                         strict_models: Callable[[], None]) -> None:
    client = sdk(server)
    streams = client.websocket_streams
    await streams.create_connection()
    klines: list[Any] = []
    marks: list[Any] = []
    events: list[BaseModel] = []
    try:
        (await streams.kline_candlestick_streams(symbol=SYMBOL, interval="1m")).on("message", klines.append)
        (await streams.mark_price_stream(symbol=SYMBOL, update_speed="1s")).on("message", marks.append)
        key = (await call(client.rest_api.start_user_data_stream)).listen_key
        (await streams.user_data(key)).on("message", events.append)
        await until(lambda: any(k.k.x for k in klines) and len(marks) >= 2)
        assert all(k.s == SYMBOL and k.k.i == "1m" and isinstance(k.k.c, str) for k in klines)
        assert marks[1].E > marks[0].E and all(isinstance(m.p, str) for m in marks)

        await call(client.rest_api.new_order, symbol=SYMBOL, side="SELL", type="MARKET", quantity="100",
                   new_client_order_id="sim-stream-1")

        def kinds() -> list[str]:
            return [type(getattr(e, "actual_instance", e)).__name__ for e in events]

        await until(lambda: "OrderTradeUpdate" in kinds() and "AccountUpdate" in kinds())
        update = next(getattr(e, "actual_instance", e) for e in events
                      if type(getattr(e, "actual_instance", e)).__name__ == "OrderTradeUpdate"
                      and getattr(e, "actual_instance", e).o.X == "FILLED")
        assert (update.o.c, update.o.S, update.o.z) == ("sim-stream-1", "SELL", "100")
        subscriptions = await streams.list_subscribe()
        assert subscriptions["result"] == [f"{SYMBOL.lower()}@kline_1m", f"{SYMBOL.lower()}@markPrice@1s"]
    finally:
        await streams.close_connection(close_session=True)
    strict_models()
