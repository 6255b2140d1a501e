"""Heartbeat documents as the daemon writes them: schema version 1 (docs/heartbeat.schema.json) and the
older format without `schema_version`. Tests validate every v1 document against the schema."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "heartbeat.schema.json"


def now_ms() -> int:
    """The wall clock in epoch milliseconds (what the daemon stamps `written_at_ms` with)."""
    return int(time.time() * 1000)


def v1(
    *,
    written_at_ms: int | None = None,
    mode: str = "sim",
    state: str = "running",
    interval_s: float = 5.0,
    symbols: dict[str, dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A valid v1 document; `symbols` maps a symbol to the parts of its entry that differ."""
    written = now_ms() if written_at_ms is None else written_at_ms
    document: dict[str, Any] = {
        "schema_version": 1,
        "pid": 4242,
        "instance_id": "test-host",
        "version": "0.1.0",
        "mode": mode,
        "state": state,
        "state_reason": None,
        "written_at_ms": written,
        "clock_ms": written,
        "started_at_ms": written - 3_723_000,
        "uptime_s": 3723.0,
        "heartbeat_interval_s": interval_s,
        "streams": [
            {
                "name": "market-0",
                "connected": True,
                "streams": 4,
                "last_message_age_ms": 350,
                "reconnects": 1,
                "messages": 123_456,
                "malformed": 0,
                "last_error": "",
            }
        ],
        "user_stream": {
            "connected": True,
            "last_message_age_ms": 40_000,
            "reconnects": 0,
            "listen_key_age_s": 600.0,
        },
        "symbols": {},
        "reconciliation": {
            "last_run_ms": written - 30_000,
            "result": "ok",
            "differences": 0,
            "runs": 12,
            "detail": None,
        },
        "database": {"ok": True, "last_write_latency_ms": 1.7, "backend": "sqlite", "error": None},
        "risk_limits": [
            {"name": "max_total_exposure_usdt", "scope": "portfolio", "used": "1250.5", "allowed": "4000"},
            {"name": "daily_loss_limit_usdt", "scope": "BTCUSDT", "used": "40", "allowed": "300"},
        ],
        "pnl_today": {"realized": "12.5", "fees": "1.25", "funding": "-0.5", "net": "10.75"},
        "last_error": {"time_ms": written - 600_000, "message": "market-0: socket closed by venue (1006)"},
        "bus": {
            "published": {"market.BTCUSDT": 1000},
            "subscribers": [
                {
                    "name": "risk",
                    "pattern": "signal.*",
                    "consumed": 10,
                    "conflated": 0,
                    "depth": 0,
                    "max_depth": 3,
                    "last_lag_ms": 0.4,
                    "max_lag_ms": 2.1,
                }
            ],
        },
    }
    for symbol, parts in (symbols or {}).items():
        entry: dict[str, Any] = {
            "strategy": "vwap",
            "last_closed_candle_age_ms": 20_000,
            "strategy_state": None,
            "entries_enabled": True,
            "entries_blocked_by": [],
            "position": {"quantity": "0", "entry_price": "0", "mark_price": None, "unrealized_pnl": None},
            "open_orders": [],
        }
        entry.update(parts)
        document["symbols"][symbol] = entry
    document.update(overrides)
    return document


def old_format(*, written_at_ms: int | None = None) -> dict[str, Any]:
    """What the daemon wrote before schema version 1 (trader/heartbeat.py at the time)."""
    written = now_ms() if written_at_ms is None else written_at_ms
    return {
        "pid": 99,
        "mode": "sim",
        "state": "running",
        "written_at_ms": written,
        "clock_ms": written,
        "started_at_ms": written - 60_000,
        "uptime_s": 60.0,
        "streams": [
            {
                "name": "market-0",
                "connected": True,
                "streams": 2,
                "last_message_age_ms": 500,
                "reconnects": 0,
                "messages": 100,
                "malformed": 0,
                "last_error": "",
            }
        ],
        "user_stream": [
            {
                "name": "user",
                "connected": True,
                "streams": 1,
                "last_message_age_ms": 900,
                "reconnects": 0,
                "messages": 3,
                "malformed": 0,
                "last_error": "",
            }
        ],
        "strategies": {"BTCUSDT": {"candles": 10}},
    }


def write(status_dir: Path, document: dict[str, Any]) -> Path:
    """Write `document` as status/heartbeat.json, atomically like the daemon."""
    status_dir.mkdir(parents=True, exist_ok=True)
    path = status_dir / "heartbeat.json"
    tmp = status_dir / ".heartbeat.json.tmp"
    tmp.write_text(json.dumps(document), encoding="utf-8")
    tmp.replace(path)
    return path
