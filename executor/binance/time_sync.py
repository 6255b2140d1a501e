"""Tracks the offset between the local wall clock and the venue's server clock.

Binance rejects a signed request (-1021) whose `timestamp` is more than `recvWindow` behind or
1000 ms ahead of its own clock, so every signed request carries `local + offset`. The offset is
measured as `serverTime - midpoint(request sent, response received)`: the midpoint halves the
error a slow round trip would add. The gateway refreshes it periodically and after every -1021.

Signing refuses (RetryableError) while the offset is unknown or larger than the bound: a local
clock that far off is a broken host, and guessing would only earn -1021s or worse.
"""

from __future__ import annotations

from core.errors import RetryableError
from utils.clock import Clock

__all__ = ["ClockNotSyncedError", "TimeSync"]


class ClockNotSyncedError(RetryableError):
    """No usable server-time offset (never measured, or beyond the bound): nothing was sent."""


class TimeSync:
    """The venue's clock offset as last measured, with its age.

    `clock` is the local clock used for signing (the wall clock in the daemon); `max_offset_ms`
    bounds the absolute offset the gateway accepts.
    """

    def __init__(self, clock: Clock, *, max_offset_ms: int = 30_000) -> None:
        self._clock = clock
        self.max_offset_ms = max_offset_ms
        self._offset_ms: int | None = None
        self._measured_at_ms: int | None = None
        self.round_trip_ms: int | None = None
        self.samples = 0

    @property
    def offset_ms(self) -> int | None:
        """Server time minus local time, in ms (None until measured)."""
        return self._offset_ms

    def age_ms(self) -> int | None:
        """How long ago (local ms) the offset was measured; None until measured."""
        if self._measured_at_ms is None:
            return None
        return self._clock.now_ms() - self._measured_at_ms

    def record(self, server_time_ms: int, sent_ms: int, received_ms: int) -> int:
        """Store a measurement: the request left at `sent_ms`, its answer arrived at `received_ms`."""
        if received_ms < sent_ms:
            raise ValueError(f"received before sent: {received_ms} < {sent_ms}")
        midpoint = (sent_ms + received_ms) // 2
        self._offset_ms = server_time_ms - midpoint
        self._measured_at_ms = received_ms
        self.round_trip_ms = received_ms - sent_ms
        self.samples += 1
        return self._offset_ms

    def invalidate(self) -> None:
        """Forget the offset (e.g. after -1021): signing waits for a new measurement."""
        self._offset_ms = None
        self._measured_at_ms = None

    @property
    def within_bound(self) -> bool:
        """True when an offset is known and its magnitude is within `max_offset_ms`."""
        return self._offset_ms is not None and abs(self._offset_ms) <= self.max_offset_ms

    def server_now_ms(self) -> int:
        """The venue's current time estimated from the local clock (local time if never measured)."""
        return self._clock.now_ms() + (self._offset_ms or 0)

    def signing_timestamp(self) -> int:
        """The corrected `timestamp` for a signed request, or ClockNotSyncedError."""
        if self._offset_ms is None:
            raise ClockNotSyncedError("server time offset unknown: refusing to sign")
        if abs(self._offset_ms) > self.max_offset_ms:
            raise ClockNotSyncedError(
                f"server time offset {self._offset_ms} ms exceeds the bound of {self.max_offset_ms} ms: "
                "fix the host clock (NTP); refusing to sign"
            )
        return self._clock.now_ms() + self._offset_ms
