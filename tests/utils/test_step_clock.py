"""The step clock: time stands still until a step, and a step wakes exactly the sleepers due."""

from __future__ import annotations

import asyncio

import pytest

from utils.step_clock import StepClock


def test_sleepers_wake_at_the_step_that_reaches_their_deadline() -> None:
    async def scenario() -> list[str]:
        clock = StepClock(1_000, speed=600)
        woke: list[str] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append(f"{name}@{clock.now_ms()}")

        tasks = [asyncio.create_task(sleeper("a", 2)), asyncio.create_task(sleeper("b", 5))]
        await asyncio.sleep(0)
        assert clock.next_wake() == 3_000
        clock.step_to(2_999)
        await asyncio.sleep(0)
        assert woke == []
        clock.step_to(4_000)
        await asyncio.sleep(0)
        clock.step_to(6_000)
        await asyncio.gather(*tasks)
        assert clock.next_wake() is None
        return woke

    assert asyncio.run(scenario()) == ["a@4000", "b@6000"]


def test_it_never_goes_back() -> None:
    clock = StepClock(5_000)
    with pytest.raises(ValueError):
        clock.step_to(4_999)
