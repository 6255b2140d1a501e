"""The watchdog's alerts reach Slack (no daemon, so no router: `send_now`), say the mode the daemon
ran in, are recorded for the dashboard, and obey `alerts.kinds`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from config.settings import PROJECT_ROOT
from database.migrate import upgrade
from tests.alerts.slack_server import RecordingSlack
from tests.daemon.test_status_command import OK_RECONCILIATION, USER, _stream, _write
from tests.daemon.test_watchdog import _age

SHIPPED = (PROJECT_ROOT / "config" / "config.yaml").read_text()
HOOK = "TWDOG0000/BWDOG0000/WatchdogWebhookSecret42"


def _once(tmp_path: Path, slack: RecordingSlack, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADER_")}
    env.update(
        TRADER_STATUS_DIR=str(tmp_path / "status"),
        TRADER_LOG_DIR=str(tmp_path / "logs"),
        TRADER_DATABASE_URL=f"sqlite:///{tmp_path}/t.db",
        TRADER_SLACK_WEBHOOK_URL=slack.webhook_url(HOOK),
    )
    return subprocess.run(
        [sys.executable, "-m", "trader", "watchdog", "--once", "--max-age", "10", "--config", str(config)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def _healthy(tmp_path: Path) -> Path:
    return await _write(tmp_path, streams=[_stream()], user_stream=USER, reconciliation=OK_RECONCILIATION)


async def test_a_stale_heartbeat_and_the_recovery_reach_slack_and_the_alerts_table(
    tmp_path: Path, slack: RecordingSlack
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(SHIPPED.replace("mode: ", "mode: testnet  # was ", 1))  # the heartbeat says sim
    upgrade(f"sqlite:///{tmp_path}/t.db")
    _age(await _healthy(tmp_path), 60)
    stale = _once(tmp_path, slack, config)
    assert stale.returncode == 2, stale.stdout + stale.stderr
    await _healthy(tmp_path)
    recovered = _once(tmp_path, slack, config)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr

    texts = [r.text for r in slack.snapshot()]
    assert len(texts) == 2, texts
    assert texts[0].startswith("[SIM] CRITICAL Heartbeat stale: t is not running or has stopped writing")
    assert texts[1].startswith("[SIM] INFO Daemon healthy again: t is healthy again (was stale)")
    assert all(HOOK not in r.raw for r in slack.snapshot())
    with sqlite3.connect(tmp_path / "t.db") as db:
        rows = db.execute("SELECT kind, severity, status FROM alerts ORDER BY id").fetchall()
    assert rows == [("heartbeat_stale", "critical", "delivered"), ("daemon_recovered", "info", "delivered")]


async def test_a_kind_switched_off_is_only_logged(tmp_path: Path, slack: RecordingSlack) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(SHIPPED.replace("    fill: false", "    fill: false\n    heartbeat_stale: false", 1))
    _age(await _healthy(tmp_path), 60)
    stale = _once(tmp_path, slack, config)
    assert stale.returncode == 2 and "CRITICAL:" in stale.stdout, stale.stdout + stale.stderr
    assert slack.count == 0
