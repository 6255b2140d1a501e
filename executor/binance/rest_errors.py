"""Translate the official SDK's REST exceptions into the project's typed gateway errors.

The SDK (binance_common.errors, 4.7) raises one class per HTTP status: 400 BadRequestError,
401 UnauthorizedError, 403 ForbiddenError, 404 NotFoundError, 418 RateLimitBanError, 429
TooManyRequestsError, other 4xx ClientError (Binance's code lost), 5xx ServerError (body dropped)
and NetworkError for anything `requests` raised (its message contains the full URL with the
signature, so it is never copied). Binance's error code is in `.status_code`, its message in
`.error_message`.

The rule for each class (`map_sdk_error`; Binance codes are sorted by `core.binance_codes`):

| what happened | error |
|---|---|
| connection refused / DNS / connect timeout (nothing sent) | RetryableError |
| read timeout / connection lost after sending, 5xx, -1006, -1007, -1001 | OutcomeUnknownError |
|   (the same for a query) | RetryableError |
| 429, -1003, -1015 | RateLimitedError(retry_after = Retry-After or 10 s) |
| 418 | IpBannedError(until_ms from "banned until <ms>") |
| -1021 timestamp outside recvWindow | TimestampRejectedError (a RetryableError: resync, then resend) |
| -2014, -2015, -1022, 401 | FatalError (credentials, signature, permissions) |
| -1008 overloaded | RetryableError (refused before processing) |
| any other code (filters, margin, reduce-only, duplicate id, -2013, -2011, -4xxx) | RejectedError |

Every error carries Binance's code and message (when it sent them) and never a URL or header.
"""

from __future__ import annotations

import re

import requests
from binance_common import errors as sdk
from binance_common.utils import request_not_sent

from core.binance_codes import DEFAULT_RETRY_AFTER_S, after_sending, error_for_code
from core.errors import (
    FatalError,
    GatewayError,
    IpBannedError,
    RateLimitedError,
    RejectedError,
    RetryableError,
)

__all__ = ["DEFAULT_BAN_MS", "map_sdk_error", "parse_ban_until"]

DEFAULT_BAN_MS = 120_000  # Binance's shortest ban

_BAN_UNTIL = re.compile(r"banned until (\d{10,})")


def parse_ban_until(message: str | None) -> int | None:
    """The epoch ms in Binance's 418 message ("... IP banned until 1700000000000. ..."), or None."""
    if not message:
        return None
    match = _BAN_UNTIL.search(message)
    return int(match.group(1)) if match else None


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _message(exc: BaseException, default: str) -> str:
    msg = getattr(exc, "error_message", None)
    return msg if isinstance(msg, str) and msg else default


def _network(exc: sdk.NetworkError, idempotent: bool) -> GatewayError:
    cause = exc.__cause__
    name = type(cause).__name__ if cause is not None else "NetworkError"
    if cause is not None and request_not_sent(cause):
        return RetryableError(f"connection failed before sending ({name})")
    if isinstance(cause, requests.ConnectionError) and not isinstance(cause, requests.Timeout):
        # Refused/reset while connecting surfaces as ConnectionError without NewConnectionError on
        # some platforms; "Connection aborted" (RemoteDisconnected) means the request went out.
        text = str(cause.args[0]) if cause.args else ""
        if "Connection refused" in text or "Name or service not known" in text:
            return RetryableError(f"connection failed before sending ({name})")
    return after_sending(idempotent, f"no answer after sending ({name})")


def map_sdk_error(exc: BaseException, *, idempotent: bool, now_ms: int) -> GatewayError:
    """The typed GatewayError for an exception raised by the SDK's REST client.

    `idempotent` says whether sending the request twice is harmless (queries); `now_ms` is the
    wall-clock time used when a 418 carries no ban time.
    """
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, sdk.RateLimitBanError):
        msg = _message(exc, "IP banned")
        until = parse_ban_until(msg)
        if until is None:
            seconds = exc.retry_after
            until = now_ms + (seconds * 1000 if seconds else DEFAULT_BAN_MS)
        return IpBannedError(msg, _code(exc), until_ms=until)
    if isinstance(exc, sdk.TooManyRequestsError):
        retry_after = float(exc.retry_after) if exc.retry_after else DEFAULT_RETRY_AFTER_S
        return RateLimitedError(_message(exc, "too many requests"), _code(exc), retry_after=retry_after)
    if isinstance(exc, sdk.ServerError):
        status = _code(exc)  # for ServerError the SDK puts the HTTP status here
        return after_sending(idempotent, f"server error {status}", None, status)
    if isinstance(exc, sdk.NetworkError):
        return _network(exc, idempotent)
    if isinstance(exc, sdk.UnauthorizedError):
        code = _code(exc)
        return FatalError(_message(exc, "unauthorized"), code, http_status=401)
    statuses: dict[type[BaseException], int] = {
        sdk.BadRequestError: 400, sdk.ForbiddenError: 403, sdk.NotFoundError: 404,
    }
    for cls, status in statuses.items():
        if isinstance(exc, cls):
            code = _code(exc)
            msg = _message(exc, f"HTTP {status}")
            if code is None and status == 403:
                # A 403 without a Binance body is the WAF refusing this client: no retry helps.
                return FatalError(f"forbidden: {msg}", None, http_status=403)
            return error_for_code(code, msg, idempotent=idempotent, http_status=status)
    if isinstance(exc, sdk.ClientError):
        return RejectedError(_message(exc, "client error"), None, http_status=None)
    if isinstance(exc, sdk.RequiredError):
        return RejectedError(f"missing parameter: {exc.field}")
    if isinstance(exc, TimeoutError):
        return after_sending(idempotent, "no answer within the timeout")
    # An unreadable 2xx body or anything else unexpected: the request did reach the venue.
    return after_sending(idempotent, f"unexpected response ({type(exc).__name__})")
