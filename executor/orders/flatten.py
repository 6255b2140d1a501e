"""Flatten: cancel our open orders and close every position with reduce-only market orders, then
wait until the venue confirms flat. Run by the daemon (a `flatten` request in the control table) or,
with the daemon stopped, straight against the venue; recorded in the database either way.

Never closes twice, however often it runs and even while a close is in flight:
- each close's client id is derived from the position it closes (symbol, the venue's update time
  of that position, its size, the part), so a second run against the same position produces the
  same ids, which the order path never sends twice;
- the quantity to close is the venue's position minus what our live reduce-only orders (sent or in
  flight) will already close.
A close larger than MARKET_LOT_SIZE's maximum is split into parts within it (`split_quantity`,
the same split the risk gate applies to a strategy's CLOSE).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from core.client_ids import client_order_id_for
from core.decimals import split_quantity
from core.events import OrderRequest, OrderType, Side
from core.instruments import Instrument
from core.order_state import OrderState
from executor.orders.registry import TrackedOrder
from executor.venue_api import OrderGateway, VenuePosition

_log = structlog.get_logger(__name__)
_ZERO = Decimal(0)


@dataclass
class FlattenResult:
    """What a flatten did, and whether the venue ended flat."""

    cancelled: int = 0
    closes: list[str] = field(default_factory=list)  # client ids of the close orders sent (or found)
    flat: bool = False
    left: dict[str, str] = field(default_factory=dict)  # symbol -> quantity still open

    def summary(self) -> str:
        """One line for a person."""
        if self.flat:
            return f"flat: {self.cancelled} orders cancelled, {len(self.closes)} close orders"
        left = ", ".join(f"{s} {q}" for s, q in sorted(self.left.items()))
        return f"NOT flat yet ({left}): {self.cancelled} orders cancelled, {len(self.closes)} close orders"


class Flattener:
    """Flattens through the order path (`submit` writes each order before sending it)."""

    def __init__(
        self,
        gateway: OrderGateway,
        instruments: Mapping[str, Instrument],
        *,
        submit: Callable[[OrderRequest], Awaitable[OrderState]],
        cancel_all: Callable[[str | None], Awaitable[int]],
        live_orders: Callable[[], Iterable[TrackedOrder]],
        now_ms: Callable[[], int],
    ) -> None:
        self._gateway = gateway
        self._instruments = instruments
        self._submit = submit
        self._cancel_all = cancel_all
        self._live_orders = live_orders
        self._now_ms = now_ms

    async def flatten(self, symbol: str | None = None, *, wait_s: float = 30.0) -> FlattenResult:
        """Cancel, close, and wait until the venue is flat (or `wait_s` has passed)."""
        result = FlattenResult()
        result.cancelled = await self._cancel_all(symbol)
        for position in await self._positions(symbol):
            result.closes.extend(await self._close(position))
        deadline = time.monotonic() + wait_s
        while True:
            open_positions = await self._positions(symbol)
            result.left = {p.symbol: str(p.quantity) for p in open_positions}
            result.flat = not open_positions
            if result.flat or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        _log.warning("flatten.done", symbol=symbol or "all", result=result.summary())
        return result

    async def _positions(self, symbol: str | None) -> list[VenuePosition]:
        positions = await self._gateway.positions()
        return [p for p in positions if p.quantity != _ZERO and (symbol is None or p.symbol == symbol)]

    async def _close(self, position: VenuePosition) -> list[str]:
        instrument = self._instruments.get(position.symbol)
        side = Side.SELL if position.quantity > _ZERO else Side.BUY
        in_flight = sum(
            (
                o.request.quantity - o.progress.filled_qty
                for o in self._live_orders()
                if o.symbol == position.symbol and o.request.reduce_only and o.request.side is side
            ),
            _ZERO,
        )
        to_close = abs(position.quantity) - in_flight
        if to_close <= _ZERO:
            return []
        if instrument is None:
            parts = [to_close]
        else:
            parts = split_quantity(
                to_close, instrument.market_max_qty, instrument.market_step_size,
                origin=instrument.market_min_qty,
            )
        intent = f"flatten:{position.symbol}:{position.update_time}:{abs(position.quantity)}"
        sent: list[str] = []
        for index, quantity in enumerate(parts):
            request = OrderRequest(
                client_order_id=client_order_id_for(intent, index),
                symbol=position.symbol,
                strategy="flatten",
                side=side,
                order_type=OrderType.MARKET,
                quantity=quantity,
                created_time=self._now_ms(),
                reduce_only=True,
            )
            state = await self._submit(request)
            sent.append(request.client_order_id)
            _log.warning(
                "flatten.close",
                symbol=position.symbol,
                side=side.value,
                quantity=str(quantity),
                client_order_id=request.client_order_id,
                state=state.value,
            )
        return sent
