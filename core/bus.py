"""The in-process event bus: named channels over per-subscriber queues.

Publishing never blocks and never drops an event a consumer must see. Each subscriber owns one
queue, so a slow strategy cannot stall the executor. Two policies:

- lossless (orders, signals, account events): every event is delivered, in order. The queue has no
  hard bound because dropping an order event is worse than memory growth; instead its depth is
  reported and a warning is logged when it passes `warn_depth`, so a stalled consumer is visible.
- conflating (`market.*`): a newer live candle update or mark price for the same symbol replaces the
  queued one (which is skipped), so a slow consumer sees the newest state instead of a backlog.
  Closed candles are never conflated away.

Topics are plain strings (`signal.BTCUSDT`, `order.request`); a subscription pattern is a topic or a
prefix ending in `*` (`signal.*`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from core.channels import MARKET_PREFIX
from core.events import Candle, MarkPrice

_log = structlog.get_logger(__name__)

CONFLATING_PREFIXES = (MARKET_PREFIX,)


def _conflation_key(event: object) -> tuple[type, str] | None:
    """Events that a newer one of the same key may replace; None means never conflate."""
    if type(event) is MarkPrice:
        return (MarkPrice, event.symbol)
    if type(event) is Candle and not event.closed:
        return (Candle, event.symbol)
    return None


class _Slot:
    """One queued event; `event` is set to None when a newer event conflated it away."""

    __slots__ = ("event", "published_ns")

    def __init__(self, event: object, published_ns: int) -> None:
        self.event: object | None = event
        self.published_ns = published_ns


@dataclass(slots=True)
class SubscriptionStats:
    """Counters of one subscription, read by the heartbeat."""

    name: str
    pattern: str
    consumed: int = 0
    conflated: int = 0
    depth: int = 0
    max_depth: int = 0
    last_lag_ms: float = 0.0
    max_lag_ms: float = 0.0


class Subscription:
    """A subscriber's queue. Consume with `await get()` or `async for event in subscription`."""

    def __init__(self, bus: Bus, pattern: str, name: str, *, conflate: bool, warn_depth: int) -> None:
        self._bus = bus
        self.pattern = pattern
        self.name = name
        self._conflate = conflate
        self._warn_depth = warn_depth
        self._warned = False
        self._queue: deque[_Slot] = deque()
        self._latest: dict[tuple[type, str], _Slot] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._notify: Callable[[], object] | None = None
        self._closed = False
        self.stats = SubscriptionStats(name=name, pattern=pattern)

    def set_notify(self, notify: Callable[[], object] | None) -> None:
        """Call `notify()` whenever an event is queued (or the subscription closes).

        Lets one consumer wait on several subscriptions with a single wake-up (e.g. an
        asyncio.Event's `set`) instead of one waiting task per subscription.
        """
        self._notify = notify

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._closed

    def matches(self, topic: str) -> bool:
        """True when this subscription wants events of `topic`."""
        if self.pattern.endswith("*"):
            return topic.startswith(self.pattern[:-1])
        return topic == self.pattern

    def _put(self, event: object, now_ns: int) -> None:
        if self._closed:
            return
        slot = _Slot(event, now_ns)
        if self._conflate:
            key = _conflation_key(event)
            if key is not None:
                older = self._latest.get(key)
                if older is not None and older.event is not None:
                    # Skip the older one and queue the newer at the end, so delivery order
                    # stays the order of publication.
                    older.event = None
                    self.stats.conflated += 1
                    self.stats.depth -= 1
                self._latest[key] = slot
        self._queue.append(slot)
        stats = self.stats
        stats.depth += 1
        if stats.depth > stats.max_depth:
            stats.max_depth = stats.depth
        if stats.depth >= self._warn_depth and not self._warned:
            self._warned = True
            _log.warning("bus.queue_deep", subscriber=self.name, pattern=self.pattern, depth=stats.depth)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._notify is not None:
            self._notify()

    def get_nowait(self) -> Any:
        """The next event, or raise asyncio.QueueEmpty."""
        queue = self._queue
        while queue:
            slot = queue.popleft()
            event = slot.event
            if event is None:
                continue
            stats = self.stats
            stats.depth -= 1
            stats.consumed += 1
            lag_ms = (time.perf_counter_ns() - slot.published_ns) / 1e6
            stats.last_lag_ms = lag_ms
            if lag_ms > stats.max_lag_ms:
                stats.max_lag_ms = lag_ms
            if self._latest and self._conflate:
                key = _conflation_key(event)
                if key is not None and self._latest.get(key) is slot:
                    del self._latest[key]
            if self._warned and stats.depth < self._warn_depth // 2:
                self._warned = False
            return event
        raise asyncio.QueueEmpty

    async def get(self) -> Any:
        """Wait for and return the next event."""
        while True:
            try:
                return self.get_nowait()
            except asyncio.QueueEmpty:
                if self._closed:
                    raise SubscriptionClosed(self.name) from None
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.get()
            except SubscriptionClosed:
                return

    def __len__(self) -> int:
        return self.stats.depth

    def close(self) -> None:
        """Stop receiving; a waiting `get()` raises SubscriptionClosed once the queue is empty."""
        if self._closed:
            return
        self._closed = True
        self._bus._remove(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._notify is not None:
            self._notify()


class SubscriptionClosed(Exception):
    """Raised by `Subscription.get()` after `close()` once nothing is left to deliver."""


class Bus:
    """Topic-based publish/subscribe over asyncio; see the module docstring for the policies."""

    def __init__(self, *, warn_depth: int = 10_000) -> None:
        self._subscriptions: list[Subscription] = []
        self._routes: dict[str, tuple[Subscription, ...]] = {}
        self._published: dict[str, int] = {}
        self._warn_depth = warn_depth

    def subscribe(self, pattern: str, *, name: str = "", conflate: bool | None = None) -> Subscription:
        """Subscribe to a topic or a `prefix.*` pattern; `conflate` defaults by topic family."""
        if conflate is None:
            conflate = pattern.startswith(CONFLATING_PREFIXES)
        sub = Subscription(self, pattern, name or pattern, conflate=conflate, warn_depth=self._warn_depth)
        self._subscriptions.append(sub)
        self._routes.clear()
        return sub

    def publish(self, topic: str, event: object) -> None:
        """Deliver `event` to every subscriber of `topic`. Never blocks, never raises on load."""
        routes = self._routes.get(topic)
        if routes is None:
            routes = tuple(s for s in self._subscriptions if s.matches(topic))
            self._routes[topic] = routes
        self._published[topic] = self._published.get(topic, 0) + 1
        if routes:
            now_ns = time.perf_counter_ns()
            for sub in routes:
                sub._put(event, now_ns)

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
            self._routes.clear()

    def stats(self) -> dict[str, Any]:
        """Counters for the heartbeat: events published per topic and each subscriber's queue."""
        return {
            "published": dict(self._published),
            "subscribers": [
                {
                    "name": s.stats.name,
                    "pattern": s.stats.pattern,
                    "consumed": s.stats.consumed,
                    "conflated": s.stats.conflated,
                    "depth": s.stats.depth,
                    "max_depth": s.stats.max_depth,
                    "last_lag_ms": round(s.stats.last_lag_ms, 3),
                    "max_lag_ms": round(s.stats.max_lag_ms, 3),
                }
                for s in self._subscriptions
            ],
        }
