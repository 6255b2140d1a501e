"""Client-side request-weight and order-count limits, so Binance never has to enforce them.

The limits come from exchangeInfo `rateLimits` (REQUEST_WEIGHT 2400/min, ORDERS 300/10 s and
1200/min on mainnet). Windows are fixed and aligned to the interval on the wall clock, like
Binance's counters. Before each call the gateway reserves the call's weight (`ENDPOINT_WEIGHTS`);
when a window is full it waits for the next one (asyncio.sleep, never blocking the loop), or
raises RateLimitedError when that wait would exceed `max_wait_s` so the caller can decide.

The venue's own count (`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-*`, which the SDK exposes as
`ApiResponse.rate_limits`) is merged in after every response: other processes on the same IP or
account use the same budget. A 429 blocks every call until its Retry-After has passed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.errors import RateLimitedError
from core.instruments import RateLimit
from utils.clock import Clock

__all__ = ["DEFAULT_LIMITS", "ENDPOINT_WEIGHTS", "RateLimiter", "request_weight"]

DEFAULT_LIMITS: tuple[RateLimit, ...] = (
    RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 2400),
    RateLimit("ORDERS", "SECOND", 10, 300),
    RateLimit("ORDERS", "MINUTE", 1, 1200),
)

# Binance's documented IP weights (USD-M futures). A pair is (with symbol, without symbol).
ENDPOINT_WEIGHTS: dict[tuple[str, str], int | tuple[int, int]] = {
    ("GET", "/fapi/v1/ping"): 1,
    ("GET", "/fapi/v1/time"): 1,
    ("GET", "/fapi/v1/exchangeInfo"): 1,
    ("POST", "/fapi/v1/order"): 0,  # orders cost 0 IP weight and 1 on each ORDERS counter
    ("GET", "/fapi/v1/order"): 1,
    ("DELETE", "/fapi/v1/order"): 1,
    ("GET", "/fapi/v1/openOrders"): (1, 40),
    ("GET", "/fapi/v1/userTrades"): 5,
    ("GET", "/fapi/v3/positionRisk"): 5,
    ("GET", "/fapi/v3/balance"): 5,
    ("GET", "/fapi/v3/account"): 5,
    ("GET", "/fapi/v1/income"): 30,
    ("GET", "/fapi/v1/positionSide/dual"): 30,
    ("POST", "/fapi/v1/leverage"): 1,
    ("POST", "/fapi/v1/listenKey"): 1,
    ("PUT", "/fapi/v1/listenKey"): 1,
    ("DELETE", "/fapi/v1/listenKey"): 1,
}


def request_weight(method: str, path: str, params: Mapping[str, object] | None = None) -> int:
    """The IP weight of one request (klines by `limit`; unknown endpoints cost 1)."""
    params = params or {}
    if path == "/fapi/v1/klines":
        limit = int(str(params.get("limit", 500)))
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
    weight = ENDPOINT_WEIGHTS.get((method, path), 1)
    if isinstance(weight, tuple):
        return weight[0] if params.get("symbol") else weight[1]
    return weight


@dataclass(slots=True)
class _Window:
    rule: RateLimit
    start_ms: int = 0
    used: int = 0

    def used_at(self, now_ms: int) -> int:
        return self.used if self.start_ms == now_ms - now_ms % self.rule.window_ms else 0


class RateLimiter:
    """Fixed-window weight and order counters on the wall `clock`; see the module docstring."""

    def __init__(
        self, clock: Clock, *, limits: Iterable[RateLimit] = DEFAULT_LIMITS, max_wait_s: float = 10.0
    ) -> None:
        self._clock = clock
        self.max_wait_s = max_wait_s
        self._windows: list[_Window] = []
        self.blocked_until_ms = 0
        self.waits = 0
        self.configure(limits)

    def configure(self, limits: Iterable[RateLimit]) -> None:
        """Use these limits (from exchangeInfo); counts in the current windows are kept."""
        old = {(w.rule.kind, w.rule.window_ms): w for w in self._windows}
        windows = []
        for rule in limits:
            if rule.kind not in ("REQUEST_WEIGHT", "ORDERS"):
                continue
            previous = old.get((rule.kind, rule.window_ms))
            window = _Window(rule)
            if previous is not None:
                window.start_ms, window.used = previous.start_ms, previous.used
            windows.append(window)
        self._windows = windows

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        """The limits in force."""
        return tuple(w.rule for w in self._windows)

    def try_reserve(self, weight: int, orders: int = 0) -> int:
        """Reserve now and return 0, or reserve nothing and return the ms to wait before retrying."""
        now = self._clock.now_ms()
        if now < self.blocked_until_ms:
            return self.blocked_until_ms - now
        wait = 0
        for window in self._windows:
            cost = weight if window.rule.kind == "REQUEST_WEIGHT" else orders
            if cost <= 0:
                continue
            if cost > window.rule.limit:
                raise ValueError(f"a cost of {cost} can never fit {window.rule}")
            if window.used_at(now) + cost > window.rule.limit:
                window_end = now - now % window.rule.window_ms + window.rule.window_ms
                wait = max(wait, window_end - now)
        if wait:
            return wait
        for window in self._windows:
            cost = weight if window.rule.kind == "REQUEST_WEIGHT" else orders
            if cost > 0:
                start = now - now % window.rule.window_ms
                window.used = window.used_at(now) + cost
                window.start_ms = start
        return 0

    async def acquire(self, weight: int, orders: int = 0) -> None:
        """Reserve `weight` and `orders`, waiting for the next window when needed.

        Raises RateLimitedError (nothing reserved) when the wait would exceed `max_wait_s`.
        """
        while True:
            wait_ms = self.try_reserve(weight, orders)
            if wait_ms == 0:
                return
            if wait_ms > self.max_wait_s * 1000:
                raise RateLimitedError(
                    f"local rate limit: next slot in {wait_ms / 1000:.1f} s", retry_after=wait_ms / 1000,
                    http_status=None,
                )
            self.waits += 1
            # A few ms past the boundary so the next window has surely begun on the venue too.
            await asyncio.sleep(wait_ms / 1000 + 0.005)

    def block_for(self, seconds: float) -> None:
        """Stop every reservation for `seconds` (a 429's Retry-After)."""
        until = self._clock.now_ms() + int(seconds * 1000)
        self.blocked_until_ms = max(self.blocked_until_ms, until)

    def sync_used(self, kind: str, interval: str, interval_num: int, count: int) -> None:
        """Merge the venue's count for one counter (response headers): never below our own."""
        now = self._clock.now_ms()
        for window in self._windows:
            rule = window.rule
            if rule.kind == kind and rule.interval == interval and rule.interval_num == interval_num:
                start = now - now % rule.window_ms
                window.used = max(window.used_at(now), count)
                window.start_ms = start

    def usage(self) -> dict[str, tuple[int, int]]:
        """`{"REQUEST_WEIGHT/1MINUTE": (used, limit), ...}` for the heartbeat."""
        now = self._clock.now_ms()
        return {
            f"{w.rule.kind}/{w.rule.interval_num}{w.rule.interval}": (w.used_at(now), w.rule.limit)
            for w in self._windows
        }
