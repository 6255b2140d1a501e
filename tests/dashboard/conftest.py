"""Fixtures of the dashboard tests: a seeded or empty database, a heartbeat, the app under AppTest,
and Chromium for the browser test (installed here, and only here, when missing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from database.migrate import upgrade
from tests.dashboard import heartbeats
from tests.dashboard.browser import BrowserUnavailable, ensure_chromium
from tests.dashboard.seed import Seeded, seed_database

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = (
    "views/health.py",
    "views/portfolio.py",
    "views/market.py",
    "views/signals.py",
    "views/alerts.py",
    "views/reconciliation.py",
    "views/backtests.py",
)
CORE_PAGES = PAGES[:4]


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """Debian's chromium and chromium-driver, installed with apt-get when missing (the one place)."""
    try:
        ensure_chromium()
    except BrowserUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def status_dir(tmp_path: Path) -> Path:
    """The folder the heartbeat is written to (empty: no heartbeat yet)."""
    return tmp_path / "status"


@pytest.fixture
def dashboard_env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, status_dir: Path) -> str:
    """The dashboard's settings point at the test's database and status folder; returns the URL."""
    monkeypatch.setenv("TRADER_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TRADER_STATUS_DIR", str(status_dir))
    return sqlite_url


@pytest.fixture
def seeded(dashboard_env: str) -> Seeded:
    """Two days of trading on three symbols (300 fills) in the test's SQLite file."""
    return seed_database(dashboard_env, now_ms=heartbeats.now_ms())


@pytest.fixture
def empty_db(dashboard_env: str) -> str:
    """A migrated database with no rows."""
    upgrade(dashboard_env)
    return dashboard_env


@pytest.fixture
def app() -> Iterator[Callable[..., AppTest]]:
    """Runs the dashboard under AppTest: `app()` the default page, `app(page)` another page."""

    def run(page: str | None = None, **state: Any) -> AppTest:
        test = AppTest.from_file(str(APP), default_timeout=60)
        for key, value in state.items():
            test.session_state[key] = value
        test.run()
        if page is not None:
            test.switch_page(page).run()
        return test

    yield run


def footer(test: AppTest) -> str:
    """The page's footer line ("<title> rendered in N ms · ...")."""
    lines = [c.value for c in test.caption if " rendered in " in c.value]
    assert lines, f"no footer: {[c.value for c in test.caption]}"
    return str(lines[-1])


def texts(test: AppTest) -> str:
    """Every text the page shows (markdown, captions, alerts, headings), one per line."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
    ):
        parts += [str(e.value) for e in getattr(test, kind)]
    return "\n".join(parts)
