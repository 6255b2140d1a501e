"""Per-symbol start-up work a few at a time (issue 19: 500 warm-ups one after the other took minutes)."""

from __future__ import annotations

import asyncio

import pytest

from trader.preflight import for_each_at_once


async def test_every_symbol_is_started_once_with_at_most_n_running_together() -> None:
    running: set[str] = set()
    most = 0
    done: list[str] = []

    async def start(symbol: str) -> None:
        nonlocal most
        running.add(symbol)
        most = max(most, len(running))
        await asyncio.sleep(0)  # a round trip: the others get their turn
        await asyncio.sleep(0)
        running.discard(symbol)
        done.append(symbol)

    symbols = [f"S{i}USDT" for i in range(50)]
    await for_each_at_once(symbols, start, at_once=4)
    assert sorted(done) == sorted(symbols)
    assert most == 4


async def test_a_failing_symbol_stops_the_start_up_with_its_own_error() -> None:
    started: list[str] = []

    async def start(symbol: str) -> None:
        started.append(symbol)
        await asyncio.sleep(0)
        if symbol == "S3USDT":
            raise ValueError("S3USDT: not traded on this venue")
        await asyncio.Event().wait()  # the others would run on: they are cancelled

    with pytest.raises(ValueError, match="S3USDT"):
        await for_each_at_once([f"S{i}USDT" for i in range(20)], start, at_once=4)
    assert len(started) < 20
