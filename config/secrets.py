"""1Password references in settings: `TRADER_API_SECRET=op://vault/item/field`.

References are resolved once at start-up, before the event loop runs, by a `SecretResolver`. The
real one uses the official `onepassword-sdk` with a service-account token (OP_SERVICE_ACCOUNT_TOKEN);
tests pass their own resolver. Errors name the setting and the reason, never a secret value.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from config.settings import SECRET_FIELDS, TOKEN_VARIABLE, Settings, is_reference, variable_name
from core import __version__
from core.errors import SecretResolutionError
from utils.logging import add_secret

# The token as a systemd credential (deploy/trader.service: LoadCredentialEncrypted=), so that it
# is in no file in clear: systemd decrypts it into $CREDENTIALS_DIRECTORY/<this name> for the unit.
CREDENTIAL_NAME = "op_service_account_token"

# Fields that may hold a reference: the secrets (but the token itself) and the database URL (it may
# carry a password).
REFERENCE_FIELDS: tuple[str, ...] = (
    *(name for name in SECRET_FIELDS if name != "op_service_account_token"),
    "database_url",
)


class SecretResolver(Protocol):
    """Turns a secret reference into the secret's value; raises any exception when it cannot."""

    def resolve(self, reference: str) -> str:
        """The value behind `reference` (e.g. `op://vault/item/field`)."""
        ...


class OnePasswordResolver:
    """Resolves `op://` references with the official 1Password SDK and a service-account token.

    The SDK is async; this class runs it on its own private event loop, so call it before the
    daemon's loop starts (or from a worker thread). Authenticates once, on first use.
    """

    def __init__(self, token: str) -> None:
        self._token = token
        self._runner: asyncio.Runner | None = None
        self._client: Any = None

    def resolve(self, reference: str) -> str:
        """Resolve one reference; the SDK's own exception propagates on failure."""
        if self._runner is None:
            self._runner = asyncio.Runner()
        value = self._runner.run(self._resolve(reference))
        if not isinstance(value, str):
            raise TypeError(f"1Password returned {type(value).__name__}, not text")
        return value

    async def _resolve(self, reference: str) -> Any:
        from onepassword import Client  # imported here: its native core is only needed with a token

        if self._client is None:
            self._client = await Client.authenticate(
                auth=self._token, integration_name="trader", integration_version=__version__
            )
        return await self._client.secrets.resolve(reference)

    def close(self) -> None:
        """Release the private event loop."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        self._client = None


def default_resolver(settings: Settings | None = None) -> OnePasswordResolver | None:
    """The 1Password resolver when OP_SERVICE_ACCOUNT_TOKEN is set (environment or .env) or handed
    over as a systemd credential, else None."""
    token = ""
    if settings is not None and settings.op_service_account_token is not None:
        token = settings.op_service_account_token.get_secret_value().strip()
    token = token or os.environ.get(TOKEN_VARIABLE, "").strip() or credential_token()
    return OnePasswordResolver(token) if token else None


def credential_token() -> str:
    """The token in `$CREDENTIALS_DIRECTORY/op_service_account_token` (systemd), or ""."""
    folder = os.environ.get("CREDENTIALS_DIRECTORY", "").strip()
    if not folder:
        return ""
    try:
        token = (Path(folder) / CREDENTIAL_NAME).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    if token:
        add_secret(token)  # masked in every log line, like a token from the environment
    return token


def references(settings: Settings) -> dict[str, str]:
    """The settings that hold an unresolved reference: field name -> reference."""
    found: dict[str, str] = {}
    for name in REFERENCE_FIELDS:
        value = _plain(getattr(settings, name))
        if value is not None and is_reference(value):
            found[name] = value
    return found


def resolve_secrets(settings: Settings, resolver: SecretResolver | None) -> Settings:
    """A copy of `settings` with every `op://` reference replaced by its value.

    Raises SecretResolutionError naming the setting (`TRADER_API_SECRET: ...`) when a reference
    cannot be resolved, or when there is a reference but no resolver (no token set).
    """
    pending = references(settings)
    if not pending:
        return settings
    if resolver is None:
        names = ", ".join(variable_name(name) for name in pending)
        raise SecretResolutionError(
            f"{names}: is a 1Password reference but {TOKEN_VARIABLE} is not set; "
            f"set {TOKEN_VARIABLE} to a service-account token or put the value itself"
        )
    update: dict[str, Any] = {}
    for name, reference in pending.items():
        try:
            value = resolver.resolve(reference)
        except Exception as exc:
            raise SecretResolutionError(
                f"{variable_name(name)}: cannot resolve the 1Password reference ({_reason(exc)})"
            ) from None  # the SDK's exception may carry context we do not control
        if not value:
            raise SecretResolutionError(f"{variable_name(name)}: the 1Password reference resolved to nothing")
        update[name] = value if name == "database_url" else SecretStr(value)
    return settings.model_copy(update=update)


def _plain(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value if isinstance(value, str) else None


def _reason(exc: Exception) -> str:
    """A short reason: the exception's first line, bounded (it never holds the resolved value)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
