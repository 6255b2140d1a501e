"""Which configured symbols this daemon may trade: all of them on SQLite (one daemon per file),
those whose PostgreSQL advisory lock it holds when several daemons share one database.

Start-up claims the SQLite file (a second daemon on it exits with one line naming PostgreSQL) or
opens the dedicated lock connection and takes every free symbol's lock, before the venue is asked
anything. Once the risk gate exists (`attach`), a symbol this daemon does not hold is blocked
there: entries, and exits too while another daemon holds it (its position is not ours), shown as
"owned by <instance>" in the heartbeat's `entries_blocked_by` and in `status`. Every
`engine.lease_check_interval_s` a lease check asks the server which locks this connection still
holds and takes the free ones (a dead daemon's connection dropped, its locks freed); a symbol
taken after start-up is reconciled with the venue before it trades. When the connection is lost,
every symbol is blocked (its ownership can no longer be proven) until the locks are taken again,
and each is then reconciled first: another daemon may have traded it meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import IO, Any

import psycopg
import structlog

from config.models import TraderConfig
from core.reconciliation import ReconcileResult
from database.advisory_locks import SymbolLocks, is_postgres
from database.engine import sqlite_path
from executor.orders.manager import OrderManager
from executor.risk.entry_pauses import EntryPauses
from trader.db_owner import claim_sqlite
from trader.heartbeat import Heartbeat

_log = structlog.get_logger(__name__)

Reconcile = Callable[[set[str]], Awaitable[Any]]  # symbols taken over -> a ReconcileReport
Spawn = Callable[[str, Coroutine[Any, Any, Any]], Any]
TAKEN_OVER = "taken over; reconciling it with the venue before trading"


class SymbolOwnership:
    """This daemon's symbols; see the module docstring. Build with `claim`."""

    def __init__(self, instance_id: str, locks: SymbolLocks | None, sqlite_claim: IO[bytes] | None) -> None:
        self.instance_id = instance_id
        self._locks = locks
        self._sqlite_claim = sqlite_claim
        self._symbols: Callable[[], list[str]] = list
        self._interval: Callable[[], float] = lambda: 10.0
        self._pauses: EntryPauses | None = None
        self._reconcile: Reconcile | None = None
        self.owned: set[str] = set()
        self.others: dict[str, str] = {}  # symbol -> the instance holding it
        self._pending: set[str] = set()  # taken after start-up, not yet reconciled
        self.problem: str | None = None  # the lock connection's last error
        self.checks = 0
        self.takeovers = 0

    @classmethod
    async def claim(cls, database_url: str, config: TraderConfig, instance_id: str) -> SymbolOwnership:
        """SQLite: claim the file (raises DaemonFailed if another daemon has it). PostgreSQL: open
        the lock connection and take what is free (a server that cannot be reached leaves every
        symbol blocked; the lease check retries)."""
        return await cls.claim_symbols(database_url, [s.symbol for s in config.symbols], instance_id)

    @classmethod
    async def claim_symbols(cls, database_url: str, symbols: list[str], instance_id: str) -> SymbolOwnership:
        """`claim` for a list of symbols."""
        if not is_postgres(database_url):
            path = sqlite_path(database_url)
            return cls(instance_id, None, claim_sqlite(path) if path is not None else None)
        ownership = cls(instance_id, SymbolLocks(database_url, instance_id), None)
        await ownership.check(symbols)
        return ownership

    def attach(
        self,
        pauses: EntryPauses,
        orders: OrderManager,
        heartbeat: Heartbeat,
        config: Callable[[], TraderConfig],
        spawn: Spawn,
    ) -> None:
        """Block what is not ours at the risk gate now, report in the heartbeat, start the lease
        check. The start-up reconciliation covers the symbols owned so far."""
        heartbeat.register("ownership", self.status)
        orders.set_scope(self.in_scope)  # before its first await: the order manager's load sees it
        self.bind(pauses, orders.take_over, lambda: [s.symbol for s in config().symbols])
        self._interval = lambda: float(config().engine.lease_check_interval_s)
        if self._locks is not None:
            spawn("ownership", self.run())

    def bind(self, pauses: EntryPauses, reconcile: Reconcile, symbols: Callable[[], list[str]]) -> None:
        """From now on hold back at `pauses` what is not ours, and `reconcile(symbols)` symbols
        taken over before they trade."""
        self._pauses, self._reconcile, self._symbols = pauses, reconcile, symbols
        self._apply(symbols())

    async def run(self) -> None:
        """The lease check, every `engine.lease_check_interval_s` (re-read: live edits apply)."""
        while True:
            await asyncio.sleep(self._interval())
            await self.check(self._symbols())

    async def check(self, symbols: list[str]) -> None:
        """One lease check over the configured `symbols` (see the module docstring)."""
        locks = self._locks
        if locks is None:
            return
        self.checks += 1
        try:
            if not locks.connected:
                await locks.connect()
            for symbol in sorted(self.owned - set(symbols)):
                await locks.release(symbol)  # left the configuration: free it for another daemon
            ours, theirs = await locks.holders(symbols)
            free = [s for s in symbols if s not in ours and s not in theirs]
            if free:
                for symbol in free:
                    await locks.try_take(symbol)
                ours, theirs = await locks.holders(symbols)  # a race lost to another daemon shows here
        except (psycopg.Error, OSError) as exc:
            await self._connection_lost(f"{type(exc).__name__}: {exc}".strip())
            return
        if self.problem is not None:
            _log.info("ownership.connection_back", instance=self.instance_id)
        self.problem = None
        for symbol in sorted(ours - self.owned):
            _log.info("ownership.taken", symbol=symbol, instance=self.instance_id)
            if self._pauses is not None:  # after start-up: reconcile before trading it
                self._pending.add(symbol)
                self.takeovers += 1
        for symbol in sorted(set(theirs) - set(self.others)):
            _log.warning(
                "ownership.skipped", symbol=symbol, owner=theirs[symbol], reason=f"owned by {theirs[symbol]}"
            )
        self.owned, self.others = ours, theirs
        self._pending &= ours
        self._apply(symbols)
        if self._pending and self._reconcile is not None:
            report = await self._reconcile(set(self._pending))
            if getattr(report, "result", None) is not ReconcileResult.FAILED:
                self._pending.clear()
            self._apply(symbols)

    async def _connection_lost(self, problem: str) -> None:
        if self.problem is None:
            _log.error("ownership.connection_lost", instance=self.instance_id, error=problem,
                       unproven=sorted(self.owned))
        self.problem = problem
        self._pending |= self.owned  # when taken again: another daemon may have traded them
        self.owned, self.others = set(), {}
        if self._locks is not None:
            await self._locks.close()
        self._apply(self._symbols())

    def _apply(self, symbols: list[str]) -> None:
        """Tell the risk gate which symbols are held back, and why."""
        pauses = self._pauses
        if pauses is None or self._locks is None:
            return
        for symbol in symbols:
            if symbol in self._pending and symbol in self.owned:
                pauses.set_not_owned(symbol, TAKEN_OVER)
            elif symbol in self.owned:
                pauses.set_not_owned(symbol, None)
            elif symbol in self.others:
                pauses.set_not_owned(symbol, f"owned by {self.others[symbol]}", exits_too=True)
            elif self.problem is not None:
                lost = f"ownership unproven: the lock connection was lost ({self.problem})"
                pauses.set_not_owned(symbol, lost)
            else:
                pauses.set_not_owned(symbol, "ownership unproven: its lock is not taken yet")

    def in_scope(self, symbol: str) -> bool:
        """False while another daemon holds `symbol`: its orders and fills are that daemon's to
        track. Unproven ownership stays in scope: our own orders' fills must still be booked."""
        return symbol not in self.others

    def status(self) -> dict[str, Any]:
        """The heartbeat's `ownership` section."""
        return {
            "instance_id": self.instance_id,
            "backend": "postgresql" if self._locks is not None else "sqlite",
            "owned": sorted(self.owned) if self._locks is not None else "all configured symbols",
            "owned_by_others": dict(sorted(self.others.items())),
            "reconciling": sorted(self._pending & self.owned),
            "problem": self.problem,
            "checks": self.checks,
            "takeovers": self.takeovers,
            "checked_at": int(time.time() * 1000),
        }

    async def close(self) -> None:
        """Release every lock (the lock connection closes) and the SQLite claim."""
        if self._locks is not None:
            await self._locks.close()
        claim, self._sqlite_claim = self._sqlite_claim, None
        if claim is not None:
            claim.close()


__all__ = ["SymbolOwnership"]
