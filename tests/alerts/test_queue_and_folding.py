"""The bounded queue never drops a CRITICAL, and folding counts every occurrence exactly once."""

from __future__ import annotations

import itertools

from alerts.dedupe import Deduper, Message
from alerts.outbox import Outbox
from alerts.pacing import DeliveryPolicy, Gate
from alerts.store import AlertRecord, DeliveryStatus
from core.alerts import Alert, AlertKind, Severity

_ids = itertools.count()


def _message(severity: Severity) -> Message:
    alert = Alert.of(AlertKind.TEST, f"#{next(_ids)}", time=0, symbol=None, severity=severity)
    return Message(AlertRecord.first(alert, DeliveryStatus.PENDING), alert, queued_at=float(next(_ids)))


def test_a_full_queue_drops_the_oldest_info_then_warnings_and_never_a_critical() -> None:
    box = Outbox(3)
    info1, warn1, info2 = _message(Severity.INFO), _message(Severity.WARNING), _message(Severity.INFO)
    for message in (info1, warn1, info2):
        assert box.put(message) is None
    crit1 = _message(Severity.CRITICAL)
    assert box.put(crit1) is info1  # the oldest INFO makes room
    info3 = _message(Severity.INFO)
    assert box.put(info3) is info2
    warn2 = _message(Severity.WARNING)
    assert box.put(warn2) is info3  # still an INFO to drop
    info4 = _message(Severity.INFO)
    assert box.put(info4) is info4  # no INFO queued: the newcomer INFO is the one dropped
    crit2, crit3 = _message(Severity.CRITICAL), _message(Severity.CRITICAL)
    assert box.put(crit2) is warn1  # then the oldest WARNING
    assert box.put(crit3) is warn2
    crit4 = _message(Severity.CRITICAL)
    assert box.put(crit4) is None and len(box) == 4  # only CRITICALs left: kept past the bound
    assert box.put(_message(Severity.WARNING)) is not None and len(box) == 4
    assert box.dropped == {Severity.INFO: 4, Severity.WARNING: 3}
    assert [box.pop() for _ in range(4)] == [crit1, crit2, crit3, crit4]
    assert box.pop() is None


def test_critical_goes_first_and_a_retried_message_keeps_its_place() -> None:
    box = Outbox(10)
    info, warn, crit = _message(Severity.INFO), _message(Severity.WARNING), _message(Severity.CRITICAL)
    for message in (info, warn, crit):
        box.put(message)
    first = box.pop()
    assert first is crit
    box.put_back(first)
    assert [box.pop(), box.pop(), box.pop()] == [crit, warn, info]


def test_repeats_fold_into_the_queued_message_then_wait_for_the_window() -> None:
    dedupe = Deduper(window_s=300)
    alerts = [Alert.of(AlertKind.STREAM_DOWN, f"down #{i}", time=i) for i in range(6)]
    first = dedupe.offer(alerts[0], 0.0, DeliveryStatus.PENDING)
    assert first.new is not None
    assert dedupe.offer(alerts[1], 1.0, DeliveryStatus.PENDING).new is None  # folded while queued
    assert first.new.repeats == 1 and first.new.alert.text == "down #1"
    dedupe.taken(first.new, 2.0)  # an attempt starts: later repeats wait for the window
    for alert in alerts[2:5]:
        assert dedupe.offer(alert, 10.0, DeliveryStatus.PENDING).new is None
    assert first.new.repeats == 1  # the message in flight is not changed behind the sender's back
    assert dedupe.due(301.0) == []  # the window runs from the attempt: 2 + 300
    [fold] = dedupe.due(302.0)
    assert (fold.alert.text, fold.repeats) == ("down #4", 2)  # shows one, counts two more
    assert fold.record is first.record and first.record.occurrences == 5
    dedupe.taken(fold, 302.0)
    assert dedupe.due(602.0) == [] and len(dedupe) == 0  # a quiet window: the key is forgotten
    again = dedupe.offer(alerts[5], 603.0, DeliveryStatus.PENDING)
    assert again.new is not None and again.record is not first.record  # a new record


def test_a_failed_attempt_takes_the_repeats_that_came_meanwhile() -> None:
    dedupe = Deduper(window_s=300)
    offered = dedupe.offer(Alert.of(AlertKind.ORDER_UNKNOWN, "a", time=0), 0.0, DeliveryStatus.PENDING)
    assert offered.new is not None
    dedupe.taken(offered.new, 0.0)
    dedupe.offer(Alert.of(AlertKind.ORDER_UNKNOWN, "b", time=1), 1.0, DeliveryStatus.PENDING)
    dedupe.offer(Alert.of(AlertKind.ORDER_UNKNOWN, "c", time=2), 2.0, DeliveryStatus.PENDING)
    dedupe.returned(offered.new)
    assert (offered.new.alert.text, offered.new.repeats) == ("c", 2)
    assert dedupe.due(10_000.0) == []  # nothing counted twice


def test_a_fold_raises_a_queued_message_to_the_highest_severity_seen() -> None:
    dedupe, box = Deduper(window_s=300), Outbox(10)
    warning = Alert.of(AlertKind.DAEMON_STOPPED, "stopping", time=0, severity=Severity.WARNING)
    offered = dedupe.offer(warning, 0.0, DeliveryStatus.PENDING)
    assert offered.new is not None
    box.put(offered.new)
    critical = Alert.of(AlertKind.DAEMON_STOPPED, "failed", time=1, severity=Severity.CRITICAL)
    raised = dedupe.offer(critical, 1.0, DeliveryStatus.PENDING).promoted
    assert raised is offered.new and raised.alert.severity is Severity.CRITICAL
    box.promote(raised)
    assert box.depth() == {"info": 0, "warning": 0, "critical": 1}
    assert offered.record.severity is Severity.CRITICAL
    lower = Alert.of(AlertKind.DAEMON_STOPPED, "info again", time=2, severity=Severity.INFO)
    dedupe.offer(lower, 2.0, DeliveryStatus.PENDING)
    assert raised.alert.severity is Severity.CRITICAL and raised.alert.text == "info again"


def test_the_gate_spaces_attempts_honours_retry_after_and_backs_off_boundedly() -> None:
    gate = Gate(DeliveryPolicy(rate_per_s=1.0, backoff_base_s=1.0, backoff_max_s=4.0))
    assert gate.wait_s(100.0) == 0
    gate.attempt(100.0)
    assert gate.wait_s(100.0) == 1.0 and gate.wait_s(101.0) == 0
    gate.attempt(101.0)
    assert gate.rate_limited(101.5, 7.0) == 7.0 and gate.wait_s(102.0) == 6.5
    waits = [gate.failed(200.0) for _ in range(5)]
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]
    gate.succeeded()
    assert gate.failed(300.0) == 1.0
