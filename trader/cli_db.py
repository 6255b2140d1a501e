"""`python -m trader db backup [--to DIR] [--keep N]` and `db restore FILE`.

Both act on TRADER_DATABASE_URL. SQLite: `trader/backup.py` (the online backup API, safe while the
daemon writes). PostgreSQL: `trader/backup_postgres.py` (pg_dump / pg_restore). A restore refuses
while a daemon runs on the database (`trader/db_owner.py`), saves what it replaces, and migrates
the restored database to this code's schema. Exit codes: 0 done, 1 refused or failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from config.loader import load_settings
from config.settings import PROJECT_ROOT, Settings, redact_database_url
from core.errors import TraderError
from trader.backup import BackupError, BackupResult, Contents, inspect
from trader.cli_types import whole_number

DEFAULT_KEEP = 14
_count = whole_number("a whole number", 0, bound="must be >= 0")
_POSTGRES_FOLDER = PROJECT_ROOT / "var" / "backups"


def add_commands(commands: Any) -> None:
    """Add `backup` and `restore` to the `db` command group's subparsers."""
    backup = commands.add_parser(
        "backup",
        help="copy the database while the daemon runs, verified, named by time",
        description=(
            "Back up TRADER_DATABASE_URL. SQLite: a consistent copy through SQLite's online backup "
            "API (safe while the daemon writes), checked with PRAGMA integrity_check, named "
            "<database>-<UTC time>.db. PostgreSQL: pg_dump's custom format, checked with "
            "pg_restore --list (needs the PostgreSQL client tools). The oldest backups beyond "
            "--keep are removed."
        ),
    )
    backup.add_argument(
        "--to",
        metavar="DIR",
        type=Path,
        default=None,
        help="folder for the backups (default: backups/ beside a SQLite file; var/backups for PostgreSQL)",
    )
    backup.add_argument(
        "--keep",
        metavar="N",
        type=_count,
        default=DEFAULT_KEEP,
        help=f"keep the newest N backups of this database in that folder (default {DEFAULT_KEEP}; "
        "0 keeps all)",
    )
    backup.set_defaults(handler=backup_command)
    restore = commands.add_parser(
        "restore",
        help="put a backup in place of the database (refused while a daemon runs on it)",
        description=(
            "Restore FILE (a backup made by `db backup`) into TRADER_DATABASE_URL. Refused while a "
            "daemon runs on that database (its heartbeat is fresh, or a process has the SQLite file "
            "open for writing). The database it replaces is saved first; the restored one is checked "
            "and migrated to the latest schema. Start the daemon afterwards: it reconciles with the "
            "venue before trading."
        ),
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup to restore (.db or .dump)")
    restore.add_argument(
        "--save-to",
        metavar="DIR",
        type=Path,
        default=None,
        help="where to save the database it replaces (default: beside a SQLite file; var/backups "
        "for PostgreSQL)",
    )
    restore.set_defaults(handler=restore_command)


def _settings() -> Settings:
    from config.secrets import default_resolver, resolve_secrets
    from utils.logging import configure_logging

    settings = load_settings()
    settings = resolve_secrets(settings, default_resolver(settings))
    # Alembic logs through stdlib logging: to the log file only, redacted; the console gets our lines.
    configure_logging(settings.log_level, settings.log_dir, secrets=settings.secret_values(), console=False)
    return settings


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MiB" if n >= 1_048_576 else f"{n / 1024:.0f} KiB"


def backup_command(args: argparse.Namespace) -> int:
    """Take one verified backup; print where it is and what it holds."""
    settings = _settings()
    console = Console(soft_wrap=True, highlight=False)
    from database.engine import sqlite_path  # SQLAlchemy only for a db command, not every CLI start

    database = sqlite_path(settings.database_url)
    try:
        with console.status("backing up the database…"):
            result = _backup(settings, database, args.to, args.keep)
    except BackupError as exc:
        return _fail(str(exc))
    held = f", {result.contents.summary()}" if result.contents is not None else ", archive listed ok"
    console.print(f"backup {result.path}: {_size(result.size)}{held} ({result.seconds:.1f} s)")
    if result.removed:
        names = ", ".join(path.name for path in result.removed)
        console.print(f"removed {len(result.removed)} older backup(s), keeping {args.keep}: {names}")
    return 0


def _backup(settings: Settings, database: Path | None, to: Path | None, keep: int) -> BackupResult:
    if database is not None:
        from trader.backup import backup_sqlite

        return backup_sqlite(database, to or database.parent / "backups", keep=keep)
    url = settings.database_url
    if not url.startswith(("postgresql", "postgres")):
        raise BackupError(f"{redact_database_url(url)}: only SQLite files and PostgreSQL can be backed up")
    from trader.backup_postgres import backup_postgres

    return backup_postgres(url, to or _POSTGRES_FOLDER, keep=keep)


def restore_command(args: argparse.Namespace) -> int:
    """Restore a backup unless a daemon runs on the database; migrate it to head."""
    from database.migrate import upgrade
    from trader.db_owner import running_daemon

    settings = _settings()
    backup: Path = args.file
    if not backup.is_file():
        print(f"{backup}: no such file", file=sys.stderr)
        return 2
    from database.engine import sqlite_path  # SQLAlchemy only for a db command, not every CLI start

    database = sqlite_path(settings.database_url)
    shown = redact_database_url(settings.database_url)
    busy = running_daemon(settings.status_dir, database)
    if busy is not None:
        return _fail(
            f"not restored: {busy}. Stop it first (Ctrl-C, or systemctl stop trader), then run this again"
        )
    console = Console(soft_wrap=True, highlight=False)
    try:
        with console.status("restoring…"):
            if database is not None:
                from trader.backup import restore_sqlite

                result = restore_sqlite(backup, database, save_to=args.save_to)
                if result.saved is not None:
                    console.print(f"the database it replaced is saved as {result.saved}")
            else:
                _restore_postgres(console, settings, backup, args.save_to or _POSTGRES_FOLDER)
            upgrade(settings.database_url)
    except (BackupError, TraderError) as exc:
        return _fail(str(exc))
    after = _contents(database)
    console.print(f"restored {backup} into {shown}" + (f": {after.summary()}" if after else ""))
    console.print("migrated to the latest schema. Start the daemon: it reconciles with the venue first.")
    return 0


def _restore_postgres(console: Console, settings: Settings, backup: Path, save_to: Path) -> None:
    from trader.backup_postgres import backup_postgres, restore_postgres

    saved = backup_postgres(settings.database_url, save_to, keep=0)
    console.print(f"the database it replaced is saved as {saved.path}")
    restore_postgres(backup, settings.database_url)


def _contents(database: Path | None) -> Contents | None:
    return inspect(database) if database is not None else None


def _fail(line: str) -> int:
    print(f"error: {line}", file=sys.stderr)
    return 1


__all__ = ["DEFAULT_KEEP", "add_commands", "backup_command", "restore_command"]
