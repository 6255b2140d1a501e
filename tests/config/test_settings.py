"""Settings: TRADER_* from the environment and .env, validated, secrets kept out of reprs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.loader import load_settings
from config.settings import (
    ENV_FILE,
    PROJECT_ROOT,
    Mode,
    Settings,
    database_password,
    redact_database_url,
)
from core.errors import ConfigError
from database.engine import sqlite_path
from database.migrate import upgrade

EXAMPLE = PROJECT_ROOT / ".env.example"


def test_defaults_are_absolute_paths_inside_the_project() -> None:
    settings = Settings(_env_file=None)
    assert settings.mode is None
    assert settings.config == PROJECT_ROOT / "config" / "config.yaml"
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT}/var/trader.db"
    assert sqlite_path(settings.database_url) == PROJECT_ROOT / "var" / "trader.db"
    assert settings.log_dir == PROJECT_ROOT / "logs"
    assert settings.status_dir == PROJECT_ROOT / "status"
    assert settings.log_level == "INFO"
    assert settings.allow_live is False
    assert settings.api_key is None


def test_environment_is_read_case_insensitively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADER_MODE", "paper")
    monkeypatch.setenv("trader_api_key", "key-from-env")
    monkeypatch.setenv("TRADER_LOG_LEVEL", "debug")
    monkeypatch.setenv("TRADER_ALLOW_LIVE", "true")
    settings = Settings(_env_file=None)
    assert settings.mode is Mode.PAPER
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "key-from-env"
    assert settings.log_level == "DEBUG"
    assert settings.allow_live is True


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TRADER_API_SECRET=from-dotenv\nTRADER_SLACK_CHANNEL=#alerts\nTRADER_MODE=testnet\n")
    monkeypatch.setenv("TRADER_MODE", "sim")
    settings = Settings(_env_file=env_file)
    assert settings.api_secret is not None and settings.api_secret.get_secret_value() == "from-dotenv"
    assert settings.slack_channel == "#alerts"
    assert settings.mode is Mode.SIM


def test_the_project_dotenv_is_the_default_source() -> None:
    assert ENV_FILE == PROJECT_ROOT / ".env"
    assert Settings.model_config.get("env_file") == ENV_FILE


def test_bad_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADER_LOG_LEVEL", "verbose")
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert info.value.line() == (
        "environment: TRADER_LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, got 'verbose'"
    )
    monkeypatch.delenv("TRADER_LOG_LEVEL")
    monkeypatch.setenv("TRADER_MODE", "production")
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert info.value.line() == (
        "environment: TRADER_MODE: expected one of 'sim', 'paper', 'testnet' or 'live', got 'production'"
    )


def test_zero_log_backups_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADER_LOG_BACKUPS", "0")  # the log would grow without bound
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert info.value.line() == "environment: TRADER_LOG_BACKUPS: must be >= 1, got '0'"


def test_bad_value_in_dotenv_names_the_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TRADER_LOG_BACKUPS=many\n")
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=env_file)
    assert info.value.line() == f"{env_file}: TRADER_LOG_BACKUPS: expected a whole number, got 'many'"


def test_secret_values_include_every_secret_and_the_database_password() -> None:
    settings = Settings(
        _env_file=None,
        api_key="the-api-key",
        api_secret="the-api-secret",
        slack_webhook_url="https://hooks.slack.com/services/T0/B0/hooksecret",
        slack_bot_token="xoxb-bot-token",
        database_url="postgresql+psycopg://trader:p%40ss%3Aword@127.0.0.1:5432/trader",
    )
    values = settings.secret_values()
    for expected in ("the-api-key", "the-api-secret", "xoxb-bot-token", "p@ss:word"):
        assert expected in values
    assert "https://hooks.slack.com/services/T0/B0/hooksecret" in values
    assert "/services/T0/B0/hooksecret" in values
    text = repr(settings) + str(settings)
    for value in values:
        assert value not in text
    assert "p%40ss%3Aword" not in text


def test_op_references_are_not_secret_values() -> None:
    settings = Settings(_env_file=None, api_secret="op://vault/item/field")
    assert settings.secret_values() == []


@pytest.mark.parametrize(
    ("url", "password", "shown"),
    [
        ("postgresql+psycopg://u:pw1234@h:5432/db", "pw1234", "postgresql+psycopg://u:********@h:5432/db"),
        ("postgresql+psycopg://postgres@127.0.0.1/db", None, "postgresql+psycopg://postgres@127.0.0.1/db"),
        ("sqlite:////tmp/x.db", None, "sqlite:////tmp/x.db"),
        ("postgresql://u:a%2Fb@h/db", "a/b", "postgresql://u:********@h/db"),
    ],
)
def test_database_url_password(url: str, password: str | None, shown: str) -> None:
    assert database_password(url) == password
    assert redact_database_url(url) == shown


def test_a_sqlite_database_url_in_a_missing_folder_just_works(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/trader.db"
    upgrade(url)  # what start-up and `db upgrade` do first
    assert (tmp_path / "nested" / "dir").is_dir()
    assert sqlite_path("postgresql+psycopg://postgres@127.0.0.1/x") is None  # not a file
    assert sqlite_path("sqlite://") is None  # in memory


def test_env_example_documents_every_setting_and_loads_as_is() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    variables = re.findall(r"^([A-Z_]+)=", text, flags=re.MULTILINE)
    documented = {name for name in variables}
    expected = {
        ("OP_SERVICE_ACCOUNT_TOKEN" if name == "op_service_account_token" else f"TRADER_{name.upper()}")
        for name in Settings.model_fields
    }
    assert expected <= documented
    assert {"SIM_API_KEY", "SIM_API_SECRET"} <= documented
    lines = text.splitlines()
    for name in variables:  # each variable has a comment right above it (or above its group)
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}="))
        above = [line for line in lines[:index] if line.strip()]
        assert above and (above[-1].startswith("#") or re.match(r"^[A-Z_]+=", above[-1])), name
    settings = Settings(_env_file=EXAMPLE)  # a copied example is valid and safe
    assert settings.mode is None
    assert settings.allow_live is False
    assert settings.secret_values() == []
    assert settings.config == PROJECT_ROOT / "config" / "config.yaml"
