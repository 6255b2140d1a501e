"""Authentication of REST requests exactly as Binance USD-M futures does it.

Three security levels exist (Binance's names): NONE (public market data), USER_STREAM (API key only:
the listenKey endpoints) and SIGNED (TRADE / USER_DATA: API key, HMAC-SHA256 signature, timestamp).

The signature is checked over the exact bytes the client sent, not over a re-encoding of the parsed
parameters: a client that signs `price=0.30000000000000004` and sends something else must fail, and
percent-encoding differences must not make a correct client fail.

Timestamps are compared with the WALL clock (plus the injected skew), never with the simulated clock:
every client signs with its local time (docs/architecture.md, "Time").
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from enum import Enum
from hashlib import sha256

from simulator.errors import SimError
from utils.clock import Clock

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "MAX_RECV_WINDOW_MS",
    "Authenticator",
    "Security",
    "sign",
]

# The fake credentials the shipped config uses in sim mode (SIM_API_KEY / SIM_API_SECRET override
# them in the CLI). They only ever open the local simulator, so they can live in the source.
DEFAULT_API_KEY = "simKeyXk6bQ3nV9rT2wZ8pL4mA7sD1fG5hJ0cE3uY6iO9tR2eW5qN8vB1xC4zM7aS0"
DEFAULT_API_SECRET = "simSecretR8tY2uI5oP9aS3dF6gH0jK4lZ7xC1vB5nM8qW2eT6yU0iO3pA7sD9fG1"

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
MAX_AHEAD_MS = 1000

# Binance API keys are 64 alphanumerics; anything with other characters is "format invalid".
_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{1,128}$")


class Security(Enum):
    """What a route requires of the caller."""

    NONE = "NONE"
    USER_STREAM = "USER_STREAM"
    SIGNED = "SIGNED"


def sign(secret: str, payload: str) -> str:
    """HMAC-SHA256 hex of `payload`, as Binance and the SDK compute it."""
    return hmac.new(secret.encode(), payload.encode(), sha256).hexdigest()


def _without_signature(raw: str) -> tuple[str, str | None]:
    """Split `a=1&signature=xx&b=2` into (`a=1&b=2`, `xx`), keeping every other byte as sent."""
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def _illegal(name: str) -> str:
    return f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."


class Authenticator:
    """Checks API keys, signatures and timestamps for one simulated account."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        wall_clock: Clock,
        skew_ms: Callable[[], int] = lambda: 0,
    ) -> None:
        self.api_key = api_key
        self._secret = api_secret
        self._wall = wall_clock
        self._skew_ms = skew_ms

    def server_time_ms(self) -> int:
        """The server's idea of now for authentication: wall clock plus any injected skew."""
        return self._wall.now_ms() + self._skew_ms()

    def check_key(self, header: str | None) -> None:
        """-2014 for a missing or malformed X-MBX-APIKEY, -2015 for an unknown one (HTTP 401)."""
        if not header or not _KEY_FORMAT.match(header):
            raise SimError(-2014, "API-key format invalid.", 401)
        if not hmac.compare_digest(header, self.api_key):
            raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    def check_signed(self, raw_query: str, raw_body: str, params: dict[str, str]) -> None:
        """Verify signature, then timestamp/recvWindow, of a SIGNED request (key already checked).

        `params` are the merged, decoded parameters (query and form body). The signed payload is the
        query string without `signature` followed by the body (Binance's `totalParams`); the SDK puts
        everything in the query string, so the query alone is also accepted.
        """
        query, sig_in_query = _without_signature(raw_query)
        body, sig_in_body = _without_signature(raw_body)
        signature = sig_in_query if sig_in_query is not None else sig_in_body
        if not signature:
            raise SimError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        timestamp = params.get("timestamp")
        if not timestamp:
            raise SimError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        candidates = {query + body, query} if body else {query}
        if not any(hmac.compare_digest(sign(self._secret, c), signature.lower()) for c in candidates):
            raise SimError(-1022, "Signature for this request is not valid.")
        self._check_timestamp(timestamp, params.get("recvWindow"))

    def _check_timestamp(self, timestamp: str, recv_window: str | None) -> None:
        try:
            ts = int(timestamp)
        except ValueError:
            raise SimError(-1100, _illegal("timestamp")) from None
        window = DEFAULT_RECV_WINDOW_MS
        if recv_window is not None:
            try:
                window = int(recv_window)
            except ValueError:
                raise SimError(-1100, _illegal("recvWindow")) from None
            if window <= 0 or window > MAX_RECV_WINDOW_MS:
                raise SimError(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW_MS}.")
        now = self.server_time_ms()
        if ts - now > MAX_AHEAD_MS:
            raise SimError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - ts > window:
            raise SimError(-1021, "Timestamp for this request is outside of the recvWindow.")
