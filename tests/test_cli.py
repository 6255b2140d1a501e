"""`python -m trader` as a user runs it: a real subprocess, real files, real environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from config.settings import PROJECT_ROOT
from trader import cli

SHIPPED = PROJECT_ROOT / "config" / "config.yaml"
BASE = SHIPPED.read_text(encoding="utf-8")
API_SECRET = "cli-Secret-Value-8812"
DB_PASSWORD = "dbPassCli7731"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_trader(tmp_path: Path) -> Run:
    """Run `python -m trader ARGS` in tmp_path with a clean TRADER_* environment."""
    base_env = {
        k: v for k, v in os.environ.items() if not k.upper().startswith(("TRADER_", "OP_SERVICE_ACCOUNT"))
    }
    base_env.update(
        TRADER_LOG_DIR=str(tmp_path / "logs"),
        TRADER_STATUS_DIR=str(tmp_path / "status"),
        TRADER_DATABASE_URL=f"sqlite:///{tmp_path}/var/trader.db",
    )

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trader", *args],
            cwd=tmp_path,
            env={**base_env, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def write_config(tmp_path: Path, old: str = "", new: str = "", *, text: str | None = None) -> Path:
    if text is None:
        assert old in BASE, old
        text = BASE.replace(old, new, 1)
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_config_check_prints_the_resolved_configuration_without_secrets(run_trader: Run) -> None:
    result = run_trader(
        "config",
        "check",
        "--config",
        str(SHIPPED),
        TRADER_API_KEY="cli-key-value-0042",
        TRADER_API_SECRET=API_SECRET,
        TRADER_DATABASE_URL=f"postgresql+psycopg://trader:{DB_PASSWORD}@127.0.0.1:5432/trader",
        TRADER_SLACK_BOT_TOKEN="xoxb-cli-token-991",
        TRADER_SLACK_CHANNEL="#trading",
    )
    assert result.returncode == 0, result.stderr
    for secret in (API_SECRET, DB_PASSWORD, "cli-key-value-0042", "xoxb-cli-token-991"):
        assert secret not in result.stdout + result.stderr
    assert result.stdout.startswith(f"# configuration OK: {SHIPPED}\n")
    report = yaml.safe_load(result.stdout)
    assert report["mode"] == "sim"
    settings = report["settings"]
    assert settings["TRADER_API_SECRET"] == "********"
    assert settings["TRADER_API_KEY"] == "********"
    assert settings["TRADER_SLACK_BOT_TOKEN"] == "********"
    assert settings["TRADER_SLACK_WEBHOOK_URL"] is None
    assert settings["TRADER_DATABASE_URL"] == "postgresql+psycopg://trader:********@127.0.0.1:5432/trader"
    symbols = {s["symbol"]: s for s in report["symbols"]}
    assert set(symbols) == {"WLDUSDT", "ADAUSDT"}
    assert symbols["ADAUSDT"]["risk"]["max_exposure_usdt"] == 1000  # the override, merged
    assert symbols["ADAUSDT"]["risk"]["daily_loss_limit_usdt"] == 300  # the global value
    assert symbols["WLDUSDT"]["risk"]["max_exposure_usdt"] == 1500
    assert symbols["ADAUSDT"]["params"]["adx_period"] == 14  # strategy defaults filled in
    assert report["risk"]["allocation"] == 0.4


def test_environment_mode_override_is_shown(run_trader: Run) -> None:
    result = run_trader("config", "check", "--config", str(SHIPPED), TRADER_MODE="paper")
    assert result.returncode == 0, result.stderr
    report = yaml.safe_load(result.stdout)
    assert (report["mode"], report["mode_from"]) == ("paper", "TRADER_MODE")


def test_unresolved_1password_reference_is_shown_as_a_reference(run_trader: Run) -> None:
    result = run_trader(
        "config", "check", "--config", str(SHIPPED), TRADER_API_SECRET="op://Trading/Binance/secret"
    )
    assert result.returncode == 0, result.stderr
    report = yaml.safe_load(result.stdout)
    assert report["settings"]["TRADER_API_SECRET"] == (
        "op://Trading/Binance/secret (1Password; not resolved: OP_SERVICE_ACCOUNT_TOKEN is not set)"
    )


def test_unresolvable_reference_exits_1_with_one_line(run_trader: Run) -> None:
    result = run_trader(
        "config",
        "check",
        "--config",
        str(SHIPPED),
        TRADER_API_SECRET="op://Trading/Binance/secret",
        OP_SERVICE_ACCOUNT_TOKEN="malformed-token-value",
    )
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("TRADER_API_SECRET: cannot resolve the 1Password reference (")
    assert "malformed-token-value" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "      max_exposure_usdt: 1000",
            "      max_exposure_usdt: -5",
            "config.yaml: symbols[1].risk.max_exposure_usdt: must be > 0, got -5",
        ),
        (
            "  leverage: 2",
            "  leverage: 2\n  turbo: true",
            "config.yaml: engine.turbo: unknown key (allowed: warmup_candles, order_ttl_seconds, "
            "reprice_on_ttl, order_poll_seconds, heartbeat_seconds, entry_send_deadline_seconds, "
            "startup_retry_seconds, leverage, entry_order_type, lease_check_interval_s)",
        ),
        (
            "symbol: ADAUSDT",
            "symbol: WLDUSDT",
            "config.yaml: symbols[1].symbol: duplicate symbol WLDUSDT (also symbols[0])",
        ),
        (
            "symbol: ADAUSDT",
            "symbol: btcusdt",
            "config.yaml: symbols[1].symbol: invalid symbol 'btcusdt': symbols are upper case, write BTCUSDT",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line(
    run_trader: Run, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    write_config(tmp_path, old, new)
    result = run_trader("config", "check", "--config", "config.yaml")
    assert result.returncode == 2
    assert one_line(result.stderr) == expected
    assert result.stdout == ""


def test_yaml_syntax_error_exits_2_naming_the_line(run_trader: Run, tmp_path: Path) -> None:
    path = write_config(tmp_path, "  seed: 7", "  seed: 7\n  speed: fast: 2")
    line_number = path.read_text().splitlines().index("  speed: fast: 2") + 1
    result = run_trader("config", "check", "--config", "config.yaml")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"config.yaml: YAML syntax error at line {line_number}: mapping values are not allowed here"
    )


def test_missing_file_exits_2(run_trader: Run) -> None:
    result = run_trader("config", "check", "--config", "missing.yaml")
    assert result.returncode == 2
    assert one_line(result.stderr) == "missing.yaml: file not found (give another one with --config PATH)"


def test_config_path_from_environment(run_trader: Run, tmp_path: Path) -> None:
    path = write_config(tmp_path, "      max_exposure_usdt: 1000", "      max_exposure_usdt: 0")
    result = run_trader("config", "check", TRADER_CONFIG=str(path))
    assert result.returncode == 2
    # Shown relative to the working directory (tmp_path), where the file is.
    assert one_line(result.stderr) == "config.yaml: symbols[1].risk.max_exposure_usdt: must be > 0, got 0"


def test_bad_environment_value_exits_2(run_trader: Run) -> None:
    result = run_trader("config", "check", TRADER_LOG_LEVEL="chatty")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "environment: TRADER_LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, got 'chatty'"
    )


def test_live_mode_without_opt_in_refuses_to_start(run_trader: Run, tmp_path: Path) -> None:
    write_config(tmp_path, "mode: sim", "mode: live")
    result = run_trader("run", "--config", "config.yaml", "--duration", "1", TRADER_API_SECRET=API_SECRET)
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "config.yaml: mode: mode live trades real money and needs an explicit opt-in: "
        "pass --allow-live to `python -m trader run` or set TRADER_ALLOW_LIVE=true"
    )
    # No subcommand means `run`: the same refusal, here with the mode from the environment.
    result = run_trader("--config", str(SHIPPED), TRADER_MODE="live")
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("environment: TRADER_MODE: mode live trades real money")
    log = (tmp_path / "logs" / "trader.log").read_text(encoding="utf-8")
    assert "cli.config_error" in log
    assert API_SECRET not in log


def test_live_with_opt_in_but_no_keys_is_a_config_error(run_trader: Run) -> None:
    result = run_trader("run", "--config", str(SHIPPED), "--allow-live", TRADER_MODE="live")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "environment: TRADER_API_KEY: required in mode live; set it in .env or the environment"
    )


def test_runtime_failure_is_one_line_and_the_traceback_goes_to_the_log(
    run_trader: Run, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-folder.db"
    blocker.mkdir()
    result = run_trader(
        "run",
        "--config",
        str(SHIPPED),
        "--duration",
        "1",
        TRADER_DATABASE_URL=f"sqlite:///{blocker}",  # a folder where the database file should be
        TRADER_API_SECRET=API_SECRET,
    )
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("error: ")
    assert line.endswith("(details in logs/trader.log)")
    log = (tmp_path / "logs" / "trader.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log
    assert "cli.failed" in log
    assert API_SECRET not in log + result.stderr + result.stdout


@pytest.mark.parametrize("variable", ["TRADER_STATUS_DIR", "TRADER_LOG_DIR", "TRADER_DATABASE_URL"])
def test_a_folder_the_daemon_cannot_write_is_one_line_and_exit_2(
    run_trader: Run, tmp_path: Path, variable: str
) -> None:
    """Issue 12.8: found at start-up, not by a stream of errors while the daemon runs."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    folder = blocker / "sub"  # cannot be created: its parent is a file
    value = f"sqlite:///{folder}/trader.db" if variable == "TRADER_DATABASE_URL" else str(folder)
    result = run_trader("run", "--config", str(SHIPPED), "--duration", "1", **{variable: value})
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert line.startswith(f"environment: {variable}: {folder} is not writable"), line
    assert "Traceback" not in result.stderr


