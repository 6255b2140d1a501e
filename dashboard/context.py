"""What a page render needs: the settings the daemon uses, the database (or why there is none), the heartbeat.

The database URL and the status folder come from config.settings (`TRADER_DATABASE_URL`,
`TRADER_STATUS_DIR`, `.env`), exactly as the daemon reads them, so the dashboard started next to
`make run` finds its database and heartbeat without being told. A 1Password reference in the URL is
resolved once per server process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from config.loader import load_settings
from config.secrets import default_resolver, references, resolve_secrets
from config.settings import database_password, redact_database_url
from core.errors import ConfigError, SecretResolutionError
from dashboard.heartbeat_view import Health, assess, read_heartbeat
from dashboard.readonly import NoDatabase
from dashboard.source import Source


@dataclass(frozen=True)
class Context:
    """One render's inputs; `source` is None when the database cannot be read (`problem` says why)."""

    url_shown: str
    heartbeat_path: Path
    health: Health
    source: Source | None
    problem: str | None
    hint: str | None = None


@st.cache_resource(show_spinner=False)
def _resolved_url(reference: str) -> str:
    settings = load_settings()
    resolver = default_resolver(settings)
    try:
        return resolve_secrets(settings, resolver).database_url
    finally:
        if resolver is not None:
            resolver.close()


def _database_url() -> tuple[str, Path]:
    settings = load_settings()
    url = settings.database_url
    if "database_url" in references(settings):
        url = _resolved_url(url)
    return url, settings.status_dir / "heartbeat.json"


def load_context() -> Context:
    """Settings, heartbeat and database for this render; problems become messages, never tracebacks."""
    try:
        url, heartbeat_path = _database_url()
    except (ConfigError, SecretResolutionError) as exc:
        message = exc.line() if isinstance(exc, ConfigError) else str(exc)
        missing = assess(None, 0, "settings could not be read")
        return Context("?", Path("status/heartbeat.json"), missing, None, message)
    document, why = read_heartbeat(heartbeat_path)
    health = assess(document, int(time.time() * 1000), why)
    shown = redact_database_url(url)
    try:
        source = Source(url)
    except NoDatabase as exc:
        hint = (
            "Start the daemon (`make run`, the simulator): it creates the database and fills it as it trades."
        )
        return Context(shown, heartbeat_path, health, None, f"No database yet at {exc.path}.", hint)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        return Context(
            shown, heartbeat_path, health, None, f"The database {shown} cannot be read: {_one_line(exc, url)}"
        )
    if not source.schema.migrated:
        hint = "Run `python -m trader db upgrade` or start the daemon (`make run`): it creates the tables."
        return Context(shown, heartbeat_path, health, None, f"The database {shown} has no tables yet.", hint)
    return Context(shown, heartbeat_path, health, source, None)


def _one_line(exc: BaseException, url: str) -> str:
    text = " ".join(str(exc).split("\n")[0].split())
    password = database_password(url)
    if password:
        text = text.replace(password, "********")
    return f"{type(exc).__name__}: {text[:300]}"


__all__ = ["Context", "load_context"]
