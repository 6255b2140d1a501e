"""What the daemon checks before and while it runs, so a broken machine is one clear line, not a
stream of errors: folders it must write to, a venue that is briefly down at start-up, and the
database file being deleted or replaced under it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from config.settings import Settings, variable_name
from core.errors import ConfigError, DaemonFailed, FatalError, GatewayError, RateLimitedError
from database.engine import sqlite_path

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_I = TypeVar("_I")
# Per-symbol start-up calls running together: enough to hide the round trips and the database
# thread's turns, few enough that the weight budget (not a burst) paces them.
STARTUP_AT_ONCE = 16

STARTUP_RETRY_S = 60.0  # how long start-up keeps asking a venue that answers 5xx or times out


# --- folders -------------------------------------------------------------------------------------


def _writable(folder: Path) -> str | None:
    """None when a file can be created in `folder` (created if missing), else why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def check_writable_folders(settings: Settings) -> None:
    """Every folder the daemon writes to must take a file; ConfigError (exit 2) naming the first
    that does not, the setting that chose it and the fix."""
    folders: list[tuple[str, Path]] = [("status_dir", settings.status_dir), ("log_dir", settings.log_dir)]
    database = sqlite_path(settings.database_url)
    if database is not None:
        folders.append(("database_url", database.parent))
    for field, folder in folders:
        problem = _writable(folder)
        if problem is not None:
            raise ConfigError(
                "environment",
                variable_name(field),
                f"{folder} is not writable ({problem}): fix its permissions or point {variable_name(field)} "
                "at a folder this user can write",
            )


# --- start-up calls --------------------------------------------------------------------------------


async def with_startup_retries(
    call: Callable[[], Awaitable[_T]], what: str, *, budget_s: float = STARTUP_RETRY_S
) -> _T:
    """`call()` retried on failures a later attempt can fix (5xx, timeouts, 429) with backoff, for at
    most `budget_s`; then DaemonFailed with one line. A FatalError (keys, ban) is not retried."""
    deadline = time.monotonic() + budget_s
    delay = 0.5
    while True:
        try:
            return await call()
        except FatalError:
            raise
        except GatewayError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DaemonFailed(f"{what}: the venue did not answer for {budget_s:g} s ({exc})") from None
            wait = max(delay, float(exc.retry_after)) if isinstance(exc, RateLimitedError) else delay
            wait = min(wait, left)
            _log.warning("daemon.startup_retry", what=what, error=str(exc), retry_in_s=round(wait, 2))
            await asyncio.sleep(wait)
            delay = min(delay * 2, 10.0)


async def for_each_at_once(
    items: Iterable[_I], call: Callable[[_I], Awaitable[object]], *, at_once: int = STARTUP_AT_ONCE
) -> None:
    """`call(item)` for every item, at most `at_once` running together; the first failure cancels
    the rest and is raised. Start-up work per symbol (500 warm-ups one after the other took minutes)
    runs a few at a time: REST calls still wait for the shared weight budget (the gateway's limiter)."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:  # one shared iterator: each item is taken by exactly one worker
            await call(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, at_once)):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # what one symbol's start-up raised, as before


# --- the database file ----------------------------------------------------------------------------


class DatabaseFileWatch:
    """Notices a SQLite file deleted or replaced while the daemon runs (its identity changes).

    Writes would go on into the unlinked file and be lost at exit, so the daemon stops opening
    positions and exits with one line; `save_copy` first copies what the open connection still sees
    into a new file beside the old path (SQLite's VACUUM INTO), so nothing written is lost.
    """

    def __init__(self, database_url: str) -> None:
        self.path = sqlite_path(database_url)
        self._identity = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def problem(self) -> str | None:
        """Why the file is no longer the one the daemon opened, or None."""
        if self.path is None or self._identity is None:
            return None
        now = self._stat()
        if now is None:
            return f"the database file {self.path} was deleted while the daemon was running"
        if now != self._identity:
            return f"the database file {self.path} was replaced while the daemon was running"
        return None

    def save_copy(self, session: Session) -> Path | None:
        """On the database thread: copy what the open connection still sees into
        `<path>.recovered-<time>` (SQLite's VACUUM INTO); None when it could not."""
        if self.path is None:
            return None
        target = self.path.with_name(f"{self.path.name}.recovered-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            session.connection().exec_driver_sql("VACUUM INTO ?", (str(target),))
        except (SQLAlchemyError, OSError) as exc:
            _log.error("database.recovery_copy_failed", target=str(target), error=str(exc))
            return None
        return target
