"""Is a daemon running on this database? Asked before a restore overwrites it, and by a daemon
starting on a SQLite file (`claim_sqlite`: one daemon per file; several need PostgreSQL).

Two independent witnesses, because a restore under a running daemon would lose what it writes:
the heartbeat (`trader/health.py`: fresh, or its process still alive and not `stopped`) and, for
a SQLite file on Linux, any other process that holds the file open for writing (`/proc/*/fd`).
The dashboard opens the file read-only, so it does not count.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from core.errors import DaemonFailed
from trader.health import Health, judge, pid_alive, read_heartbeat

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR


def heartbeat_owner(status_dir: Path) -> str | None:
    """Why the heartbeat in `status_dir` says a daemon runs, or None when none does."""
    document = read_heartbeat(status_dir / "heartbeat.json")
    verdict = judge(document)
    if document is None:
        return None
    who = f"pid {document.get('pid')}, instance {document.get('instance_id') or '?'}"
    if verdict.health in (Health.HEALTHY, Health.DEGRADED):
        return f"a daemon is running on it ({who}; heartbeat {verdict.age_s or 0:.0f} s old)"
    if document.get("state") != "stopped" and _alive(document.get("pid")):
        # A stale heartbeat from a process that still exists: stuck, not gone.
        return f"a daemon process still exists ({who}) though its heartbeat is stale"
    return None


def sqlite_writers(path: Path) -> list[int]:
    """Ids of other processes holding `path` open for writing; [] where /proc is not there.

    Only the main file tells: SQLite opens the -wal and -shm files read-write even for a
    read-only connection (the dashboard's), but the main file read-only."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    targets = {_real(path)}
    me = os.getpid()
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        if _writes_one_of(entry, targets):
            found.append(int(entry.name))
    return sorted(found)


def _writes_one_of(process: Path, targets: set[str]) -> bool:
    try:
        descriptors = list((process / "fd").iterdir())
    except OSError:
        return False  # gone, or another user's process we may not look into
    for fd in descriptors:
        try:
            if os.readlink(fd) not in targets:
                continue
            flags = _flags(process / "fdinfo" / fd.name)
        except OSError:
            continue
        if flags is None or flags & _WRITE_FLAGS:
            return True
    return False


def _flags(fdinfo: Path) -> int | None:
    for line in fdinfo.read_text().splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    return None


def _real(path: Path) -> str:
    return str(path.resolve())


def _alive(pid: object) -> bool:
    # This process is the command asking, never the daemon: a heartbeat naming its pid is old.
    return pid != os.getpid() and pid_alive(pid)


def running_daemon(status_dir: Path, sqlite_file: Path | None) -> str | None:
    """Why the database must not be overwritten now, or None when nothing runs on it."""
    reason = heartbeat_owner(status_dir)
    if reason is not None:
        return reason
    if sqlite_file is not None and sqlite_file.exists():
        writers = sqlite_writers(sqlite_file)
        if writers:
            return f"process {', '.join(map(str, writers))} has {sqlite_file} open for writing"
    return None


def claim_sqlite(database: Path) -> IO[bytes]:
    """Hold `<database>.daemon.lock` for this daemon's life (closing it releases the claim; the
    kernel releases it when the process dies, kill -9 included). Raises DaemonFailed with one
    line when another daemon holds it: two daemons on one SQLite file would trade the same symbols
    and overwrite each other's rows."""
    lock_path = database.with_name(database.name + ".daemon.lock")
    handle = open(lock_path, "a+b")  # noqa: SIM115 - held open until the daemon stops
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DaemonFailed(
            f"another daemon already runs on the SQLite database {database}; SQLite serves one daemon: "
            "several daemons need a shared PostgreSQL database (TRADER_DATABASE_URL=postgresql://...), "
            "each with its own instance_id (see docs/scaling.md)"
        ) from None
    return handle


__all__ = ["claim_sqlite", "heartbeat_owner", "running_daemon", "sqlite_writers"]
