"""`backtest --html`: one self-contained file (no network to open it) with the equity curve, the
drawdown, and per symbol the candles, VWAP, its bands and every trade marked with its reason;
it renders in a real browser (Debian's headless Chromium) from the file system."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trader.cli import main

WEEK = ["--symbols", "WLDUSDT", "--start", "2023-10-09", "--end", "2023-10-11"]


@pytest.fixture
def report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:  # type: ignore[type-arg]
    monkeypatch.setenv("TRADER_DATABASE_URL", f"sqlite:///{tmp_path / 'trader.db'}")
    page, data = tmp_path / "report.html", tmp_path / "report.json"
    assert main(["backtest", "--quiet", *WEEK, "--html", str(page), "--json", str(data)]) == 0
    return page, json.loads(data.read_text())


def test_the_html_report_needs_no_network_and_shows_every_trade_with_its_reason(report) -> None:  # type: ignore[no-untyped-def]
    page, data = report
    text = page.read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text)  # plotly.js is inlined, nothing fetched
    assert "Plotly.newPlot" in text and len(text) > 3_000_000
    figures = [json.loads(m) for m in re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', text)]
    names = [trace.get("name") for figure in figures for trace in figure]
    assert {"equity", "drawdown", "candles", "VWAP", "VWAP + 2.0σ", "VWAP − 2.0σ", "entry", "exit"} <= set(
        names
    )
    exits = next(t for f in figures for t in f if t.get("name") == "exit")
    assert (
        exits["text"] == [t["reason"] for t in data["trades"]]
        and len(exits["text"]) == data["summary"]["trades"]
    )
    entries = next(t for f in figures for t in f if t.get("name") == "entry")
    assert all(text.split(": ", 1)[1] for text in entries["text"])  # each entry says why


def test_the_html_report_renders_in_a_browser_from_the_file(report) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.dashboard.browser import BrowserUnavailable, chromium

    page, _data = report
    try:
        with chromium(1200, 1400) as driver:
            driver.get(page.as_uri())
            WebDriverWait(driver, 60).until(
                lambda d: len(d.find_elements(By.CSS_SELECTOR, ".plot-container")) == 2
            )
            # Drawn, not just loaded: the candles (plotly draws them as boxes) and the trade markers.
            assert driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .boxlayer .trace")
            assert len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .scatterlayer .point")) >= 2
            assert "WLDUSDT" in driver.find_element(By.TAG_NAME, "body").text
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
