"""op:// references: resolved through an injected resolver; errors name the setting, never a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.secrets import OnePasswordResolver, default_resolver, references, resolve_secrets
from config.settings import Settings
from core.errors import SecretResolutionError
from utils.logging import redact_text


class DictResolver:
    """A stand-in for 1Password (an external service): a fixed table of references."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.asked: list[str] = []

    def resolve(self, reference: str) -> str:
        self.asked.append(reference)
        try:
            return self.table[reference]
        except KeyError:
            raise LookupError("item not found") from None


def test_references_are_resolved_and_plain_values_kept() -> None:
    settings = Settings(
        _env_file=None,
        api_key="plain-key-value",
        api_secret="op://Trading/Binance/secret",
        database_url="op://Trading/Postgres/url",
    )
    resolver = DictResolver(
        {
            "op://Trading/Binance/secret": "resolved-secret-123",
            "op://Trading/Postgres/url": "postgresql+psycopg://u:dbpass99@h/db",
        }
    )
    resolved = resolve_secrets(settings, resolver)
    assert sorted(resolver.asked) == ["op://Trading/Binance/secret", "op://Trading/Postgres/url"]
    assert resolved.api_secret is not None
    assert resolved.api_secret.get_secret_value() == "resolved-secret-123"
    assert resolved.api_key is not None and resolved.api_key.get_secret_value() == "plain-key-value"
    assert resolved.database_url == "postgresql+psycopg://u:dbpass99@h/db"
    assert {"resolved-secret-123", "dbpass99", "plain-key-value"} <= set(resolved.secret_values())
    assert references(resolved) == {}
    # The original is untouched (a copy is returned).
    assert settings.api_secret is not None
    assert settings.api_secret.get_secret_value() == "op://Trading/Binance/secret"


def test_nothing_to_resolve_needs_no_resolver() -> None:
    settings = Settings(_env_file=None, api_secret="plain-secret")
    assert resolve_secrets(settings, None) is settings


def test_unresolvable_reference_names_the_setting() -> None:
    settings = Settings(_env_file=None, api_key="known-key-value", api_secret="op://Trading/Missing/secret")
    with pytest.raises(SecretResolutionError) as info:
        resolve_secrets(settings, DictResolver({}))
    message = str(info.value)
    assert message == "TRADER_API_SECRET: cannot resolve the 1Password reference (item not found)"
    assert "known-key-value" not in message


def test_reference_without_a_token_says_what_to_set() -> None:
    settings = Settings(_env_file=None, slack_bot_token="op://Ops/Slack/token")
    with pytest.raises(SecretResolutionError) as info:
        resolve_secrets(settings, default_resolver(settings))
    assert str(info.value) == (
        "TRADER_SLACK_BOT_TOKEN: is a 1Password reference but OP_SERVICE_ACCOUNT_TOKEN is not set; "
        "set OP_SERVICE_ACCOUNT_TOKEN to a service-account token or put the value itself"
    )


def test_token_from_environment_selects_the_1password_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_resolver(Settings(_env_file=None)) is None
    monkeypatch.setenv("OP_SERVICE_ACCOUNT_TOKEN", "ops_token_value")
    settings = Settings(_env_file=None)
    assert "ops_token_value" in settings.secret_values()  # redacted from logs like any secret
    resolver = default_resolver(settings)
    assert isinstance(resolver, OnePasswordResolver)
    resolver.close()


def test_real_sdk_rejects_a_malformed_token_with_a_one_line_error() -> None:
    # The official SDK validates the token locally before any network call.
    resolver = OnePasswordResolver("not-a-service-account-token")
    settings = Settings(_env_file=None, api_secret="op://Trading/Binance/secret")
    try:
        with pytest.raises(SecretResolutionError) as info:
            resolve_secrets(settings, resolver)
    finally:
        resolver.close()
    message = str(info.value)
    assert message.startswith("TRADER_API_SECRET: cannot resolve the 1Password reference (")
    assert "token" in message
    assert "not-a-service-account-token" not in message
    assert "\n" not in message


def test_token_as_a_systemd_credential_selects_the_1password_resolver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # deploy/trader.service hands the token over with LoadCredentialEncrypted=: systemd decrypts
    # it into $CREDENTIALS_DIRECTORY, so it is in no file in clear and in no environment file.
    monkeypatch.delenv("OP_SERVICE_ACCOUNT_TOKEN", raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert default_resolver(Settings(_env_file=None)) is None  # the folder, but no credential
    (tmp_path / "op_service_account_token").write_text("not-a-service-account-token\n")
    resolver = default_resolver(Settings(_env_file=None))
    assert isinstance(resolver, OnePasswordResolver)
    settings = Settings(_env_file=None, api_secret="op://Trading/Binance/secret")
    try:
        with pytest.raises(SecretResolutionError) as info:
            resolve_secrets(settings, resolver)  # the real SDK was handed the credential's token
    finally:
        resolver.close()
    assert "token" in str(info.value) and "not-a-service-account-token" not in str(info.value)
    assert redact_text("leaked not-a-service-account-token") == "leaked ***"
