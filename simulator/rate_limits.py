"""Request-weight and order-count limits, as Binance USD-M futures enforces them.

Windows are fixed (aligned to the interval, like Binance's minute counters) and run on the WALL
clock: clients pace themselves with real time. Going over a limit answers HTTP 429 with Retry-After;
a client that keeps sending while limited is banned (HTTP 418) and every request is refused until
the ban ends, with the ban time in the message as Binance writes it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.errors import SimError
from utils.clock import Clock

__all__ = [
    "BINANCE_RATE_LIMITS",
    "RateLimitExceeded",
    "RateLimitRule",
    "RateLimiter",
    "request_weight",
]

_INTERVAL_MS = {"SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """One entry of exchangeInfo `rateLimits`."""

    kind: str  # REQUEST_WEIGHT or ORDERS
    interval: str  # SECOND, MINUTE, HOUR, DAY
    interval_num: int
    limit: int

    @property
    def window_ms(self) -> int:
        """Length of one fixed window."""
        return _INTERVAL_MS[self.interval] * self.interval_num

    @property
    def header(self) -> str:
        """The response header reporting this counter, e.g. X-MBX-ORDER-COUNT-10S."""
        prefix = "X-MBX-USED-WEIGHT-" if self.kind == "REQUEST_WEIGHT" else "X-MBX-ORDER-COUNT-"
        return f"{prefix}{self.interval_num}{self.interval[0]}"

    def to_json(self) -> dict[str, Any]:
        """The exchangeInfo form."""
        return {
            "rateLimitType": self.kind,
            "interval": self.interval,
            "intervalNum": self.interval_num,
            "limit": self.limit,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RateLimitRule:
        """Read one exchangeInfo `rateLimits` entry."""
        kind, interval = str(doc["rateLimitType"]), str(doc["interval"])
        return cls(kind, interval, int(doc["intervalNum"]), int(doc["limit"]))


BINANCE_RATE_LIMITS: tuple[RateLimitRule, ...] = (
    RateLimitRule("REQUEST_WEIGHT", "MINUTE", 1, 2400),
    RateLimitRule("ORDERS", "MINUTE", 1, 1200),
    RateLimitRule("ORDERS", "SECOND", 10, 300),
)


class RateLimitExceeded(SimError):
    """A 429 or 418 answer; `retry_after_s` goes into the Retry-After header."""

    def __init__(self, code: int, msg: str, http_status: int, retry_after_s: int) -> None:
        super().__init__(code, msg, http_status)
        self.retry_after_s = retry_after_s


def _klines_weight(params: Mapping[str, str]) -> int:
    try:
        limit = int(params.get("limit", "500"))
    except ValueError:
        limit = 500
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    return 5 if limit <= 1000 else 10


# Binance's documented IP weights (USD-M futures). A pair means (with symbol, without symbol).
_WEIGHTS: dict[tuple[str, str], int | tuple[int, int]] = {
    ("GET", "ping"): 1,
    ("GET", "time"): 1,
    ("GET", "exchangeInfo"): 1,
    ("GET", "premiumIndex"): (1, 10),
    ("GET", "ticker/24hr"): (1, 40),
    ("GET", "ticker/price"): (1, 2),
    ("GET", "fundingRate"): 1,
    ("POST", "listenKey"): 1,
    ("PUT", "listenKey"): 1,
    ("DELETE", "listenKey"): 1,
    ("POST", "order"): 0,  # orders cost nothing on the IP limit, 1 on the order counters
    ("GET", "order"): 1,
    ("DELETE", "order"): 1,
    ("GET", "openOrders"): (1, 40),
    ("GET", "allOrders"): 5,
    ("GET", "userTrades"): 5,
    ("POST", "leverage"): 1,
    ("GET", "leverageBracket"): 1,
    ("GET", "positionSide/dual"): 30,
    ("POST", "positionSide/dual"): 1,
    ("GET", "income"): 30,
    ("GET", "account"): 5,
    ("GET", "balance"): 5,
    ("GET", "positionRisk"): 5,
}


def request_weight(method: str, endpoint: str, params: Mapping[str, str]) -> int:
    """IP weight of one request; `endpoint` is the path after /fapi/vN/."""
    if endpoint == "klines":
        return _klines_weight(params)
    weight = _WEIGHTS.get((method, endpoint), 1)
    if isinstance(weight, tuple):
        return weight[0] if params.get("symbol") else weight[1]
    return weight


def _per(rule: RateLimitRule) -> str:
    unit = rule.interval.lower()
    return f"per {unit}" if rule.interval_num == 1 else f"per {rule.interval_num} {unit}s"


class RateLimiter:
    """Counts weight and orders in fixed wall-clock windows; refuses, then bans, over-eager clients.

    `ban_after` is how many requests a client may send while limited before it is banned;
    `ban_ms` is the ban length (Binance: 2 minutes to 3 days, growing for repeat offenders).
    """

    def __init__(
        self,
        rules: Iterable[RateLimitRule],
        wall_clock: Clock,
        *,
        ban_after: int = 3,
        ban_ms: int = 120_000,
    ) -> None:
        self.rules: tuple[RateLimitRule, ...] = tuple(rules)
        self._wall = wall_clock
        self._ban_after = ban_after
        self._ban_ms = ban_ms
        self._windows: dict[RateLimitRule, tuple[int, int]] = {}  # rule -> (window start, used)
        self._limited_until = 0
        self._violations = 0
        self.banned_until = 0
        self.weight_total = 0  # request weight admitted since start (what a client's start-up cost)

    def _used(self, rule: RateLimitRule, now: int) -> int:
        start, used = self._windows.get(rule, (0, 0))
        return used if start == now - now % rule.window_ms else 0

    def _add(self, rule: RateLimitRule, now: int, cost: int) -> None:
        self._windows[rule] = (now - now % rule.window_ms, self._used(rule, now) + cost)

    def ban(self, duration_ms: int | None = None) -> int:
        """Ban the client now (also used by the force-418 fault); returns the ban end (epoch ms)."""
        now = self._wall.now_ms()
        self.banned_until = now + (self._ban_ms if duration_ms is None else duration_ms)
        return self.banned_until

    def _banned_error(self, now: int) -> RateLimitExceeded:
        return RateLimitExceeded(
            -1003,
            f"Way too many requests; IP banned until {self.banned_until}. "
            "Please use the websocket for live updates to avoid bans.",
            418,
            max(1, math.ceil((self.banned_until - now) / 1000)),
        )

    def admit(self, weight: int, orders: int = 0) -> None:
        """Count one request, or raise RateLimitExceeded (429, or 418 while banned)."""
        now = self._wall.now_ms()
        if now < self.banned_until:
            raise self._banned_error(now)
        if now < self._limited_until:
            self._violations += 1
            if self._violations > self._ban_after:
                self.ban()
                self._limited_until = 0
                self._violations = 0
                raise self._banned_error(now)
        else:
            self._violations = 0
        for rule in self.rules:
            cost = weight if rule.kind == "REQUEST_WEIGHT" else orders
            if cost and self._used(rule, now) + cost > rule.limit:
                window_end = now - now % rule.window_ms + rule.window_ms
                self._limited_until = max(self._limited_until, window_end)
                raise self._limit_error(rule, math.ceil((window_end - now) / 1000))
        for rule in self.rules:
            self._add(rule, now, weight if rule.kind == "REQUEST_WEIGHT" else orders)
        self.weight_total += weight

    def forced_429(self) -> RateLimitExceeded:
        """The answer of the force-429 fault: the first weight limit, as if it had been reached."""
        rule = next((r for r in self.rules if r.kind == "REQUEST_WEIGHT"), BINANCE_RATE_LIMITS[0])
        now = self._wall.now_ms()
        return self._limit_error(rule, max(1, math.ceil((rule.window_ms - now % rule.window_ms) / 1000)))

    @staticmethod
    def _limit_error(rule: RateLimitRule, retry_after_s: int) -> RateLimitExceeded:
        if rule.kind == "REQUEST_WEIGHT":
            msg = (
                f"Too many requests; current limit is {rule.limit} requests {_per(rule)}. "
                "Please use the websocket for live updates to avoid polling the API."
            )
            return RateLimitExceeded(-1003, msg, 429, retry_after_s)
        msg = f"Too many new orders; current limit is {rule.limit} orders {_per(rule)}."
        return RateLimitExceeded(-1015, msg, 429, retry_after_s)

    def headers(self) -> dict[str, str]:
        """The X-MBX-USED-WEIGHT-* / X-MBX-ORDER-COUNT-* headers for the current windows."""
        now = self._wall.now_ms()
        return {rule.header: str(self._used(rule, now)) for rule in self.rules}


def rules_from_exchange_info(rate_limits: Sequence[Mapping[str, Any]]) -> list[RateLimitRule]:
    """Parse exchangeInfo `rateLimits` (entries of unknown kinds are skipped)."""
    return [
        RateLimitRule.from_json(doc)
        for doc in rate_limits
        if doc.get("rateLimitType") in ("REQUEST_WEIGHT", "ORDERS") and doc.get("interval") in _INTERVAL_MS
    ]
