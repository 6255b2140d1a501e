"""The project's one exception hierarchy.

    TraderError
     ├── ConfigError               bad configuration: one line naming the file, key and fix (exit 2)
     ├── SecretResolutionError     a secret reference (op://...) could not be resolved
     ├── GatewayError              anything the exchange said or failed to say; carries code and msg
     │    ├── RetryableError       the request certainly had no effect: safe to send again
     │    │    ├── RateLimitedError    429: wait `retry_after` seconds first
     │    │    └── TimestampRejectedError  -1021: resync the clock offset, then send again
     │    ├── OutcomeUnknownError  the request may have taken effect (timeout after sending, 5xx,
     │    │                        -1006, -1007): query before anything else, never resend blindly
     │    ├── RejectedError        the venue refused it for a reason that a resend cannot fix
     │    └── FatalError           credentials, signature, IP ban: stop and tell a human
     │         └── IpBannedError   418: no REST call before `until_ms`
     ├── OrderValidationError      an order that cannot be made valid locally; never sent
     ├── InvalidTransition         an order state change the state machine does not allow
     ├── StrategyError             a strategy hook raised; carries the symbol
     └── DaemonFailed              the daemon stopped because of a failure (exit code 1)

Messages never contain secrets: gateway errors carry Binance's code and message only.
"""

from __future__ import annotations


class TraderError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(TraderError):
    """Invalid configuration, rendered as `file: key.path: problem` on one line."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(self.line())

    def line(self) -> str:
        """The one-line message shown to the user."""
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: {self.problem}"


class SecretResolutionError(TraderError):
    """A secret reference could not be resolved; the message names the setting, not the value."""


class GatewayError(TraderError):
    """Base of every exchange failure; `code` and `msg` are Binance's when it sent them."""

    def __init__(self, msg: str, code: int | None = None, *, http_status: int | None = None) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        super().__init__(f"{code}: {msg}" if code is not None else msg)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, msg={self.msg!r}, http_status={self.http_status!r})"


class RetryableError(GatewayError):
    """The request had no effect (never sent, refused before processing); safe to resend."""


class RateLimitedError(RetryableError):
    """HTTP 429 or a local rate-limit wait that was too long: retry after `retry_after` seconds."""

    def __init__(
        self, msg: str, code: int | None = None, *, retry_after: float, http_status: int | None = 429
    ) -> None:
        super().__init__(msg, code, http_status=http_status)
        self.retry_after = retry_after


class TimestampRejectedError(RetryableError):
    """-1021: the venue refused the request's timestamp; the gateway resyncs the clock offset."""


class OutcomeUnknownError(GatewayError):
    """The request may or may not have taken effect: resolve by querying, never by resending."""


class RejectedError(GatewayError):
    """The venue refused the request (filters, margin, reduce-only, duplicate id); do not retry."""


class FatalError(GatewayError):
    """A failure no retry can fix (bad key, bad signature, ban): halt trading and alert."""


class IpBannedError(FatalError):
    """HTTP 418: the IP is banned until `until_ms` (epoch ms); no REST call before then."""

    def __init__(self, msg: str, code: int | None = None, *, until_ms: int) -> None:
        super().__init__(msg, code, http_status=418)
        self.until_ms = until_ms


class OrderValidationError(TraderError):
    """An order that breaks an exchange filter and cannot be rounded into a valid one."""

    def __init__(self, symbol: str, reason: str) -> None:
        self.symbol = symbol
        self.reason = reason
        super().__init__(f"{symbol}: {reason}")


class InvalidTransition(TraderError):
    """An order state change that the transition table does not allow, e.g. `FILLED -> NEW`."""


class StrategyError(TraderError):
    """A strategy hook raised; the symbol says which task it came from."""

    def __init__(self, symbol: str, strategy: str, cause: BaseException) -> None:
        self.symbol = symbol
        self.strategy = strategy
        super().__init__(f"{strategy} on {symbol}: {type(cause).__name__}: {cause}")


class DaemonFailed(TraderError):
    """The daemon shut down cleanly, but because something failed; the message says what."""
