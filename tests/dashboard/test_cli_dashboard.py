"""`python -m trader dashboard`: loopback by default, nothing sent home, a clear word on bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.settings import Settings
from trader.cli_dashboard import APP, is_loopback, streamlit_command


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_app_is_served_on_loopback_without_usage_statistics_or_file_watching() -> None:
    settings = Settings(_env_file=None)
    command = streamlit_command(settings.dashboard_host, settings.dashboard_port)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(APP) and APP.is_file()
    assert _option(command, "--server.address") == "127.0.0.1"
    assert _option(command, "--server.port") == "8501"
    assert _option(command, "--browser.gatherUsageStats") == "false"
    assert _option(command, "--server.fileWatcherType") == "none"
    assert _option(command, "--server.headless") == "true"


def test_the_host_and_port_settings_move_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADER_DASHBOARD_HOST", "10.0.0.5")
    monkeypatch.setenv("TRADER_DASHBOARD_PORT", "9000")
    settings = Settings(_env_file=None)
    assert (settings.dashboard_host, settings.dashboard_port) == ("10.0.0.5", 9000)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("dashboard.example", False),
    ],
)
def test_only_loopback_addresses_pass_without_a_warning(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_bad_port_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trader", "dashboard", "--port", "70000"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "must be 1..65535, got 70000" in result.stderr and "Traceback" not in result.stderr
