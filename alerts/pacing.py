"""How fast the router may post: a token bucket, Slack's Retry-After, and bounded backoff.

Every HTTP attempt takes a token, a retry included, so nothing reaches Slack faster than
`rate_per_s` (Slack allows about one message per second per channel). A 429 closes the door for
its Retry-After; a 5xx or a timeout closes it for a backoff that doubles with each consecutive
failure up to `backoff_max_s`, and a message is given up (recorded undelivered) after
`max_attempts`. All times are seconds on the router's network clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """The router's limits; the defaults suit Slack."""

    rate_per_s: float = 1.0
    timeout_s: float = 5.0
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 600.0  # a longer Retry-After is capped (and logged by the router)

    def backoff_s(self, failures: int) -> float:
        """The wait after `failures` consecutive failures (1, 2, 4 ... capped)."""
        if failures <= 0:
            return 0.0
        return float(min(self.backoff_max_s, self.backoff_base_s * 2 ** (failures - 1)))


class TokenBucket:
    """At most `rate_per_s` takes per second on average, and never more than one at once."""

    def __init__(self, rate_per_s: float) -> None:
        self._interval = 0.0
        self.set_rate(rate_per_s)
        self._next: float | None = None

    def set_rate(self, rate_per_s: float) -> None:
        """A new rate from the next take on (the last take still counts)."""
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s}")
        self._interval = 1.0 / rate_per_s

    def wait_s(self, now: float) -> float:
        """Seconds until a take is allowed (0 when it is now)."""
        return 0.0 if self._next is None else max(0.0, self._next - now)

    def take(self, now: float) -> None:
        """Use the token; the next one is available one interval after this take."""
        self._next = now + self._interval


class Gate:
    """The destination's door: the bucket plus a not-before time set by a 429 or a failure."""

    def __init__(self, policy: DeliveryPolicy) -> None:
        self.policy = policy
        self._bucket = TokenBucket(policy.rate_per_s)
        self._not_before = 0.0
        self.failures = 0  # consecutive 5xx / timeout / network failures

    def set_policy(self, policy: DeliveryPolicy) -> None:
        """New limits; the last attempt and a pending Retry-After or backoff still hold."""
        self.policy = policy
        self._bucket.set_rate(policy.rate_per_s)

    def wait_s(self, now: float) -> float:
        """Seconds until the next attempt may start."""
        return max(self._bucket.wait_s(now), self._not_before - now, 0.0)

    def attempt(self, now: float) -> None:
        """An attempt starts now."""
        self._bucket.take(now)

    def rate_limited(self, now: float, retry_after_s: float) -> float:
        """Slack said 429: no attempt before its Retry-After; returns the wait applied."""
        wait = min(retry_after_s, self.policy.retry_after_max_s)
        self._not_before = max(self._not_before, now + wait)
        return wait

    def failed(self, now: float) -> float:
        """A 5xx, timeout or network failure: back off; returns the wait applied."""
        self.failures += 1
        wait = self.policy.backoff_s(self.failures)
        self._not_before = max(self._not_before, now + wait)
        return wait

    def succeeded(self) -> None:
        """Slack took a message: the backoff starts over."""
        self.failures = 0


__all__ = ["DeliveryPolicy", "Gate", "TokenBucket"]
