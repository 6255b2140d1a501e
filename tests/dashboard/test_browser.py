"""End to end in a real browser: `python -m trader dashboard` serves the app, Debian's headless
Chromium opens it, the health section and a chart are drawn and no page shows an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.dashboard import heartbeats
from tests.dashboard.browser import chromium, navigate, open_page, page_errors, page_text, served_dashboard
from tests.dashboard.seed import Seeded

# Installing Chromium on a fresh machine (browser_ready) and starting it take time on 2 busy cores.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_the_served_dashboard_shows_health_and_a_chart_in_chromium(
    browser_ready: None, seeded: Seeded, dashboard_env: str, status_dir: Path, tmp_path: Path
) -> None:
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600, symbols={s: {} for s in seeded.symbols}))
    with served_dashboard(dashboard_env, status_dir, tmp_path / "server.log") as base, chromium() as driver:
        open_page(driver, f"{base}/", "Health")
        text = page_text(driver)
        assert "up: running, every stream fresh" in text
        assert {"Entries per symbol", "Streams", "Queues", "Database", "Last reconciliation"} <= {
            h.text for h in driver.find_elements(By.CSS_SELECTOR, "h3")
        }
        assert page_errors(driver) == []

        navigate(driver, "Market", chart="market-chart")
        # the candles themselves (plotly draws candlesticks in its box layer)
        assert driver.find_elements(By.CSS_SELECTOR, ".st-key-market-chart .boxlayer .trace path")
        assert page_errors(driver) == []

        for title, chart in (
            ("Portfolio", "daily-chart"),
            ("Signals & risk", None),
            ("Backtests", "backtest-equity"),
        ):
            navigate(driver, title, chart=chart)
            assert page_errors(driver) == [], title
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_a_stale_heartbeat_shows_the_red_banner_in_the_browser(
    browser_ready: None, seeded: Seeded, dashboard_env: str, status_dir: Path, tmp_path: Path
) -> None:
    heartbeats.write(status_dir, heartbeats.v1(written_at_ms=heartbeats.now_ms() - 3_600_000))
    with served_dashboard(dashboard_env, status_dir, tmp_path / "server.log") as base, chromium() as driver:
        open_page(driver, f"{base}/", "Health")
        errors = page_errors(driver)
        assert len(errors) == 1 and "Heartbeat STALE" in errors[0]
