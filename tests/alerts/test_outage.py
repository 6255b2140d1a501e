"""Slack failing in every way while the daemon trades: 429 with Retry-After, then a 500, then a hang
of 10 s, then refused connections, then back. Nothing the queue could keep is lost, nothing is
posted faster than allowed, and the trading loop's lag stays under 50 ms throughout (measured as
tests/alerts/lag_probe.py explains: what the machine's other load adds is taken out)."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from alerts.pacing import DeliveryPolicy
from config.loader import load_config, load_settings
from core.alerts import AlertKind, Severity, publish_alert
from tests.alerts.conftest import until
from tests.alerts.lag_probe import LagProbe
from tests.alerts.slack_server import RecordingSlack, Reply
from trader.app import Daemon

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
MAX_LAG_S = 0.050
# Distinct alert keys queued during the outage, every third CRITICAL: three criticals (the last one
# queued behind five warnings) are enough to show the queue's order; each key is a second of pacing.
KEYS = 8
pytestmark = pytest.mark.slow


def _config(tmp_path: Path) -> Path:
    # The shipped file at 600x with entry rules wide enough to trade within the test's minute.
    text = SHIPPED.read_text().replace("band_k: 2.0", "band_k: 1.0").replace("adx_max: 20", "adx_max: 40")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def _rows(db: Path) -> list[tuple[str, str, int, str]]:
    with sqlite3.connect(db) as conn:
        return [
            tuple(r) for r in conn.execute("SELECT kind, symbol, occurrences, status FROM alerts ORDER BY id")
        ]


async def test_slack_failing_every_way_loses_nothing_floods_nothing_and_never_slows_trading(
    tmp_path: Path,
) -> None:
    db_file = tmp_path / "trader.db"
    with RecordingSlack() as slack:
        path = _config(tmp_path)
        settings = load_settings(
            _env_file=None,
            mode="sim",
            config=path,
            database_url=f"sqlite:///{db_file}",
            status_dir=tmp_path / "status",
            log_dir=tmp_path / "logs",
            slack_webhook_url=SecretStr(slack.webhook_url()),
        )
        daemon = Daemon(settings, load_config(path), config_path=path)
        probe = LagProbe()
        try:
            await daemon.start()
            router = daemon.alerts.router
            assert router is not None
            # The default pacing (1 message/s), with a shorter timeout and backoff cap than the
            # defaults so the test's outage takes seconds, not minutes.
            router.policy = DeliveryPolicy(
                timeout_s=2.0, max_attempts=10, backoff_base_s=0.5, backoff_max_s=2.0
            )
            [started] = await slack.wait_for(1, within=30)
            assert started.text.startswith(
                "[SIM] INFO Daemon started: trading in sim mode; symbols: WLDUSDT, ADAUSDT"
            )

            candles_before = daemon.market_data.candles_stored
            probe.start()
            slack.script.extend(
                [Reply(429, "rate_limited", headers={"Retry-After": "2"}), Reply(500), Reply(hang_s=10)]
            )
            published = 0
            for i in range(KEYS):  # distinct keys: each is its own message, all of them queued
                symbol = f"SYM{i}USDT"
                severity = Severity.CRITICAL if i % 3 == 0 else Severity.WARNING
                publish_alert(
                    daemon.bus, AlertKind.RISK_LIMIT, f"limit #{i}", time=0, symbol=symbol, severity=severity
                )
                publish_alert(daemon.bus, AlertKind.RISK_LIMIT, f"limit #{i} again", time=0, symbol=symbol)
                published += 2
            await slack.wait_for(4, within=30)  # the 429, the 500 and the hanging request arrived
            await slack.refuse_async()  # the test's own blocking call stays off the loop it measures
            attempts = router.attempts
            await until(
                lambda: router.attempts >= attempts + 2, within=30, what="attempts against a closed port"
            )
            await slack.resume_async()
            await until(
                lambda: router.status()["delivered"] >= 1 + KEYS, within=60, what="every message delivered"
            )
            await probe.stop()
            traded_candles = daemon.market_data.candles_stored - candles_before
        finally:
            await daemon.stop()

    posts = slack.snapshot()
    # Nothing faster than 1 message/s, and nothing before the 429's Retry-After had passed.
    # Times are when the recording server read each post: a loaded machine delays one read by some
    # tens of ms, so a single gap may look shorter; over the whole run the rate cannot exceed 1/s.
    paced = posts[:-1]  # the last is the stop message
    gaps = [b.at - a.at for a, b in itertools.pairwise(paced)]
    assert min(gaps) >= 0.85, gaps
    assert paced[-1].at - paced[0].at >= (len(paced) - 1) - 0.15, gaps
    after_429 = next(i for i, p in enumerate(posts) if i > 0 and p.text.startswith("[SIM] CRITICAL"))
    assert posts[after_429 + 1].at - posts[after_429].at >= 1.95
    # Nothing lost: every key stored once with every occurrence, and delivered after the outage.
    rows = [r for r in _rows(db_file) if r[0] == AlertKind.RISK_LIMIT.value]
    assert len(rows) == KEYS and sum(r[2] for r in rows) == published
    assert {r[3] for r in rows} == {"delivered"}
    assert router.status()["dropped"] == {}
    delivered_texts = [p.text for p in posts]
    for i in range(KEYS):
        assert any(f"SYM{i}USDT: limit #{i}" in t for t in delivered_texts), i
    # CRITICAL first: the first three keys to leave the queue are the critical ones.
    firsts = [t for t in delivered_texts if "Risk limit reached" in t]
    assert all(t.startswith("[SIM] CRITICAL") for t in firsts[:3])
    assert delivered_texts[-1].startswith("[SIM] INFO Daemon stopped: stopped (exit code 0)")
    # The trading loop never noticed: its own lag (the machine's load taken out, see lag_probe.py).
    assert probe.samples > 1000 and traded_candles > 0
    raw, own = probe.worst()
    assert own < MAX_LAG_S, f"the trading loop lagged {own * 1000:.1f} ms itself ({raw * 1000:.1f} ms raw)"
