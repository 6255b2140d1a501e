"""listenKeys of the one simulated account: create, keep alive, close, expire.

Like Binance: POST returns the current key while it is valid (a new random one otherwise), PUT
extends it by 60 minutes, DELETE closes it, and a key that was not kept alive expires 60 minutes
after its last extension. Expiry runs on the WALL clock (a client keeps keys alive with real timers);
the server pushes `listenKeyExpired` to the sockets that subscribed it (see `take_expired`).
"""

from __future__ import annotations

import secrets
import string

from simulator.errors import SimError
from utils.clock import Clock

__all__ = ["LISTEN_KEY_VALIDITY_MS", "ListenKeys"]

LISTEN_KEY_VALIDITY_MS = 60 * 60 * 1000
_ALPHABET = string.ascii_letters + string.digits


def _new_key() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(64))


def _missing() -> SimError:
    return SimError(-1125, "This listenKey does not exist.")


class ListenKeys:
    """The listenKey lifecycle of one account; at most one key is valid at a time."""

    def __init__(self, wall_clock: Clock, validity_ms: int = LISTEN_KEY_VALIDITY_MS) -> None:
        self._wall = wall_clock
        self._validity_ms = validity_ms
        self._current: str | None = None
        self._expires_at = 0
        self._expired: list[str] = []  # expired but not yet announced on the user stream

    @property
    def current(self) -> str | None:
        """The valid key, if any (expiring it first if its time has come)."""
        self._expire_if_due()
        return self._current

    def is_valid(self, key: str) -> bool:
        """True while `key` is the account's live key."""
        return self.current == key

    def create(self) -> str:
        """POST /fapi/v1/listenKey: the live key (extended), or a new one."""
        self._expire_if_due()
        if self._current is None:
            self._current = _new_key()
        self._expires_at = self._wall.now_ms() + self._validity_ms
        return self._current

    def keepalive(self, key: str | None = None) -> str:
        """PUT /fapi/v1/listenKey: extend the live key; -1125 when there is none (or `key` differs)."""
        self._expire_if_due()
        if self._current is None or (key and key != self._current):
            raise _missing()
        self._expires_at = self._wall.now_ms() + self._validity_ms
        return self._current

    def close(self, key: str | None = None) -> None:
        """DELETE /fapi/v1/listenKey: the key stops delivering events (no expiry event)."""
        self._expire_if_due()
        if self._current is None or (key and key != self._current):
            raise _missing()
        self._current = None

    def expire_now(self) -> str | None:
        """Fault: expire the live key at once; returns it (None if there was none)."""
        key = self._current
        if key is not None:
            self._expired.append(key)
            self._current = None
        return key

    def take_expired(self) -> list[str]:
        """Keys that expired since the last call (to announce with listenKeyExpired)."""
        self._expire_if_due()
        expired, self._expired = self._expired, []
        return expired

    def _expire_if_due(self) -> None:
        if self._current is not None and self._wall.now_ms() >= self._expires_at:
            self.expire_now()
