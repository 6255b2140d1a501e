"""Funding times and rates: announced by a live market (paper mode), else the configured schedule.

Pure functions of the engine's `EngineConfig` and an optional `FundingSchedule`: the configured
schedule pays every `funding_interval_hours` (or the symbol's own hours), aligned to 00:00 UTC, at
`default_funding_rate`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from simulator.engine_types import EngineConfig

HOUR_MS = 3_600_000


class FundingSchedule(Protocol):
    """Funding times and rates a live market announced (paper mode's mark-price stream)."""

    def funding_times(self, symbol: str) -> list[int]: ...

    def funding_rate(self, symbol: str, funding_time: int) -> Decimal | None: ...


def funding_interval_ms(config: EngineConfig, symbol: str) -> int:
    """The symbol's funding interval."""
    return config.symbol_funding_hours.get(symbol, config.funding_interval_hours) * HOUR_MS


def next_funding_time(
    config: EngineConfig, schedule: FundingSchedule | None, symbol: str, now_ms: int
) -> int:
    """The first funding time strictly after `now_ms` (an announced one, if any)."""
    announced = _announced(schedule, symbol)
    later = [t for t in announced if t > now_ms]
    if later:
        return later[0]
    interval = funding_interval_ms(config, symbol)
    return (now_ms // interval + 1) * interval


def funding_rate(
    config: EngineConfig, schedule: FundingSchedule | None, symbol: str, funding_time: int
) -> Decimal:
    """The rate applied at `funding_time`: the announced one, else the configured default."""
    rate = schedule.funding_rate(symbol, funding_time) if schedule is not None else None
    return rate if rate is not None else config.default_funding_rate


def is_funding_time(config: EngineConfig, schedule: FundingSchedule | None, symbol: str, at: int) -> bool:
    """Whether `at` is one of the symbol's funding times."""
    announced = _announced(schedule, symbol)
    if announced:
        # Once a market announced its schedule (1, 4 or 8 h), only those times count.
        return at in announced
    return at % funding_interval_ms(config, symbol) == 0


def _announced(schedule: FundingSchedule | None, symbol: str) -> list[int]:
    return schedule.funding_times(symbol) if schedule is not None else []
