"""The heartbeat judged as the Health page shows it: up, degraded (and why), STALE, stopped, missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dashboard.heartbeat_view import Status, assess, read_heartbeat
from tests.dashboard import heartbeats

NOW = 1_800_000_000_000
SCHEMA = json.loads(heartbeats.SCHEMA.read_text(encoding="utf-8"))


def _v1(**parts: Any) -> dict[str, Any]:
    parts.setdefault("written_at_ms", NOW - 2_000)
    document = heartbeats.v1(**parts)
    jsonschema.validate(document, SCHEMA)  # every document these tests judge is one the daemon may write
    return document


def test_a_fresh_running_heartbeat_is_up() -> None:
    health = assess(_v1(symbols={"BTCUSDT": {}}), NOW)
    assert health.status is Status.UP
    assert health.reasons == []
    assert not health.banner and not health.old_format and not health.is_live
    assert health.age_s == pytest.approx(2.0)


def test_a_heartbeat_older_than_three_intervals_is_stale_and_says_how_old() -> None:
    document = heartbeats.v1(written_at_ms=NOW - 600_000, interval_s=5.0)
    health = assess(document, NOW)
    assert health.status is Status.STALE and health.banner
    assert "600 s ago" in health.reasons[0] and "stale after 15 s" in health.reasons[0]
    # a daemon that writes every 60 s is stale only after 180 s
    assert assess(heartbeats.v1(written_at_ms=NOW - 100_000, interval_s=60.0), NOW).status is Status.UP


def test_a_stopped_daemon_is_stopped_not_stale() -> None:
    health = assess(_v1(state="stopped", written_at_ms=NOW - 3_600_000), NOW)
    assert health.status is Status.STOPPED and not health.banner


def test_no_heartbeat_is_missing_with_the_path_in_the_reason(tmp_path: Path) -> None:
    document, why = read_heartbeat(tmp_path / "heartbeat.json")
    health = assess(document, NOW, why)
    assert health.status is Status.MISSING and health.banner
    assert str(tmp_path / "heartbeat.json") in (health.problem or "")


def test_a_half_written_or_foreign_file_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    path.write_text("{not json", encoding="utf-8")
    assert read_heartbeat(path)[0] is None and "cannot be read" in str(read_heartbeat(path)[1])
    path.write_text("[1, 2]", encoding="utf-8")
    assert "not a heartbeat document" in str(read_heartbeat(path)[1])


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (
            {"state": "paused", "state_reason": "waiting for the first reconciliation"},
            "state paused: waiting",
        ),
        (
            {
                "streams": [
                    {"name": "market-1", "connected": False, "last_message_age_ms": None, "reconnects": 4}
                ]
            },
            "stream market-1 disconnected",
        ),
        (
            {
                "streams": [
                    {"name": "market-2", "connected": True, "last_message_age_ms": 45_000, "reconnects": 0}
                ]
            },
            "stream market-2 silent for 45 s",
        ),
        (
            {"database": {"ok": False, "last_write_latency_ms": None, "error": "disk full"}},
            "database: disk full",
        ),
        (
            {
                "reconciliation": {
                    "last_run_ms": NOW,
                    "result": "mismatch",
                    "differences": 1,
                    "runs": 3,
                    "detail": "BTCUSDT position 0.5 vs 0",
                }
            },
            "last reconciliation mismatch",
        ),
        (
            {
                "symbols": {
                    "ETHUSDT": {
                        "entries_enabled": False,
                        "entries_blocked_by": [
                            {"reason": "stale_data", "detail": "no candle for 3 min", "until_ms": None}
                        ],
                    }
                }
            },
            "ETHUSDT: entries blocked by stale_data",
        ),
    ],
)
def test_what_degrades_a_running_daemon_is_named(parts: dict[str, Any], reason: str) -> None:
    health = assess(_v1(**parts), NOW)
    assert health.status is Status.DEGRADED
    assert any(reason in r for r in health.reasons), health.reasons


def test_a_funding_window_pause_is_normal_operation_not_degradation() -> None:
    blocked = {
        "entries_enabled": False,
        "entries_blocked_by": [{"reason": "funding_window", "detail": "4 min"}],
    }
    assert assess(_v1(symbols={"BTCUSDT": blocked}), NOW).status is Status.UP


def test_live_mode_is_flagged() -> None:
    assert assess(_v1(mode="live"), NOW).is_live


def test_an_old_format_heartbeat_is_judged_by_its_age_with_the_default_interval() -> None:
    fresh = assess(heartbeats.old_format(written_at_ms=NOW - 3_000), NOW)
    assert fresh.old_format and fresh.status is Status.UP
    assert assess(heartbeats.old_format(written_at_ms=NOW - 20_000), NOW).status is Status.STALE


def test_every_heartbeat_the_page_tests_write_is_a_valid_v1_document() -> None:
    position = {"quantity": "0.5", "entry_price": "100", "mark_price": "110", "unrealized_pnl": "5"}
    blocked = [{"reason": "volatility_guard", "detail": "range 1.2 % in 5 s", "until_ms": None}]
    documents = [
        heartbeats.v1(interval_s=3600, symbols={"BTCUSDT": {"position": position}, "ETHUSDT": {}}),
        heartbeats.v1(mode="live", interval_s=3600),
        heartbeats.v1(written_at_ms=NOW - 600_000),
        heartbeats.v1(symbols={"BTCUSDT": {"entries_enabled": False, "entries_blocked_by": blocked}}),
    ]
    for document in documents:
        jsonschema.validate(document, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # and the schema does refuse a wrong one
        jsonschema.validate(heartbeats.old_format(), SCHEMA)
