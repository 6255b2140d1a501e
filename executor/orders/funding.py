"""Funding payments: booked once per symbol and funding time, from the stream or the income history.

An ACCOUNT_UPDATE with reason FUNDING_FEE books funding. Binance names the position only for
isolated margin; in cross margin the balance change is the sum over every open position, so it is
that position's only when one is open. With several open, each symbol's share is read from the
income history (`GET /fapi/v1/income`) instead.

`backfill_funding` books what the venue charged while no FUNDING_FEE event reached us (the daemon
was down, or the user stream was): run by reconciliation at start-up and by the order manager after
a user-stream reset. A payment is one row per symbol and funding time (`order_store.book_funding`),
so the stream and the income history never book it twice.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import structlog

from core.errors import FatalError, GatewayError
from core.events import AccountUpdate
from executor.orders import store as order_store
from executor.orders.context import OrderContext, SessionRunner
from executor.orders.positions import Position
from executor.orders.venue_sync import with_retries
from executor.venue_api import OrderGateway
from utils.clock import Clock, WallClock

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)

INCOME_PAGE = 1000  # GET /fapi/v1/income's largest page
FUNDING_LOOKBACK_MS = 7 * 24 * 3_600_000  # Binance's default income window


async def backfill_funding(
    gateway: OrderGateway,
    db: SessionRunner,
    clock: Clock,
    *,
    wall: Clock | None = None,
    lookback_ms: int = FUNDING_LOOKBACK_MS,
    instance_id: str = "",
) -> list[Position]:
    """Book the funding fees the venue charged our open positions that are not booked yet.

    Looks back from the newest payment booked for each symbol (else from when the position was
    opened), at most `lookback_ms`. Returns the positions it changed. `wall` paces the retries
    (default: the wall clock); `instance_id` is written on the positions it changes.
    """
    wall = wall or WallClock()
    positions = {s: p for s, p in (await db.run(order_store.load_positions)).items() if not p.is_flat}
    if not positions:
        return []
    booked_until = await db.run(order_store.last_funding_times)
    now = clock.now_ms()
    since = {
        symbol: max(booked_until.get(symbol, 0), position.opened_time or 0, now - lookback_ms)
        for symbol, position in positions.items()
    }
    start = min(since.values())
    changed: list[Position] = []
    while True:
        page = await with_retries(partial(gateway.income, "FUNDING_FEE", start, now), wall)
        for record in sorted(page, key=lambda r: r.time):
            if record.symbol not in since or record.time <= since[record.symbol] or record.amount == _ZERO:
                continue
            position = await db.run(
                partial(
                    order_store.book_funding,
                    symbol=record.symbol,
                    asset=record.asset,
                    amount=record.amount,
                    time=record.time,
                    instance_id=instance_id,
                )
            )
            if position is not None:
                changed.append(position)
                _log.info(
                    "reconcile.funding_backfilled",
                    symbol=record.symbol,
                    amount=str(record.amount),
                    time=record.time,
                )
        if len(page) < INCOME_PAGE:
            return changed
        start = max(r.time for r in page) + 1


class FundingBooker:
    """The order manager's part: FUNDING_FEE events and the back-fill after a stream reset."""

    def __init__(self, ctx: OrderContext) -> None:
        self._ctx = ctx

    async def on_funding(self, event: AccountUpdate) -> None:
        """Book a FUNDING_FEE account update (see the module docstring for cross margin)."""
        ctx = self._ctx
        changes = [c for c in event.balances if c.balance_change != _ZERO]
        symbols = [p.symbol for p in event.positions]
        if not symbols:
            symbols = [s for s, p in ctx.positions.items() if not p.is_flat]
        if not changes:
            return
        if len(symbols) == 1:
            for change in changes:
                await self._record(
                    symbols[0], change.asset, change.balance_change, event.transaction_time, event.event_time
                )
            return
        # Several positions: the income history has each symbol's share. The query (weight 30)
        # must not hold up the account events queued behind this one.
        ctx.spawn(self.backfill(), name="om.funding")

    async def backfill(self) -> None:
        """Book the funding the venue charged our open positions that is not booked yet."""
        ctx = self._ctx
        try:
            changed = await backfill_funding(
                ctx.gateway, ctx.db, ctx.clock, wall=ctx.wall, instance_id=ctx.instance_id
            )
        except FatalError as exc:
            ctx.halt(exc)
            return
        except GatewayError as exc:  # already retried; the next funding event, reset or restart tries again
            ctx.counters.funding_backfill_failures += 1
            _log.error("order_manager.funding_backfill_failed", error=repr(exc))
            return
        for position in changed:
            ctx.counters.funding_payments += 1
            ctx.positions[position.symbol] = position
            ctx.publish_position(position, ctx.clock.now_ms())

    async def _record(self, symbol: str, asset: str, amount: Decimal, at: int, event_time: int) -> None:
        """Book one funding payment into the position, once per symbol and funding time."""
        ctx = self._ctx
        position = await ctx.db.run(
            partial(
                order_store.book_funding,
                symbol=symbol, asset=asset, amount=amount, time=at, instance_id=ctx.instance_id,
            )
        )
        if position is None:
            return
        ctx.counters.funding_payments += 1
        ctx.positions[symbol] = position
        ctx.publish_position(position, event_time)
