"""Reconciliation outcomes as alerts: the start-up after a crash is summarised once (even when
nothing needed repair); later runs alert only when they repaired, mismatched or failed."""

from __future__ import annotations

import asyncio

from alerts.reconciliation_watch import ReconciliationWatch, previous_run_crashed
from core import channels
from core.alerts import Alert, AlertKind, Severity
from core.bus import Bus
from core.reconciliation import ReconcileResult, ReconciliationFinished

T0 = 1_717_200_000_000
CRASHED = {"state": "running", "written_at_ms": T0 - 60_000}
CLEAN = {"state": "stopped", "written_at_ms": T0 - 60_000}


def _finished(
    trigger: str, result: ReconcileResult, *, detail: str = "", symbols: tuple[str, ...] = ()
) -> object:
    return ReconciliationFinished(trigger, result, 1 if detail else 0, symbols, T0, detail)


async def _alerts_for(previous: dict[str, object] | None, *events: object) -> list[Alert]:
    bus = Bus()
    seen = bus.subscribe(channels.ALERT, name="test.alerts")
    watch = ReconciliationWatch(bus, previous)
    task = asyncio.create_task(watch.run())
    for event in events:
        bus.publish(channels.RECONCILIATION, event)
    for _ in range(20):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return [seen.get_nowait() for _ in range(len(seen))]


def test_only_a_heartbeat_that_never_reached_stopped_means_a_crash() -> None:
    assert previous_run_crashed(CRASHED)
    assert previous_run_crashed({"state": "starting"})
    assert not previous_run_crashed(CLEAN)
    assert not previous_run_crashed(None)  # a first start ever


async def test_a_start_after_a_crash_is_summarised_with_what_reconciliation_fixed() -> None:
    fixed = "checked=3, filled=1, fills_backfilled=2"
    alerts = await _alerts_for(CRASHED, _finished("startup", ReconcileResult.REPAIRED, detail=fixed))
    assert [(a.kind, a.severity) for a in alerts] == [(AlertKind.CRASH_RECOVERY, Severity.WARNING)]
    assert "did not stop cleanly (last heartbeat 2024-05-31 23:59:00 UTC, state running)" in alerts[0].text
    assert alerts[0].text.endswith(f"start-up reconciliation repaired: {fixed}")


async def test_a_crash_with_nothing_to_repair_is_still_reported_and_a_mismatch_is_critical() -> None:
    quiet = await _alerts_for(CRASHED, _finished("startup", ReconcileResult.OK))
    assert [a.kind for a in quiet] == [AlertKind.CRASH_RECOVERY]
    assert quiet[0].text.endswith("start-up reconciliation ok: nothing to repair")
    bad = await _alerts_for(
        CRASHED, _finished("startup", ReconcileResult.MISMATCH, detail="positions_mismatch_skipped=1",
                           symbols=("WLDUSDT",)),
    )  # fmt: skip
    assert [(a.kind, a.severity) for a in bad] == [(AlertKind.CRASH_RECOVERY, Severity.CRITICAL)]


async def test_after_a_clean_stop_only_differences_are_news() -> None:
    alerts = await _alerts_for(
        CLEAN,
        _finished("startup", ReconcileResult.OK),
        _finished("periodic", ReconcileResult.OK),
        _finished("periodic", ReconcileResult.REPAIRED, detail="checked=2, canceled=1"),
        _finished("stream_reset", ReconcileResult.MISMATCH, detail="positions_mismatch_skipped=1",
                  symbols=("ADAUSDT", "WLDUSDT")),
        _finished("periodic", ReconcileResult.FAILED, detail="the venue could not be asked: 503"),
    )  # fmt: skip
    assert [(a.kind, a.severity) for a in alerts] == [
        (AlertKind.RECONCILIATION, Severity.WARNING),
        (AlertKind.RECONCILIATION, Severity.CRITICAL),
        (AlertKind.RECONCILIATION, Severity.WARNING),
    ]
    repaired, mismatch, failed = (a.text for a in alerts)
    assert repaired == "periodic reconciliation repaired 1 difference(s): checked=2, canceled=1"
    assert "positions differ from the venue on ADAUSDT, WLDUSDT: entries there are paused" in mismatch
    assert failed.startswith("periodic reconciliation could not run: the venue could not be asked: 503")
