"""One alert now, synchronously, without a running daemon: the watchdog and `alerts test` use it.

    from alerts import send_now
    from core.alerts import Alert, AlertKind

    result = send_now(settings, Alert.of(AlertKind.HEARTBEAT_STALE, "no heartbeat for 90 s",
                                         time=now_ms), mode=Mode.LIVE)
    if not result.ok: print(result.reason)

It renders the message as the router does (mode first, Block Kit and plain text), posts it with the
router's rules (a 429 waits its Retry-After, a 5xx or a timeout is retried with backoff, at most
`attempts` posts, each at least a second apart), and records it in the alerts table when
`database_url` is given (a recording failure is logged, never raised). It blocks the calling
thread: never call it on the daemon's event loop (publish on the bus there). It never raises for a
delivery problem; a half-configured Slack is a `ConfigError` (exit 2), as everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from alerts.pacing import DeliveryPolicy
from alerts.render import render
from alerts.slack import NO_DESTINATION, Delivery, Outcome, destination_from
from alerts.store import AlertRecord, DeliveryStatus, write_rows
from config.settings import Mode, Settings
from core.alerts import Alert

_log = structlog.get_logger(__name__)


def send_now(
    settings: Settings,
    alert: Alert,
    *,
    mode: Mode,
    database_url: str | None = None,
    attempts: int = 3,
    policy: DeliveryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send `alert` now (see the module docstring); returns the outcome of the last attempt.

    Without a configured Slack destination the alert is only logged (and recorded) and the
    outcome is FAILED with the reason "none: alerts are recorded and logged only (...)".
    """
    policy = policy or DeliveryPolicy()
    destination = destination_from(settings)
    message = render(alert, mode, secrets=settings.secret_values())
    result = Delivery(Outcome.FAILED, NO_DESTINATION)
    tries = 0
    if destination is not None:
        while tries < max(1, attempts):
            tries += 1
            result = destination.post(message, policy.timeout_s)
            if result.outcome in (Outcome.DELIVERED, Outcome.FAILED) or tries >= attempts:
                break
            wait = (
                min(result.retry_after_s, policy.retry_after_max_s)
                if result.outcome is Outcome.RATE_LIMITED
                else policy.backoff_s(tries)
            )
            sleep(max(wait, 1.0 / policy.rate_per_s))
    _log.info("alert.sent_now", kind=alert.kind.value, outcome=result.outcome.value, reason=result.reason)
    if database_url is not None:
        _record(database_url, alert, result, tries, has_destination=destination is not None)
    return result


def _record(database_url: str, alert: Alert, result: Delivery, tries: int, *, has_destination: bool) -> None:
    from database.engine import Database

    if not has_destination:
        status = DeliveryStatus.LOGGED
    else:
        status = DeliveryStatus.DELIVERED if result.ok else DeliveryStatus.UNDELIVERED
    record = AlertRecord.first(alert, status)
    record.attempts = tries
    record.error = "" if result.ok or not has_destination else result.reason
    db = Database(database_url)
    try:
        with db.session() as session:
            write_rows(session, [(None, record.snapshot())])
            session.commit()
    except Exception as exc:
        _log.error("alert.record_failed", kind=alert.kind.value, error=f"{type(exc).__name__}: {exc}")
    finally:
        db.close()


__all__ = ["send_now"]