def test_bad_duration_is_a_usage_error(run_trader: Run) -> None:
    result = run_trader("run", "--duration", "-3")
    assert result.returncode == 2
    assert "--duration: must be > 0, got -3" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_has_help(run_trader: Run) -> None:
    expectations = {
        (): ["run", "config", "db"],
        ("run",): ["--config", "--duration", "--allow-live"],
        ("config",): ["check"],
        ("config", "check"): ["--config"],
        ("db",): ["upgrade"],
        ("db", "upgrade"): ["TRADER_DATABASE_URL"],
    }
    for words, mentions in expectations.items():
        result = run_trader(*words, "--help")
        assert result.returncode == 0, (words, result.stderr)
        assert result.stdout.startswith("usage: python -m trader"), words
        for mention in mentions:
            assert mention in result.stdout, (words, mention)


def test_group_without_subcommand_shows_its_help_and_exits_2(run_trader: Run) -> None:
    result = run_trader("config")
    assert result.returncode == 2
    assert "check" in result.stderr


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Ctrl-C arrives as KeyboardInterrupt wherever the command happens to be.
    def add_sleepy(sub: object) -> None:
        parser = sub.add_parser("sleepy")  # type: ignore[attr-defined]
        parser.set_defaults(handler=_interrupted)

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, add_sleepy])
    assert cli.main(["sleepy"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def _interrupted(_: object) -> int:
    raise KeyboardInterrupt


def test_db_upgrade_creates_and_migrates_a_sqlite_file(run_trader: Run, tmp_path: Path) -> None:
    from database.migrate import is_up_to_date

    url = f"sqlite:///{tmp_path}/fresh/dir/trader.db"  # the folder does not exist yet
    for _ in range(2):  # a second upgrade finds nothing to do
        result = run_trader("db", "upgrade", TRADER_DATABASE_URL=url)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"database {url}: at the latest schema revision\n"
    assert is_up_to_date(url)


@pytest.mark.postgres
def test_db_upgrade_on_postgresql_never_shows_the_password(
    run_trader: Run, tmp_path: Path, postgres_url: str
) -> None:
    from sqlalchemy.engine import make_url

    from database.migrate import is_up_to_date

    # The local server trusts every connection, so any password works: it must still stay secret.
    url = make_url(postgres_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    result = run_trader("db", "upgrade", TRADER_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert DB_PASSWORD not in result.stdout + result.stderr
    assert ":********@" in result.stdout
    assert is_up_to_date(url)
    logs = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "logs").iterdir())
    assert DB_PASSWORD not in logs
