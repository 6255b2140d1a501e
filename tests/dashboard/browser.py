"""A real dashboard in a real browser: serve it with `python -m trader dashboard`, open it in headless
Chromium from Debian's packages, wait until a page has rendered.

Used by the browser test, the benchmark (bench/dashboard.py) and the screenshot script
(bench/dashboard_screenshots.py). `ensure_chromium()` is the ONE place that installs the browser:
Debian's `chromium` and `chromium-driver` with apt-get when missing. Nothing is ever downloaded at
run time (no Selenium Manager, no `playwright install`): Selenium drives /usr/bin/chromedriver.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
RENDERED = ".st-key-page-rendered"  # the footer every page writes last (dashboard/page.py)
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CHART = ".js-plotly-plot .main-svg"
SKELETON = '[data-testid="stSkeleton"]'  # an element Streamlit has not drawn yet


class BrowserUnavailable(RuntimeError):
    """Chromium is missing and cannot be installed here; the message says what to do."""


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver with apt-get when either is missing."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        raise BrowserUnavailable(
            "the browser tests need Chromium: install your system's chromium and chromium-driver packages"
            " (/usr/bin/chromium, /usr/bin/chromedriver); apt-get is not available here"
        )
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, apt, "install", "-y", "-q", "--no-install-recommends", "chromium", "chromium-driver"]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run([*prefix, apt, "update", "-q"], capture_output=True, text=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0 or not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        tail = " ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise BrowserUnavailable(f"`apt-get install chromium chromium-driver` failed: {tail}")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served_dashboard(database_url: str, status_dir: Path, log: Path, timeout_s: float = 60) -> Iterator[str]:
    """`python -m trader dashboard` on a free loopback port; yields its base URL, stops it after."""
    port = free_port()
    env = {**os.environ, "TRADER_DATABASE_URL": database_url, "TRADER_STATUS_DIR": str(status_dir)}
    command = [sys.executable, "-m", "trader", "dashboard", "--port", str(port)]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(base):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)  # polling the health endpoint: the condition itself, not a guess
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[webdriver.Chrome]:
    """Headless Chromium (Debian's) with a fresh profile, driven by /usr/bin/chromedriver."""
    ensure_chromium()
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never try to download anything
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _rendered(title: str, chart: str | None) -> Callable[[webdriver.Chrome], bool]:
    """The page titled `title` has drawn its footer, every element, and its chart (plotly's SVG)."""

    def check(driver: webdriver.Chrome) -> bool:
        footers = driver.find_elements(By.CSS_SELECTOR, RENDERED)
        if not footers or not footers[0].text.startswith(f"{title} rendered in"):
            return False
        if driver.find_elements(By.CSS_SELECTOR, SKELETON):
            return False
        return chart is None or bool(driver.find_elements(By.CSS_SELECTOR, f".st-key-{chart} .main-svg"))

    return check


def _wait(driver: webdriver.Chrome, title: str, chart: str | None, timeout_s: float, where: str) -> None:
    try:
        WebDriverWait(driver, timeout_s, 0.02, ignored_exceptions=(StaleElementReferenceException,)).until(
            _rendered(title, chart)
        )
    except WebDriverException as exc:
        raise AssertionError(
            f"{where} did not render within {timeout_s} s: {page_text(driver)[:1500]}"
        ) from exc


def open_page(
    driver: webdriver.Chrome, url: str, title: str, *, chart: str | None = None, timeout_s: float = 60
) -> float:
    """Load `url` afresh and wait until page `title` has rendered (and chart key `chart`); seconds taken."""
    started = time.perf_counter()
    driver.get(url)
    _wait(driver, title, chart, timeout_s, url)
    return time.perf_counter() - started


def navigate(
    driver: webdriver.Chrome, title: str, *, chart: str | None = None, timeout_s: float = 60
) -> float:
    """Click the sidebar link to page `title` (as a user does) and wait until it has rendered; seconds."""
    links = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
    matching = [link for link in links if link.text.splitlines()[-1:] == [title]]
    if not matching:
        raise AssertionError(f"no sidebar link to {title!r}: {[link.text for link in links]}")
    started = time.perf_counter()
    matching[0].click()
    _wait(driver, title, chart, timeout_s, title)
    return time.perf_counter() - started


def page_errors(driver: webdriver.Chrome) -> list[str]:
    """Text of every exception or error box on the page."""
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ERRORS)]


def page_text(driver: webdriver.Chrome) -> str:
    """The visible text of the page (for failure messages)."""
    try:
        return str(driver.find_element(By.TAG_NAME, "body").text)
    except WebDriverException:
        return ""
