"""Process settings from the environment and `.env`: every variable starts with `TRADER_`.

Settings are about *this machine and account*: mode override, credentials, database, Slack, folders.
What to trade lives in the YAML file (`config/models.py`). Secrets are `SecretStr` so that a stray
`repr()` or log line shows `**********`; a secret may also be a 1Password reference (`op://...`)
that `config/secrets.py` resolves at start-up. `config.loader.load_settings()` turns a bad value into
the usual one-line `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = PROJECT_ROOT / ".env"
ENV_PREFIX = "TRADER_"
SECRET_FIELDS: tuple[str, ...] = (
    "api_key",
    "api_secret",
    "slack_webhook_url",
    "slack_bot_token",
    "op_service_account_token",
)
TOKEN_VARIABLE = "OP_SERVICE_ACCOUNT_TOKEN"
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")
MASK = "********"


class Mode(StrEnum):
    """Where orders go: see the header of config/config.yaml."""

    SIM = "sim"
    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"


class Settings(BaseSettings):
    """Settings from `TRADER_*` environment variables and the project's `.env` (environment wins)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        case_sensitive=False,
        env_ignore_empty=True,  # `TRADER_API_KEY=` in a copied .env.example means "not set"
        extra="ignore",  # unrelated variables in .env (OP_SERVICE_ACCOUNT_TOKEN, SIM_*) are fine
        validate_default=True,
    )

    mode: Mode | None = Field(None, description="overrides the YAML's `mode:`; unset = use the YAML")
    config: Path = Field(PROJECT_ROOT / "config" / "config.yaml", description="trading configuration")
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    database_url: str = Field(f"sqlite:///{PROJECT_ROOT / 'var' / 'trader.db'}")
    slack_webhook_url: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_channel: str | None = None
    # Slack's Web API base URL for the bot (a Slack-compatible server or a test server); unset = Slack.
    slack_api_url: str | None = None
    log_level: str = "INFO"
    log_dir: Path = PROJECT_ROOT / "logs"
    status_dir: Path = PROJECT_ROOT / "status"
    # The dashboard has no login: anything but a loopback address shows positions to the network.
    dashboard_host: str = Field("127.0.0.1", description="address `python -m trader dashboard` binds")
    dashboard_port: int = Field(8501, ge=1, le=65535, description="port of the dashboard")
    log_max_bytes: int = Field(10 * 1024 * 1024, gt=0)
    log_backups: int = Field(5, ge=1)  # 0 would make RotatingFileHandler never truncate: unbounded
    allow_live: bool = Field(False, description="explicit opt-in for mode live (real money)")
    rest_url: str | None = None
    stream_url: str | None = None
    ws_api_url: str | None = None
    # 1Password's own variable name (no TRADER_ prefix), so the SDK's documented set-up works as is.
    op_service_account_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices(TOKEN_VARIABLE, TOKEN_VARIABLE.lower())
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            upper = value.strip().upper()
            if upper in LOG_LEVELS:
                return upper
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")

    def secret_values(self) -> list[str]:
        """Every secret's plain value (for the log redactor); unresolved op:// references excluded."""
        values: list[str] = []
        for name in SECRET_FIELDS:
            secret: SecretStr | None = getattr(self, name)
            if secret is None:
                continue
            plain = secret.get_secret_value()
            if not plain or is_reference(plain):
                continue
            values.append(plain)
            if name == "slack_webhook_url":
                # The path is the credential; a client library may log it without the host.
                path = urlsplit(plain).path
                if len(path) > 1:
                    values.append(path)
        password = database_password(self.database_url)
        if password:
            values.append(password)
        return values

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # database_url is a plain str (libraries want one) but may hold a password.
        for name, value in super().__repr_args__():
            yield name, redact_database_url(value) if name == "database_url" else value


def variable_name(field: str) -> str:
    """The environment variable of a settings field: `api_key` -> `TRADER_API_KEY`."""
    return TOKEN_VARIABLE if field == "op_service_account_token" else f"{ENV_PREFIX}{field.upper()}"


def is_reference(value: str) -> bool:
    """True for a 1Password secret reference (`op://vault/item/field`)."""
    return value.startswith("op://")


def database_password(url: str) -> str | None:
    """The password in a database URL (`scheme://user:password@host/db`), decoded; None if none."""
    if is_reference(url):
        return None
    netloc = urlsplit(url).netloc
    userinfo, at, _ = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return None
    password = userinfo.split(":", 1)[1]
    return unquote(password) or None


def redact_database_url(url: str) -> str:
    """The URL with its password (if any) replaced by `********`."""
    if is_reference(url):
        return url
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:{MASK}@{host}").geturl()
