"""Live configuration edits: notice a changed YAML file (or a SIGHUP), validate it, hand it on.

The file is checked once a second (stat + content hash on a thread, never on the loop). A SIGHUP
forces a check at once. An invalid file is rejected with the same one-line message as
`python -m trader config check`, logged, and the running configuration stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from config.loader import load_config
from config.models import TraderConfig
from core.errors import ConfigError

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SymbolChanges:
    """What a new configuration changes about the traded symbols."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]  # strategy params, order size or risk limits differ

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def diff_symbols(old: TraderConfig, new: TraderConfig) -> SymbolChanges:
    """Compare the symbol lists of two configurations."""
    old_by_symbol = {s.symbol: s for s in old.symbols}
    new_by_symbol = {s.symbol: s for s in new.symbols}
    added = tuple(s for s in new_by_symbol if s not in old_by_symbol)
    removed = tuple(s for s in old_by_symbol if s not in new_by_symbol)
    changed = tuple(
        s
        for s in new_by_symbol
        if s in old_by_symbol
        and (old_by_symbol[s] != new_by_symbol[s] or old.risk_for(s) != new.risk_for(s))
    )
    return SymbolChanges(added, removed, changed)


def _fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ConfigWatcher:
    """Watches the config file and calls `apply(new_config)` with every valid change."""

    def __init__(
        self,
        path: Path,
        apply: Callable[[TraderConfig], Awaitable[None]],
        *,
        interval_s: float = 1.0,
    ) -> None:
        self._path = path
        self._apply = apply
        self._interval_s = interval_s
        self._fingerprint: str | None = None
        self._hup = asyncio.Event()
        self.reloads = 0
        self.rejected = 0
        self.last_error: str | None = None

    def install_sighup(self) -> None:
        """Check the file at once on SIGHUP (where the platform has it)."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._hup.set)

    def remove_sighup(self) -> None:
        """Undo `install_sighup`."""
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    async def prime(self) -> None:
        """Remember the current file's content as the running configuration's."""
        self._fingerprint = await asyncio.to_thread(_fingerprint, self._path)

    async def check(self, *, forced: bool = False) -> bool:
        """Reload if the file changed (or when forced); True when a new config was applied."""
        fingerprint = await asyncio.to_thread(_fingerprint, self._path)
        if fingerprint is None:
            self.last_error = f"{self._path}: cannot read the file"
            _log.error("config.reload_rejected", error=self.last_error)
            return False
        if fingerprint == self._fingerprint and not forced:
            return False
        self._fingerprint = fingerprint
        try:
            new_config = await asyncio.to_thread(load_config, self._path)
        except ConfigError as exc:
            self.rejected += 1
            self.last_error = exc.line()
            _log.error("config.reload_rejected", error=exc.line(), kept="running configuration")
            return False
        try:
            await self._apply(new_config)  # may still refuse it (a symbol the venue does not trade)
        except ConfigError as exc:
            self.rejected += 1
            self.last_error = exc.line()
            _log.error("config.reload_rejected", error=exc.line(), kept="running configuration")
            return False
        self.last_error = None
        self.reloads += 1
        _log.info("config.reloaded", path=str(self._path))
        return True

    async def run(self) -> None:
        """Poll the file (and wait for SIGHUP) until cancelled."""
        if self._fingerprint is None:
            await self.prime()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hup.wait(), timeout=self._interval_s)
            forced = self._hup.is_set()
            self._hup.clear()
            await self.check(forced=forced)

    def status(self) -> dict[str, object]:
        """Counters for the heartbeat."""
        return {"reloads": self.reloads, "rejected": self.rejected, "last_error": self.last_error}
