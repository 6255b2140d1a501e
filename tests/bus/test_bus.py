"""The bus delivers every lossless event in order and conflates only live market updates."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.bus import Bus, SubscriptionClosed
from core.events import Candle, MarkPrice


def _candle(symbol: str, t: int, close: str, *, closed: bool = False) -> Candle:
    price = Decimal(close)
    return Candle(symbol, 0, 59_999, price, price, price, price, Decimal(1), Decimal(1), 1, closed, t)


def _mark(symbol: str, t: int, price: str) -> MarkPrice:
    return MarkPrice(symbol, Decimal(price), Decimal(price), Decimal("0.0001"), 28_800_000, t)


async def test_lossless_topics_deliver_everything_in_order() -> None:
    bus = Bus()
    sub = bus.subscribe("order.update")
    for i in range(1000):
        bus.publish("order.update", i)
    assert [sub.get_nowait() for _ in range(1000)] == list(range(1000))
    assert sub.stats.consumed == 1000 and sub.stats.depth == 0


async def test_prefix_subscription_receives_every_symbol() -> None:
    bus = Bus()
    sub = bus.subscribe("signal.*")
    other = bus.subscribe("signal.BTCUSDT")
    bus.publish("signal.BTCUSDT", "a")
    bus.publish("signal.ETHUSDT", "b")
    bus.publish("order.request", "c")
    assert [sub.get_nowait(), sub.get_nowait()] == ["a", "b"]
    assert other.get_nowait() == "a"
    with pytest.raises(asyncio.QueueEmpty):
        other.get_nowait()


async def test_market_updates_conflate_but_closed_candles_never_do() -> None:
    bus = Bus()
    sub = bus.subscribe("market.BTCUSDT")
    bus.publish("market.BTCUSDT", _candle("BTCUSDT", 1, "10"))
    bus.publish("market.BTCUSDT", _mark("BTCUSDT", 2, "10"))
    bus.publish("market.BTCUSDT", _candle("BTCUSDT", 3, "11"))
    bus.publish("market.BTCUSDT", _candle("BTCUSDT", 4, "12", closed=True))
    bus.publish("market.BTCUSDT", _candle("BTCUSDT", 5, "13"))
    bus.publish("market.BTCUSDT", _mark("BTCUSDT", 6, "13"))
    got = []
    while len(sub):
        got.append(sub.get_nowait())
    # Every older live update was replaced by the newest one, which sits where it arrived; the
    # closed candle stays.
    assert [e.event_time for e in got] == [4, 5, 6]
    assert sub.stats.conflated == 3
    assert any(isinstance(e, Candle) and e.closed for e in got)


async def test_conflation_is_per_symbol() -> None:
    bus = Bus()
    sub = bus.subscribe("market.*")
    bus.publish("market.BTCUSDT", _mark("BTCUSDT", 1, "10"))
    bus.publish("market.ETHUSDT", _mark("ETHUSDT", 2, "20"))
    bus.publish("market.BTCUSDT", _mark("BTCUSDT", 3, "11"))
    got = [sub.get_nowait().event_time for _ in range(len(sub))]
    assert got == [2, 3]


async def test_a_waiting_consumer_wakes_up_and_close_ends_iteration() -> None:
    bus = Bus()
    sub = bus.subscribe("order.request")
    received: list[int] = []

    async def consume() -> None:
        async for event in sub:
            received.append(event)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    bus.publish("order.request", 1)
    bus.publish("order.request", 2)
    await asyncio.sleep(0)
    sub.close()
    await asyncio.wait_for(task, 1)
    assert received == [1, 2]
    with pytest.raises(SubscriptionClosed):
        await sub.get()
    bus.publish("order.request", 3)  # nobody listens any more: still fine
    assert bus.stats()["published"]["order.request"] == 3


async def test_a_slow_consumer_does_not_hold_up_another() -> None:
    bus = Bus(warn_depth=10)
    slow = bus.subscribe("order.update", name="slow")
    fast = bus.subscribe("order.update", name="fast")
    for i in range(50):
        bus.publish("order.update", i)
        assert fast.get_nowait() == i
    stats = {s["name"]: s for s in bus.stats()["subscribers"]}
    assert stats["slow"]["depth"] == 50 and stats["fast"]["depth"] == 0
    assert slow.get_nowait() == 0
