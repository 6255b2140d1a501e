"""Backups of a PostgreSQL database with the server's own tools: `pg_dump` and `pg_restore`.

A dump in pg_dump's custom format is one consistent snapshot (pg_dump reads in one repeatable-read
transaction) taken while the daemon writes; it is checked by listing it with `pg_restore --list`.
The password travels in PGPASSWORD, never on a command line that `ps` shows. Without the tools the
command says what to install, and what to use instead (a managed database's snapshots).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL

from database.engine import normalize_url
from trader.backup import BackupError, BackupResult, backup_name, prune

DUMP_SUFFIX = ".dump"
INSTALL_HINT = (
    "install the PostgreSQL client tools of the server's major version (Debian/Ubuntu: "
    "`apt-get install postgresql-client`), or rely on the server's own backups instead "
    "(on Amazon RDS: automated backups with point-in-time recovery, and manual snapshots)"
)


def tool(name: str) -> str:
    """The path of `name` (pg_dump, pg_restore), or BackupError saying what to do without it."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found on PATH: {INSTALL_HINT}")
    return found


def libpq_target(url: str | URL) -> tuple[str, dict[str, str]]:
    """(a libpq connection URI without the password, the environment that carries it)."""
    parsed = normalize_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {result.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return result.stdout


def backup_postgres(url: str | URL, folder: Path, *, keep: int, now: datetime | None = None) -> BackupResult:
    """pg_dump the database at `url` into `folder`, check the archive, prune to `keep`."""
    pg_dump, pg_restore = tool("pg_dump"), tool("pg_restore")
    target, env = libpq_target(url)
    name = normalize_url(url).database or "postgres"
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / backup_name(name, DUMP_SUFFIX, now)
    partial = final.with_name(final.name + ".partial")
    try:
        _run([pg_dump, "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={target}"],
             env, "pg_dump")  # fmt: skip
        listing = _run([pg_restore, "--list", str(partial)], env, "pg_restore --list")
        if "TABLE DATA" not in listing:
            raise BackupError(f"{final.name}: the dump holds no table data")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    removed = prune(folder, name, DUMP_SUFFIX, keep)
    return BackupResult(final, final.stat().st_size, None, time.monotonic() - started, removed)


def restore_postgres(dump: Path, url: str | URL) -> None:
    """Replace the database's tables with the dump's, in one transaction (all or nothing)."""
    if not dump.is_file():
        raise BackupError(f"{dump}: no such file")
    pg_restore = tool("pg_restore")
    target, env = libpq_target(url)
    _run([pg_restore, "--list", str(dump)], env, f"{dump}: not a pg_dump archive; pg_restore --list")
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={target}", str(dump)], env, "pg_restore")  # fmt: skip


__all__ = ["DUMP_SUFFIX", "backup_postgres", "libpq_target", "restore_postgres", "tool"]
