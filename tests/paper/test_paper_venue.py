"""Paper mode end to end: simulator A is the public market; orders fill locally at A's prices.

Every order goes through the real Gateway to the paper venue's local simulator; fills come back on
the real user-data stream; A only ever sees public market-data requests.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pytest

from core.errors import FatalError
from core.events import ExecutionReport, ExecutionType, OrderRequest, OrderType, Side, TimeInForce
from executor.binance.user_stream import UserDataStream
from simulator.bars import MINUTE_MS
from tests.paper.venues import (
    SLIPPAGE_BPS,
    SYMBOL,
    Paper,
    _Settings,
    paper_config,
    paper_trading,
    public_market,
    until,
)
from trader.paper_venue import public_rest_url_for, start_paper_venue

SPEED = 60.0  # A's simulated seconds per real second in the trading tests

QTY = Decimal("100")
_ids: Iterator[int] = iter(range(1, 10_000))


def order(side: Side, kind: OrderType, price: Decimal | None = None) -> OrderRequest:
    return OrderRequest(
        f"paper-{next(_ids)}",
        SYMBOL,
        "test",
        side,
        kind,
        QTY,
        0,
        price,
        TimeInForce.GTC if kind is OrderType.LIMIT else None,
    )


def taker(close: Decimal, side: Side, tick: Decimal) -> Decimal:
    slip = close * SLIPPAGE_BPS / 10_000
    if side is Side.BUY:
        return ((close + slip) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    return ((close - slip) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


async def user_stream(p: Paper, events: list[Any]) -> UserDataStream:
    stream = UserDataStream(p.gateway, p.venue.user_stream_url, p.venue.clock, events.append)
    await stream.start()
    return stream


def trades(events: list[Any], client_id: str) -> list[ExecutionReport]:
    return [
        e
        for e in events
        if type(e) is ExecutionReport
        and e.client_order_id == client_id
        and e.execution_type is ExecutionType.TRADE
    ]


async def test_market_orders_fill_at_the_public_price_with_slippage() -> None:
    async with paper_trading(speed=SPEED) as p:
        events: list[Any] = []
        stream = await user_stream(p, events)
        try:
            # The price the venue started with (history) is stale once A's price has moved.
            start = p.venue.feed.series[SYMBOL].price_at(0)
            await until(
                lambda: (
                    any(c != start for c in p.public.closes_of(SYMBOL)[-3:]) and p.venue.feed.candles >= 3
                ),
                what="A's price to move",
            )
            tick = p.venue.exchange.instrument(SYMBOL).tick_size
            for side in (Side.BUY, Side.SELL):
                request = order(side, OrderType.MARKET)
                placed = await p.gateway.place_order(request)
                # What A published in its last two ticks (~0.1 s, 24 updates at 60x): the local
                # venue's last price may be a burst behind A's newest on a loaded machine.
                recent = p.public.closes_of(SYMBOL)[-30:]
                assert placed.status == "FILLED"
                assert placed.avg_price in {taker(c, side, tick) for c in recent}, (placed.avg_price, recent)
                assert (
                    (placed.avg_price > min(recent)) if side is Side.BUY else (placed.avg_price < max(recent))
                )
                await until(lambda r=request: bool(trades(events, r.client_order_id)), what="the fill event")
                fill = trades(events, request.client_order_id)[0]
                assert fill.last_filled_price == placed.avg_price and fill.last_filled_qty == QTY
                assert fill.is_maker is False
            assert [pos.quantity for pos in await p.gateway.positions() if pos.symbol == SYMBOL] in ([], [0])
        finally:
            await stream.stop()


def _limit_through_a(p: Paper, tick: Decimal) -> tuple[Side, Decimal, float]:
    """A limit price A's (deterministic) path avoids for 30 s of its time, then trades through,
    and how many seconds of A's time until it does.

    The local venue checks marketability against the last price it received, which A may have
    published a few seconds ago: the guard covers A's recent past and that local price too. The
    replay keeps the real data's time of day, and some hours are quiet: up to an hour is searched.
    """
    a = p.public.server.exchange
    now = p.public.clock.now_ms()
    path = [(t, a.mark_price(SYMBOL, now + t)) for t in range(-10_000, 3_600_001, 500)]
    local = p.venue.feed.series[SYMBOL].price_at(p.venue.clock.now_ms())
    guard = [price for t, price in path if t <= 30_000] + [local]
    low, high = min(guard) - tick, max(guard) + tick
    for t, price in path:
        if t > 30_000 and price <= low - tick:
            return Side.BUY, low, t / 1000
        if t > 30_000 and price >= high + tick:
            return Side.SELL, high, t / 1000
    raise AssertionError(f"A's replayed market stays within {low}..{high} for an hour")


async def test_a_limit_order_rests_then_fills_when_the_public_price_trades_through() -> None:
    async with paper_trading(speed=SPEED) as p:
        events: list[Any] = []
        stream = await user_stream(p, events)
        try:
            await until(lambda: p.venue.feed.candles >= 2, what="live klines from A")
            tick = p.venue.exchange.instrument(SYMBOL).tick_size
            side, price, after_s = _limit_through_a(p, tick)
            request = order(side, OrderType.LIMIT, price)
            placed = await p.gateway.place_order(request)
            assert placed.status == "NEW"  # not marketable at the live price: it rests
            assert [o.client_order_id for o in await p.gateway.open_orders(SYMBOL)] == [
                request.client_order_id
            ]
            await until(
                lambda: bool(trades(events, request.client_order_id)),
                timeout_s=after_s / SPEED + 10,
                what="A's price to trade through the limit",
            )
            fill = trades(events, request.client_order_id)[0]
            assert fill.is_maker is True and fill.last_filled_price == price
            # A's own bars show the price went through the limit (it did not fill on a stale price).
            bars = p.public.server.exchange.klines(
                {"symbol": SYMBOL, "interval": "1m", "limit": "15"}, p.public.clock.now_ms()
            )
            through = [
                r for r in bars if (Decimal(r[3]) <= price if side is Side.BUY else Decimal(r[2]) >= price)
            ]
            assert through, f"A never traded at {price}"
            done = await p.gateway.query_order(SYMBOL, request.client_order_id)
            assert done is not None and done.status == "FILLED" and done.avg_price == price
        finally:
            await stream.stop()


async def test_nothing_but_public_market_data_reaches_the_public_venue() -> None:
    async with paper_trading(speed=SPEED) as p:
        events: list[Any] = []
        stream = await user_stream(p, events)
        try:
            await until(lambda: p.venue.feed.candles >= 2, what="live klines from A")
            current = p.venue.feed.series[SYMBOL].price_at(p.venue.clock.now_ms())
            tick = p.venue.exchange.instrument(SYMBOL).tick_size
            buy = await p.gateway.place_order(order(Side.BUY, OrderType.MARKET))
            resting = order(
                Side.BUY, OrderType.LIMIT, (current * Decimal("0.8") / tick).to_integral_value() * tick
            )
            await p.gateway.place_order(resting)
            await p.gateway.cancel_order(SYMBOL, resting.client_order_id)
            await p.gateway.place_order(order(Side.SELL, OrderType.MARKET))
            await p.gateway.set_leverage(SYMBOL, 3)
            await p.gateway.positions()
            await p.gateway.balances()
            await p.gateway.user_trades(SYMBOL)
            await p.gateway.klines(SYMBOL, limit=5)
            await until(
                lambda: len([e for e in events if type(e) is ExecutionReport]) >= 6, what="the user events"
            )
        finally:
            await stream.stop()
        assert len(p.venue.exchange.engine.orders(SYMBOL)) == 3 and buy.status == "FILLED"
        public = p.public
        assert public.requests, "the paper venue read A's public REST"
        assert {(m, path) for m, path, _ in public.requests} <= {
            ("GET", "/fapi/v1/exchangeInfo"),
            ("GET", "/fapi/v1/klines"),
        }
        assert not any(signed for _, _, signed in public.requests)
        assert public.server.listen_keys.current is None
        assert public.sockets and all(path.startswith("/market/") for path in public.sockets)
        assert {method for method, _ in public.commands} == {"SUBSCRIBE"}
        assert {name for _, names in public.commands for name in names} <= {
            f"{s.lower()}@{kind}" for s in ("ADAUSDT", "WLDUSDT") for kind in ("kline_1m", "markPrice@1s")
        }


async def test_the_local_venue_serves_the_klines_of_the_public_market() -> None:
    async with paper_trading(speed=1, warmup=40) as p:
        await until(lambda: p.venue.feed.candles >= 2, what="live klines from A")
        local = await p.gateway.klines(SYMBOL, limit=40)
        now = p.public.clock.now_ms()
        rows = p.public.server.exchange.klines({"symbol": SYMBOL, "interval": "1m", "limit": "40"}, now)
        current = now - now % MINUTE_MS
        theirs = {r[0]: tuple(Decimal(x) for x in r[1:6]) for r in rows if r[0] < current}
        ours = {c.open_time: (c.open, c.high, c.low, c.close, c.volume) for c in local if c.closed}
        assert len(theirs) >= 38 and {t: ours.get(t) for t in theirs} == theirs
        newest = max(local, key=lambda c: c.open_time)
        assert newest.close in p.public.closes_of(SYMBOL)  # the open minute as the stream showed it


async def test_skipped_minutes_and_reconnects_are_back_filled_from_the_public_rest() -> None:
    async with paper_trading(speed=SPEED) as p:
        series = p.venue.feed.series[SYMBOL]
        await until(lambda: p.venue.feed.candles >= 2, what="live klines from A")
        p.public.server.inject("kline_gap", 3)
        await until(lambda: p.venue.feed.gaps >= 1, timeout_s=8, what="a gap in A's klines")
        await until(
            lambda: series.refetch_from() == series.latest_open_time, timeout_s=5, what="the hole back-filled"
        )
        held = [b.open_time for b in series.bars(0, 2**62, 0)]
        assert held == list(range(held[0], held[-1] + 1, MINUTE_MS))
        before = len(p.public.requests)
        p.public.server.inject("ws_drop")
        await until(
            lambda: sum(c.reconnects for c in p.venue.streams.status()) >= 1,
            timeout_s=8,
            what="the feed to reconnect",
        )
        await until(
            lambda: any(path == "/fapi/v1/klines" for _, path, _ in p.public.requests[before:]),
            what="a back-fill after the reconnect",
        )
        assert p.venue.backfill_failures == 0 and p.venue.status()["backfilled_bars"] > 0


async def test_an_unreachable_public_market_is_one_line_without_traceback() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FatalError) as info:
        await start_paper_venue(paper_config(), _Settings(f"ws://127.0.0.1:{port}"), timeout_s=2)
    message = str(info.value)
    assert "\n" not in message and f"http://127.0.0.1:{port}/fapi/v1/exchangeInfo" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_trader_rest_url_names_the_public_rest_in_paper_mode() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with public_market(speed=60) as public:  # the stream URL is good; the REST URL is not
        settings = _Settings(public.server.stream_url, rest_url=f"http://127.0.0.1:{port}")
        with pytest.raises(FatalError) as info:
            await start_paper_venue(paper_config(), settings, timeout_s=2)
    assert f"http://127.0.0.1:{port}/fapi/v1/exchangeInfo" in str(info.value)
    assert public.requests == []  # nothing went to the stream's host instead


def test_public_rest_url_follows_the_public_stream_url() -> None:
    assert public_rest_url_for("wss://fstream.binance.com") == "https://fapi.binance.com"
    assert public_rest_url_for("wss://fstream.binancefuture.com/") == "https://testnet.binancefuture.com"
    assert public_rest_url_for("ws://127.0.0.1:8123") == "http://127.0.0.1:8123"
    assert public_rest_url_for("wss://example.test:9443/stream") == "https://example.test:9443"


async def test_a_symbol_added_at_run_time_is_listed_with_history_and_fills_at_public_prices() -> None:
    async with paper_trading(speed=60, symbols=("WLDUSDT",)) as p:
        assert p.venue.symbols == ["WLDUSDT"]
        assert await p.venue.add_symbols([SYMBOL, "NOPEUSDT"]) == [SYMBOL]  # A does not list NOPEUSDT
        assert p.venue.symbols == [SYMBOL, "WLDUSDT"]
        assert SYMBOL in (await p.gateway.exchange_info()).instruments
        history = await p.gateway.klines(SYMBOL, limit=20)
        assert len(history) == 20  # the warm-up history came from A's REST
        events: list[Any] = []
        stream = await user_stream(p, events)
        try:
            await until(lambda: p.venue.feed.series[SYMBOL].updates >= 2, what=f"{SYMBOL} klines from A")
            placed = await p.gateway.place_order(order(Side.BUY, OrderType.MARKET))
            recent = p.public.closes_of(SYMBOL)[-3:]
            tick = p.venue.exchange.instrument(SYMBOL).tick_size
            assert placed.status == "FILLED"
            assert placed.avg_price in {taker(c, Side.BUY, tick) for c in recent}
            await until(lambda: bool(trades(events, placed.client_order_id)), what="the fill event")
        finally:
            await stream.stop()
        assert await p.venue.add_symbols([SYMBOL]) == []  # already listed: nothing fetched again
