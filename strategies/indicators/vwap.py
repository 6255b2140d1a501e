"""Anchored VWAP of the typical price with a volume-weighted standard deviation, O(1) per candle.

Typical price p = (high + low + close) / 3 of each closed candle, weight v = its base-asset volume.
Since the anchor:

    VWAP = Σ v·p / Σ v          σ² = Σ v·(p − VWAP)² / Σ v          bands = VWAP ± k·σ

The textbook running sums Σv, Σvp, Σvp² give σ² = Σvp²/Σv − VWAP², which cancels catastrophically
when σ is tiny next to the price (a 1 % σ on a 30 000 USDT price loses ~8 of float's 16 digits, and
right after the anchor σ ≈ 0). The same sums are therefore kept in West's weighted incremental form
(D. H. D. West, 1979): the running weight Σv, the running mean (VWAP) and the running sum of weighted
squared deviations, each updated with one division per candle. That is algebraically identical and
stays accurate to a few ulps of σ itself.

Anchors: `day` resets at 00:00 UTC, `week` at Monday 00:00 UTC; `offset_minutes` moves the session
start later (e.g. 480 = 08:00 UTC). A candle belongs to the session that contains its open time.
A zero-volume candle counts as a candle since the anchor but moves neither VWAP nor σ; until some
volume has traded since the anchor there is no VWAP (None).
"""

from __future__ import annotations

import math
from typing import Literal

Anchor = Literal["day", "week"]

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
_MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; 1970-01-05 00:00 UTC a Monday


def typical_price(high: float, low: float, close: float) -> float:
    """(H + L + C) / 3."""
    return (high + low + close) / 3.0


class AnchoredVwap:
    """Incremental anchored VWAP and volume-weighted σ; feed closed candles in time order."""

    __slots__ = (
        "_m2",
        "_mean",
        "_offset_ms",
        "_period_ms",
        "_session",
        "_sums",
        "_svp",
        "_svp2",
        "_weight",
        "anchor",
        "candles",
        "offset_minutes",
    )

    def __init__(self, anchor: Anchor = "day", offset_minutes: int = 0, *, plain_sums: bool = False) -> None:
        # plain_sums: σ² = Σv·p²/Σv − VWAP² from plain running sums (floored at 0), the textbook
        # formula other engines use, cancellation noise included; default: West's stable update.
        self._sums = plain_sums
        if anchor not in ("day", "week"):
            raise ValueError(f"anchor must be 'day' or 'week', got {anchor!r}")
        self.anchor: Anchor = anchor
        self.offset_minutes = offset_minutes
        self._period_ms = DAY_MS if anchor == "day" else WEEK_MS
        if not 0 <= offset_minutes * 60_000 < self._period_ms:
            raise ValueError(f"offset_minutes must be within one {anchor}, got {offset_minutes}")
        self._offset_ms = offset_minutes * 60_000 + (_MONDAY_OFFSET_MS if anchor == "week" else 0)
        self._session: int | None = None
        self._reset_sums()

    def _reset_sums(self) -> None:
        self._weight = 0.0
        self._mean = 0.0
        self._m2 = 0.0
        self._svp = 0.0
        self._svp2 = 0.0
        self.candles = 0

    def session_of(self, open_time_ms: int) -> int:
        """Index of the anchor period that contains `open_time_ms`."""
        return (open_time_ms - self._offset_ms) // self._period_ms

    def session_start(self, open_time_ms: int) -> int:
        """Epoch ms at which the anchor period containing `open_time_ms` started."""
        return self.session_of(open_time_ms) * self._period_ms + self._offset_ms

    def update(self, open_time_ms: int, high: float, low: float, close: float, volume: float) -> bool:
        """Add one closed candle; return True when it started a new anchor period (a reset)."""
        session = (open_time_ms - self._offset_ms) // self._period_ms
        reset = session != self._session
        if reset:
            self._session = session
            self._reset_sums()
        self.candles += 1
        if self._sums:
            price = (high + low + close) / 3.0
            self._weight += volume
            self._svp += volume * price
            self._svp2 += volume * price * price
            if self._weight > 0.0:
                self._mean = self._svp / self._weight
                self._m2 = self._svp2 - self._mean * self._mean * self._weight
            return reset
        if volume > 0.0:
            price = (high + low + close) / 3.0
            weight = self._weight + volume
            delta = price - self._mean
            step = delta * volume / weight
            self._mean += step
            # Σ v(p − mean)² gains old_weight·delta·step (West's update; never negative).
            self._m2 += self._weight * delta * step
            self._weight = weight
        return reset

    @property
    def volume(self) -> float:
        """Σ volume since the anchor."""
        return self._weight

    @property
    def vwap(self) -> float | None:
        """The VWAP since the anchor, None before any volume traded."""
        return self._mean if self._weight > 0.0 else None

    def levels(self) -> tuple[float, float]:
        """(VWAP, σ) in one call; only once some volume has traded since the anchor."""
        weight = self._weight
        if self._sums:
            mean = self._mean
            variance = self._svp2 / weight - mean * mean
        else:
            variance = self._m2 / weight
        return self._mean, (math.sqrt(variance) if variance > 0.0 else 0.0)

    @property
    def sigma(self) -> float | None:
        """Volume-weighted standard deviation of the typical price since the anchor."""
        if self._weight <= 0.0:
            return None
        if self._sums:
            return self.levels()[1]
        variance = self._m2 / self._weight
        return math.sqrt(variance) if variance > 0.0 else 0.0
