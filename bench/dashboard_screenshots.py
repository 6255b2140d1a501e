"""The README's dashboard screenshots, taken from the real app in headless Chromium.

    .venv/bin/python bench/dashboard_screenshots.py        # writes docs/images/dashboard-*.png

It seeds a small demo history (tests/dashboard/seed.py: 6 symbols, 3 days, 4,000 fills) in a
temporary SQLite file, writes a v1 heartbeat with one symbol paused by the volatility guard, serves
the dashboard with `python -m trader dashboard` and saves each page as a palette PNG (small files).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.dashboard import heartbeats  # noqa: E402
from tests.dashboard.browser import chromium, navigate, open_page, served_dashboard  # noqa: E402
from tests.dashboard.seed import seed_database  # noqa: E402

OUT = ROOT / "docs" / "images"
SHOTS = (  # (page title, chart key to wait for, file name)
    ("Health", None, "dashboard-health.png"),
    ("Portfolio", "daily-chart", "dashboard-portfolio.png"),
    ("Market", "market-chart", "dashboard-market.png"),
    ("Signals & risk", None, "dashboard-signals.png"),
)


def _heartbeat(status_dir: Path, symbols: list[str]) -> None:
    paused = {
        "entries_enabled": False,
        "entries_blocked_by": [
            {"reason": "volatility_guard", "detail": "1.1 % range in 5 s", "until_ms": None}
        ],
    }
    entries = {s: (paused if i == 1 else {}) for i, s in enumerate(symbols)}
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600, symbols=entries))


def _small_png(path: Path) -> None:
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=128).save(path, optimize=True)


def main() -> None:
    """Seed, serve, screenshot every page."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dashboard-shots-") as folder:
        work = Path(folder)
        url = f"sqlite:///{work / 'demo.db'}"
        seeded = seed_database(url, symbols=6, fills=4000, days=3, now_ms=heartbeats.now_ms())
        _heartbeat(work / "status", seeded.symbols)
        with (
            served_dashboard(url, work / "status", work / "server.log") as base,
            chromium(1400, 1100) as driver,
        ):
            open_page(driver, f"{base}/", "Health")
            for title, chart, name in SHOTS:
                navigate(driver, title, chart=chart)
                driver.save_screenshot(str(OUT / name))
                _small_png(OUT / name)
                print(f"{OUT / name}: {(OUT / name).stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
