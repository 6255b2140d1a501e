"""Client-side rate-limit windows and the server-time offset maths, on a manual clock."""

from __future__ import annotations

import pytest

from core.errors import RateLimitedError
from core.instruments import RateLimit
from executor.binance.rate_limiter import RateLimiter, request_weight
from executor.binance.time_sync import ClockNotSyncedError, TimeSync
from utils.clock import ManualClock

START = 1_700_000_080_000  # 40 s into a minute


def limiter(clock: ManualClock, *limits: RateLimit, max_wait_s: float = 10.0) -> RateLimiter:
    return RateLimiter(clock, limits=limits or (RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 10),),
                       max_wait_s=max_wait_s)


def test_weight_fills_the_window_then_waits_for_the_next_aligned_one() -> None:
    clock = ManualClock(START)
    rl = limiter(clock)
    assert [rl.try_reserve(3) for _ in range(3)] == [0, 0, 0]
    assert rl.try_reserve(2) == 20_000  # 9 used, 2 more do not fit: the minute ends in 20 s
    assert rl.try_reserve(1) == 0  # ...but 1 does
    clock.set(START + 20_000)
    assert rl.try_reserve(10) == 0  # a fresh window


def test_orders_counted_on_every_orders_window_and_not_on_weight() -> None:
    clock = ManualClock(START)
    rl = limiter(clock, RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 5), RateLimit("ORDERS", "SECOND", 10, 2),
                 RateLimit("ORDERS", "MINUTE", 1, 3))
    assert rl.try_reserve(0, 1) == 0 and rl.try_reserve(0, 1) == 0
    assert rl.try_reserve(0, 1) == 10_000  # 10 s window full (aligned: 40 s is a boundary)
    clock.advance(10_000)
    assert rl.try_reserve(0, 1) == 0
    assert rl.try_reserve(0, 1) == 10_000  # the minute window (3) is full too; 10s window ends first
    assert rl.usage()["REQUEST_WEIGHT/1MINUTE"] == (0, 5)


async def test_acquire_raises_when_the_wait_exceeds_the_bound() -> None:
    clock = ManualClock(START)
    rl = limiter(clock, max_wait_s=5)
    await rl.acquire(10)
    with pytest.raises(RateLimitedError) as err:
        await rl.acquire(1)
    assert err.value.retry_after == 20.0


def test_venue_header_counts_are_merged_and_a_429_blocks() -> None:
    clock = ManualClock(START)
    rl = limiter(clock)
    rl.sync_used("REQUEST_WEIGHT", "MINUTE", 1, 9)  # another process used 9
    assert rl.try_reserve(2) > 0
    rl.sync_used("REQUEST_WEIGHT", "MINUTE", 1, 1)  # never lowers our own count
    assert rl.try_reserve(2) > 0
    clock.set(START + 20_000)
    rl.block_for(3)
    assert rl.try_reserve(1) == 3_000


def test_configure_replaces_limits_keeping_counts() -> None:
    clock = ManualClock(START)
    rl = limiter(clock)
    rl.try_reserve(8)
    rl.configure([RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 2400), RateLimit("RAW_REQUESTS", "MINUTE", 1, 5)])
    assert rl.usage() == {"REQUEST_WEIGHT/1MINUTE": (8, 2400)}


def test_endpoint_weights() -> None:
    assert request_weight("POST", "/fapi/v1/order") == 0
    assert request_weight("GET", "/fapi/v1/openOrders", {"symbol": "X"}) == 1
    assert request_weight("GET", "/fapi/v1/openOrders", {}) == 40
    assert request_weight("GET", "/fapi/v1/klines", {"limit": 1500}) == 10
    assert request_weight("GET", "/fapi/v1/positionSide/dual") == 30


def test_offset_is_server_time_minus_the_request_midpoint() -> None:
    clock = ManualClock(1_000_000)
    sync = TimeSync(clock, max_offset_ms=5_000)
    with pytest.raises(ClockNotSyncedError):
        sync.signing_timestamp()
    assert sync.record(server_time_ms=1_000_200, sent_ms=999_800, received_ms=1_000_000) == 300
    assert sync.round_trip_ms == 200 and sync.age_ms() == 0
    clock.advance(1_500)
    assert sync.signing_timestamp() == 1_001_500 + 300
    assert sync.age_ms() == 1_500


def test_signing_refused_beyond_the_bound() -> None:
    clock = ManualClock(1_000_000)
    sync = TimeSync(clock, max_offset_ms=1_000)
    sync.record(server_time_ms=1_002_000, sent_ms=1_000_000, received_ms=1_000_000)
    assert not sync.within_bound
    with pytest.raises(ClockNotSyncedError, match="exceeds the bound"):
        sync.signing_timestamp()
