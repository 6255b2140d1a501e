"""Schema migrations (Alembic), driven from code.

The daemon calls `upgrade(url)` at start-up and `python -m trader db upgrade` calls it by hand; both
are idempotent. The revisions live in database/migrations/versions (package data, beside
database/alembic.ini). To write a new revision after changing database/models.py:

    .venv/bin/alembic -c database/alembic.ini -x url=sqlite:////tmp/schema.db upgrade head
    .venv/bin/alembic -c database/alembic.ini -x url=sqlite:////tmp/schema.db revision --autogenerate -m "..."

then read the generated file; tests/database checks that the migrated schema matches the models.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import URL

from core.errors import TraderError
from database.engine import make_engine, normalize_url, redacted, sqlite_path

_HERE = Path(__file__).resolve().parent
_INI = _HERE / "alembic.ini"
_SCRIPTS = _HERE / "migrations"

# Alembic keeps the running migration in module globals (alembic.context, alembic.op): two upgrades
# in threads of one process would trample each other. Across processes the database serialises them.
_ALEMBIC_LOCK = threading.Lock()


class SchemaError(TraderError):
    """The database's schema cannot be brought to this code's revision (e.g. it is from a newer version)."""


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration for the packaged migrations and (optionally) the database at `url`.

    The URL travels as an object in `config.attributes`, never through the ini parser: its
    interpolation would break on a '%' in an encoded password, and the ini is never written.
    """
    config = Config(str(_INI))
    config.set_main_option("script_location", str(_SCRIPTS))
    if url is not None:
        config.attributes["url"] = normalize_url(url)
    return config


def upgrade(url: str | URL) -> None:
    """Bring the database at `url` to the newest revision; a no-op when it is already there.

    A SQLite file and its folder are created when missing. Each run is one transaction, so a failed
    migration leaves the database at its previous revision. Raises SchemaError (one line, no
    password) when the database is at a revision this code does not know.
    """
    with _ALEMBIC_LOCK:
        try:
            command.upgrade(alembic_config(url), "head")
        except CommandError as exc:
            raise SchemaError(
                f"cannot migrate {redacted(normalize_url(url))} to {head_revision()}: {exc}"
                " (a database written by a newer trader? run that version, or use another database)"
            ) from exc


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only possible if the versions folder was not packaged
        raise RuntimeError(f"no migrations found in {_SCRIPTS / 'versions'}")
    return head


def current_revision(url: str | URL) -> str | None:
    """The revision the database at `url` is at; None when it was never migrated.

    Asking about a SQLite file that does not exist does not create it.
    """
    path = sqlite_path(normalize_url(url))
    if path is not None and not path.exists():
        return None
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def is_up_to_date(url: str | URL) -> bool:
    """True when the database at `url` is at the newest revision."""
    return current_revision(url) == head_revision()


__all__ = ["SchemaError", "alembic_config", "current_revision", "head_revision", "is_up_to_date", "upgrade"]
