"""Cancelling resting orders in bulk: a tripped volatility guard, a flatten, and a shutdown.

An entry whose send is still in flight cannot be cancelled yet (the cancel would race the order to
the venue). The guard defers its cancel until the order rests (`TtlKeeper.cancel_once_sent`); a
shutdown first closes the intake to new entries, waits for the in-flight ones to get their answer,
then cancels them with the rest, so no entry is left working on the venue once the daemon is gone.
"""

from __future__ import annotations

import asyncio

import structlog

from core.events import VolatilityGuardTriggered
from core.order_state import OrderState
from executor.orders.context import OrderContext
from executor.orders.registry import TrackedOrder
from executor.orders.ttl import TtlKeeper

_log = structlog.get_logger(__name__)
_RESTING = (OrderState.NEW, OrderState.PARTIALLY_FILLED)
_SENDING = (OrderState.PENDING_NEW, OrderState.SENT, OrderState.UNKNOWN)


class OrderCancels:
    """Bulk cancels on one order path (see the module docstring)."""

    def __init__(self, ctx: OrderContext, ttl: TtlKeeper) -> None:
        self._ctx = ctx
        self._ttl = ttl

    def live(self, symbol: str | None = None) -> list[TrackedOrder]:
        """The orders held as live (of one symbol, or all), oldest first."""
        live = self._ctx.registry.live.values()
        return sorted((o for o in live if symbol is None or o.symbol == symbol), key=lambda o: o.created_time)

    async def cancel_entries(self, reason: str, symbol: str | None = None) -> int:
        """Cancel every resting entry order (of one symbol, or all); exits stand. How many cancels
        were sent. Orders whose send has not finished are not touched (see `close_entries`)."""
        entries = [o for o in self.live(symbol) if not o.request.reduce_only and o.state in _RESTING]
        await asyncio.gather(*(self._ttl.cancel(o, reason) for o in entries), return_exceptions=True)
        return len(entries)

    async def cancel_all(self, symbol: str | None = None, reason: str = "cancelled by flatten") -> int:
        """Cancel every resting order of ours (entries and exits), of one symbol or all; how many."""
        resting = [o for o in self.live(symbol) if o.state in _RESTING]
        await asyncio.gather(*(self._ttl.cancel(o, reason) for o in resting), return_exceptions=True)
        return len(resting)

    async def close_entries(self, cancel_reason: str | None, settle_s: float) -> int:
        """Shutdown: refuse every new entry from now on (stored as REJECTED: "the daemon is shutting
        down"); then, with a `cancel_reason`, give the entries being sent up to `settle_s` seconds
        to get their answer and cancel every resting entry (exits stand). How many cancels were sent."""
        ctx = self._ctx
        ctx.entries_closed = "the daemon is shutting down"
        if cancel_reason is None:
            return 0
        # An entry in flight is in the hands of one of its own tasks (`om.submit.<cid>` while it is
        # sent, the venue's report may already have said NEW; `om.ttl.<cid>` while a TTL cancel
        # runs), which ends once the venue's answer (or an unknown outcome's resolution) is in.
        busy = set(self._entries_in_flight())
        tasks = [t for t in ctx.tasks if t.get_name().split(".", 2)[-1] in busy]
        if tasks:
            await asyncio.wait(tasks, timeout=settle_s)
        left = self._entries_in_flight()
        if left:
            _log.warning("order_manager.entries_still_in_flight", client_order_ids=left,
                         detail="their answer did not come in time; the next start reconciles them")
        return await self.cancel_entries(cancel_reason)

    def _entries_in_flight(self) -> list[str]:
        return [o.cid for o in self.live() if not o.request.reduce_only and (o.busy or o.state in _SENDING)]

    def on_guard(self, event: VolatilityGuardTriggered) -> None:
        """A tripped volatility guard: a resting entry could fill inside the very spike the guard
        saw, so the symbol's entries come off the book (exits stand)."""
        # In percent, as the YAML's volatility_max_range_pct says it (0.0086 reads as 0.86 %).
        reason = (
            f"volatility guard: price range {event.range_fraction * 100:.2f} % above "
            f"{event.threshold * 100:.2f} % ({event.strategy})"
        )
        _log.warning("order_manager.volatility_guard", symbol=event.symbol, reason=reason)
        for order in self.live(event.symbol):
            if not order.request.reduce_only and (order.busy or order.state in _SENDING):
                self._ttl.cancel_once_sent(order, reason)  # sent, answer not back: cancel it once it rests
        # Its own task, so cancels on one symbol never hold up the next guard event.
        self._ctx.spawn(self.cancel_entries(reason, event.symbol), name=f"om.guard.{event.symbol}")
