"""The README's screenshot of `backtest --html`, taken in headless Chromium (Debian's, offline).

    .venv/bin/python bench/backtest_html_screenshot.py     # writes docs/images/backtest-report.png

Backtests the shipped config on two days of the shipped WLDUSDT data (a temporary database: the
shipped data is imported on first use), writes the HTML report, opens it from the file system and
saves the page as a palette PNG.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.dashboard.browser import chromium  # noqa: E402
from trader.cli import main as trader  # noqa: E402

OUT = ROOT / "docs" / "images" / "backtest-report.png"
PLOTS = ".js-plotly-plot .main-svg"


def main() -> None:
    """Run, render, screenshot."""
    with tempfile.TemporaryDirectory(prefix="backtest-shot-") as folder:
        work = Path(folder)
        os.environ["TRADER_DATABASE_URL"] = f"sqlite:///{work / 'trader.db'}"
        page = work / "report.html"
        args = ["backtest", "--quiet", "--symbols", "WLDUSDT", "--start", "2023-10-09", "--end", "2023-10-11"]
        if trader([*args, "--html", str(page)]) != 0:
            raise SystemExit("the backtest failed")
        with chromium(1400, 1760) as driver:
            driver.get(page.as_uri())
            WebDriverWait(driver, 60).until(
                lambda d: len(d.find_elements(By.CSS_SELECTOR, ".plot-container")) >= 2
            )
            driver.save_screenshot(str(OUT))
    with Image.open(OUT) as image:
        image.convert("RGB").quantize(colors=128).save(OUT, optimize=True)
    print(f"{OUT}: {OUT.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
