"""A running RiskGate on a real bus and a real database, for the gate and kill-switch tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from config.models import RiskLimits
from core.bus import Bus, Subscription
from core.events import OrderRequest, RiskDecision
from database.engine import Database
from executor.risk.gate import RiskGate
from tests.risk._fixtures import NOON, OTHER, SYMBOL, instrument, limits
from utils.clock import ManualClock


@dataclass
class Harness:
    """The gate, its clock and bus, and subscriptions to what it publishes."""

    bus: Bus
    clock: ManualClock
    db: Database
    gate: RiskGate
    decisions: Subscription
    requests: Subscription
    limits: dict[str, RiskLimits] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    async def decision(self, within: float = 2.0) -> RiskDecision:
        """The next decision the gate published."""
        event: RiskDecision = await asyncio.wait_for(self.decisions.get(), within)
        return event

    def request_nowait(self) -> OrderRequest | None:
        """The next order request, or None when the gate published none."""
        try:
            event: OrderRequest = self.requests.get_nowait()
        except asyncio.QueueEmpty:
            return None
        return event

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None


async def start_gate(
    db: Database,
    *,
    clock: ManualClock | None = None,
    equity: Decimal = Decimal(10000),
    instance_id: str = "",
    **limit_overrides: Any,
) -> Harness:
    """Build and start a gate with the shipped limits (plus overrides) for WLDUSDT and ADAUSDT."""
    bus = Bus()
    clock = clock or ManualClock(NOON)
    per_symbol = {SYMBOL: limits(**limit_overrides), OTHER: limits(**limit_overrides)}
    gate = RiskGate(
        bus,
        clock,
        db,
        {SYMBOL: instrument(SYMBOL), OTHER: instrument(OTHER)},
        limits_for=lambda s: per_symbol[s],
        starting_equity=equity,
        instance_id=instance_id,
    )
    harness = Harness(
        bus,
        clock,
        db,
        gate,
        bus.subscribe("risk.decision", name="test.decisions"),
        bus.subscribe("order.request", name="test.requests"),
        per_symbol,
    )
    harness.task = asyncio.create_task(gate.run())
    await asyncio.wait_for(gate.ready.wait(), 5)
    return harness


async def until(predicate: Callable[[], bool], within: float = 2.0) -> float:
    """Wait (wall time) until `predicate()` holds; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > within:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.005)
    return time.monotonic() - start
