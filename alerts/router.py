"""The alert router: every alert stored, repeats folded, at most one Slack message per second, and
nothing it does can raise into, block or slow the trading loop.

```
 alert channel ──▶ intake ──▶ Deduper (fold per kind, symbol) ──▶ Outbox (bounded) ──▶ sender ──▶ Slack
                     │                                                                │ (own thread,
                     └──────────────▶ AlertStore: alerts table (database thread) ◀────┘  timeout)
```

- Intake is synchronous: a publisher pays for `bus.publish` and nothing else. A kind switched off
  in the YAML is counted and ignored; the YAML's severity for a kind replaces the publisher's.
- The sender takes one message at a time through the `Gate` (token bucket, Retry-After, bounded
  backoff) and posts it on the router's own single thread (slack-sdk is synchronous), with a
  timeout: a Slack that hangs holds that thread, never the loop nor the threads REST calls use.
- Delivered, given up (undelivered, with the reason), dropped (queue full) or logged (no
  destination): every outcome is written to the alert's row. Nothing is lost silently.

`run()` is the one task; `drain(timeout_s)` at shutdown sends what is queued (folded repeats too)
and records what could not be sent. Network waits follow `wall` (the real clock in the daemon).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import structlog

from alerts.dedupe import Deduper, Message
from alerts.outbox import Outbox
from alerts.pacing import DeliveryPolicy, Gate
from alerts.render import Rendered, fold_text, render, scrub
from alerts.slack import Delivery, Destination, Outcome
from alerts.store import AlertRecord, AlertStore, DeliveryStatus, SessionRunner
from config.models import AlertsConfig
from config.settings import Mode
from core import channels
from core.alerts import Alert, Severity
from core.bus import Bus
from utils.clock import Clock, WallClock

_log = structlog.get_logger(__name__)
_GRACE_S = 2.0  # beyond the HTTP timeout, before the loop stops waiting for the thread
_STOPPED = "the daemon stopped before it could be sent"


class AlertRouter:
    """Consumes the `alert` channel (subscribed in the constructor); see the module docstring."""

    def __init__(
        self,
        bus: Bus,
        config: AlertsConfig,
        destination: Destination | None,
        *,
        mode: Mode,
        db: SessionRunner | None = None,
        wall: Clock | None = None,
        policy: DeliveryPolicy | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self._sub = bus.subscribe(channels.ALERT, name="alerts.router")
        self._config = config
        self._destination = destination
        self._mode = mode
        self._wall: Clock = wall or WallClock()
        self._gate = Gate(policy or DeliveryPolicy())
        self._secrets = tuple(secrets)
        self._dedupe = Deduper(config.dedupe_window_seconds)
        self._outbox = Outbox(config.queue_size)
        self._store = AlertStore(db, wall=self._wall) if db is not None else None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._in_flight: Message | None = None
        self.received = 0
        self.disabled = 0
        self.messages = 0
        self.attempts = 0
        self.delivered = 0
        self.undelivered = 0
        self.last_error = ""

    # --- configuration ---------------------------------------------------------------------------

    @property
    def policy(self) -> DeliveryPolicy:
        """Rate, timeout, attempts and backoff of deliveries."""
        return self._gate.policy

    @policy.setter
    def policy(self, policy: DeliveryPolicy) -> None:
        self._gate.set_policy(policy)

    def update_config(self, config: AlertsConfig) -> None:
        """A live configuration edit: switches, severities, window and queue size from now on."""
        self._config = config
        self._dedupe.set_window(config.dedupe_window_seconds)
        self._outbox.capacity = config.queue_size

    # --- intake ----------------------------------------------------------------------------------

    def submit(self, alert: Alert) -> None:
        """Take one alert: count, fold, store and queue it. Synchronous, never raises."""
        try:
            self._submit(alert)
        except Exception as exc:  # a bad alert must not stop the router; it is logged whole
            _log.error("alerts.submit_failed", alert=repr(alert), error=repr(exc), exc_info=exc)

    def _submit(self, alert: Alert) -> None:
        self.received += 1
        config = self._config
        if not config.enabled(alert.kind):
            self.disabled += 1
            return
        severity = config.severity(alert.kind, alert.severity)
        if severity is not alert.severity:
            alert = replace(alert, severity=severity)
        now = self._wall.monotonic()
        status = DeliveryStatus.PENDING if self._destination is not None else DeliveryStatus.LOGGED
        offered = self._dedupe.offer(alert, now, status)
        self._mark(offered.record)
        if offered.new is not None:
            self._queue(offered.new, now)
        elif offered.promoted is not None:
            self._outbox.promote(offered.promoted)

    def _queue(self, message: Message, now: float) -> None:
        self.messages += 1
        record = message.record
        _log_alert(message, self._dedupe.window_s, self._secrets)
        if self._destination is None:
            record.status = DeliveryStatus.LOGGED
            self._dedupe.taken(message, now)
            self._mark(record)
            return
        record.status = DeliveryStatus.PENDING
        self._mark(record)
        dropped = self._outbox.put(message)
        if dropped is not None:
            dropped.record.status = DeliveryStatus.DROPPED
            dropped.record.error = f"queue full ({self._outbox.capacity} messages waiting)"
            self._dedupe.taken(dropped, now)
            self._mark(dropped.record)
            alert = dropped.alert
            _log.warning("alerts.dropped", kind=alert.kind.value, severity=alert.severity.value)
        self._idle.clear()
        self._wake.set()

    def _mark(self, record: AlertRecord) -> None:
        if self._store is not None:
            self._store.mark(record)

    # --- the task --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Intake, sender and store until cancelled."""
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="trader-slack")
        parts = [self._intake(), self._sender()]
        if self._store is not None:
            parts.append(self._store.run())
        tasks = [asyncio.create_task(part, name=f"alerts.{i}") for i, part in enumerate(parts)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._sub.close()
            # Cancelled without a drain (or in the middle of one): what was not sent is recorded so.
            left = [self._in_flight] if self._in_flight is not None else []
            for message in [*left, *self._outbox.drain()]:
                self._give_up(message, _STOPPED)
            if self._store is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._store.flush())
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _intake(self) -> None:
        async for alert in self._sub:
            self.submit(alert)

    async def _sender(self) -> None:
        while True:
            self._wake.clear()
            now = self._wall.monotonic()
            try:
                for message in self._dedupe.due(now):
                    self._queue(message, now)
                if len(self._outbox) and self._gate.wait_s(now) <= 0:
                    ready = self._outbox.pop()
                    if ready is not None:
                        await self._attempt(ready)
                        continue
            except Exception as exc:
                _log.error("alerts.sender_failed", error=repr(exc), exc_info=exc)
            if not len(self._outbox) and self._in_flight is None:
                self._idle.set()
            await self._sleep_or_wake(self._next_wait(now))

    def _next_wait(self, now: float) -> float | None:
        waits = []
        if len(self._outbox):
            waits.append(self._gate.wait_s(now))
        due = self._dedupe.next_due()
        if due is not None:
            waits.append(max(0.0, due - now))
        return min(waits) if waits else None

    async def _sleep_or_wake(self, seconds: float | None) -> None:
        """Until `submit` has something new, or `seconds` of the network clock passed."""
        waiter = asyncio.ensure_future(self._wake.wait())
        if seconds is None:
            try:
                await waiter
            finally:
                waiter.cancel()
            return
        sleeper = asyncio.ensure_future(self._sleep_until(self._wall.monotonic() + seconds))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()

    async def _sleep_until(self, deadline: float) -> None:
        # Measured when the task runs, not when it was created: a simulated clock may have moved
        # in between. At least a millisecond per sleep: a manual clock counts whole milliseconds.
        while (remaining := deadline - self._wall.monotonic()) > 1e-6:
            await self._wall.sleep(max(remaining, 0.001) + 0.0005)

    # --- one attempt -----------------------------------------------------------------------------

    async def _attempt(self, message: Message) -> None:
        record = message.record
        start = self._wall.monotonic()
        self._gate.attempt(start)
        self._dedupe.taken(message, start)
        message.attempts += 1
        record.attempts += 1
        self.attempts += 1
        try:
            rendered = render(
                message.alert,
                self._mode,
                repeats=message.repeats,
                window_s=self._dedupe.window_s,
                secrets=self._secrets,
            )
        except Exception as exc:  # never expected; the alert is still stored, with why it was not sent
            self._give_up(message, f"could not be rendered: {exc!r}")
            return
        self._in_flight = message  # left set when cancelled mid-post: run() records it
        result = await self._post(rendered)
        self._in_flight = None
        now = self._wall.monotonic()
        if result.ok:
            self._gate.succeeded()
            self.delivered += 1
            record.status = DeliveryStatus.DELIVERED
            record.error = ""
            self._mark(record)
            return
        self.last_error = result.reason
        if result.outcome is Outcome.FAILED:
            self._give_up(message, result.reason)
            return
        if result.outcome is Outcome.RATE_LIMITED:
            waited = self._gate.rate_limited(now, result.retry_after_s)
        else:
            waited = self._gate.failed(now)
        if message.attempts >= self.policy.max_attempts:
            self._give_up(message, f"{result.reason} (after {message.attempts} attempts)")
            return
        _log.warning(
            "alerts.retry", kind=message.alert.kind.value, attempt=message.attempts, wait_s=waited,
            reason=result.reason,
        )
        record.error = result.reason
        self._mark(record)
        self._dedupe.returned(message)
        self._outbox.put_back(message)

    async def _post(self, rendered: Rendered) -> Delivery:
        assert self._destination is not None and self._executor is not None
        timeout = self.policy.timeout_s
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._executor, self._destination.post, rendered, timeout)
        try:
            return await asyncio.wait_for(call, timeout + _GRACE_S)
        except TimeoutError:
            return Delivery(Outcome.RETRYABLE, f"no answer within {timeout:g} s")
        except Exception as exc:  # post() catches everything; this is the last guard
            return Delivery(Outcome.RETRYABLE, f"error: {type(exc).__name__}")

    def _give_up(self, message: Message, reason: str) -> None:
        self.undelivered += 1
        record = message.record
        record.status = DeliveryStatus.UNDELIVERED
        record.error = reason
        self._mark(record)
        _log.error(
            "alerts.undelivered", kind=message.alert.kind.value, symbol=message.alert.symbol, reason=reason
        )

    # --- shutdown and status -----------------------------------------------------------------------

    async def drain(self, timeout_s: float) -> bool:
        """Send what is queued, folded repeats included, within `timeout_s` (needs `run()`);
        what is left is recorded undelivered. True when everything went out."""
        while True:
            try:
                self.submit(self._sub.get_nowait())
            except asyncio.QueueEmpty:
                break
        now = self._wall.monotonic()
        for message in self._dedupe.flush(now):
            self._queue(message, now)
        self._wake.set()
        done = True
        try:
            async with asyncio.timeout(timeout_s):
                while len(self._outbox) or self._in_flight is not None:
                    self._idle.clear()
                    self._wake.set()
                    await self._idle.wait()
        except TimeoutError:
            done = False
        for message in self._outbox.drain():
            self._give_up(message, _STOPPED)
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.flush()
        return done

    async def flush_store(self) -> bool:
        """Write every record change now (tests, shutdown); False when the write failed."""
        return await self._store.flush() if self._store is not None else True

    def status(self) -> dict[str, Any]:
        """Counters for status/heartbeat.json."""
        store = self._store
        return {
            "destination": self._destination.describe if self._destination is not None else "none",
            "received": self.received,
            "disabled": self.disabled,
            "folded": self._dedupe.folded,
            "messages": self.messages,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "undelivered": self.undelivered,
            "dropped": {s.value: n for s, n in self._outbox.dropped.items()},
            "queued": self._outbox.depth(),
            "max_queued": self._outbox.max_depth,
            "last_error": self.last_error,
            "rows_written": store.rows_written if store is not None else 0,
            "write_errors": store.write_errors if store is not None else 0,
        }


def _log_alert(message: Message, window_s: float, secrets: tuple[str, ...]) -> None:
    alert = message.alert
    fields = {"kind": alert.kind.value, "symbol": alert.symbol, "text": scrub(alert.text, secrets)}
    if message.repeats:
        fields["folded"] = fold_text(message.repeats, window_s).strip()
    if alert.severity is Severity.CRITICAL:
        _log.critical("alert", **fields)
    elif alert.severity is Severity.WARNING:
        _log.warning("alert", **fields)
    else:
        _log.info("alert", **fields)


__all__ = ["AlertRouter"]
