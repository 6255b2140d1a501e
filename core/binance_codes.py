"""Binance's error codes by name, and what each kind means for the caller.

The codes are Binance's own (REST `code`, WebSocket API `error.code`); the sets sort them by what the
caller must do, the way `core.errors` sorts exceptions:

| set | error raised | the caller |
|---|---|---|
| FATAL | FatalError | halts: credentials, signature or permissions are wrong |
| TIMESTAMP | TimestampRejectedError | resyncs the clock offset, then sends again |
| RATE_LIMITED | RateLimitedError | waits (Retry-After, else 10 s) |
| OUTCOME_UNKNOWN | OutcomeUnknownError (a query: RetryableError) | queries before anything else |
| RETRYABLE | RetryableError | sends again: refused before processing |
| anything else | RejectedError | does not retry: filters, margin, reduce-only, duplicate id |

`error_for_code` is the one place that applies this table; the Binance adapter (SDK errors) and the
in-process venue (the simulator's errors) both call it.
"""

from __future__ import annotations

from enum import IntEnum

from core.errors import (
    FatalError,
    GatewayError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    TimestampRejectedError,
)

DEFAULT_RETRY_AFTER_S = 10.0


class BinanceCode(IntEnum):
    """The Binance USD-M error codes the daemon reads or the simulator sends."""

    UNKNOWN = -1000
    DISCONNECTED = -1001  # internal error; the request may have been processed
    UNAUTHORIZED = -1002
    TOO_MANY_REQUESTS = -1003
    UNEXPECTED_RESPONSE = -1006  # the outcome is unknown
    TIMEOUT = -1007  # backend timeout: the outcome is unknown
    SERVER_BUSY = -1008  # refused before processing
    TOO_MANY_ORDERS = -1015
    TIMESTAMP_OUTSIDE_RECV_WINDOW = -1021
    INVALID_SIGNATURE = -1022
    ILLEGAL_CHARS = -1100
    MANDATORY_PARAM_MISSING = -1102
    INVALID_ORDER_TYPE = -1116
    INVALID_SIDE = -1117
    BAD_PRECISION = -1111
    BAD_SYMBOL = -1121
    LISTEN_KEY_MISSING = -1125
    INVALID_RECV_WINDOW = -1131
    CANCEL_REJECTED = -2011  # cancel of an order the venue does not have open ("Unknown order sent.")
    NO_SUCH_ORDER = -2013  # query of an order the venue never saw ("Order does not exist.")
    BAD_API_KEY_FORMAT = -2014
    REJECTED_MBX_KEY = -2015  # invalid API key, IP or permissions
    MARGIN_INSUFFICIENT = -2019
    REDUCE_ONLY_REJECTED = -2022
    MAX_OPEN_ORDERS = -2025
    PRICE_NOT_TICK_MULTIPLE = -4014
    INVALID_CLIENT_ORDER_ID = -4015
    QTY_NOT_STEP_MULTIPLE = -4023
    INVALID_LEVERAGE = -4028
    POSITION_SIDE_MISMATCH = -4061
    DUPLICATE_CLIENT_ORDER_ID = -4116  # an OPEN order already has this client id
    MIN_NOTIONAL = -4164
    POST_ONLY_WOULD_TAKE = -5022


FATAL = frozenset(
    {
        BinanceCode.REJECTED_MBX_KEY,
        BinanceCode.BAD_API_KEY_FORMAT,
        BinanceCode.INVALID_SIGNATURE,
        BinanceCode.UNAUTHORIZED,
    }
)
OUTCOME_UNKNOWN = frozenset({BinanceCode.UNEXPECTED_RESPONSE, BinanceCode.TIMEOUT, BinanceCode.DISCONNECTED})
RATE_LIMITED = frozenset({BinanceCode.TOO_MANY_REQUESTS, BinanceCode.TOO_MANY_ORDERS})
RETRYABLE = frozenset({BinanceCode.SERVER_BUSY})


def after_sending(
    idempotent: bool, msg: str, code: int | None = None, http_status: int | None = None
) -> GatewayError:
    """A failure after the request left: a query can be asked again, anything else may have happened."""
    if idempotent:
        return RetryableError(msg, code, http_status=http_status)
    return OutcomeUnknownError(msg, code, http_status=http_status)


def error_for_code(code: int | None, msg: str, *, idempotent: bool, http_status: int | None) -> GatewayError:
    """The typed error for a Binance error code (see the module's table)."""
    if code in FATAL:
        return FatalError(msg, code, http_status=http_status)
    if code == BinanceCode.TIMESTAMP_OUTSIDE_RECV_WINDOW:
        return TimestampRejectedError(msg, code, http_status=http_status)
    if code in RATE_LIMITED:
        return RateLimitedError(msg, code, retry_after=DEFAULT_RETRY_AFTER_S, http_status=http_status)
    if code in OUTCOME_UNKNOWN:
        return after_sending(idempotent, msg, code, http_status)
    if code in RETRYABLE:
        return RetryableError(msg, code, http_status=http_status)
    return RejectedError(msg, code, http_status=http_status)
