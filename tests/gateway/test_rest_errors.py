"""The SDK-exception → typed-error table, with real SDK and `requests` exception objects."""

from __future__ import annotations

import pytest
import requests
import urllib3
from binance_common import errors as sdk

from core.errors import (
    FatalError,
    GatewayError,
    IpBannedError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    TimestampRejectedError,
)
from executor.binance.rest_errors import map_sdk_error, parse_ban_until

NOW = 1_700_000_000_000


def network_error(cause: Exception) -> sdk.NetworkError:
    """What the SDK raises: NetworkError(str(e)) from e — its text holds the signed URL."""
    try:
        try:
            raise cause
        except requests.RequestException as exc:
            raise sdk.NetworkError(f"Network error: {exc}") from exc
    except sdk.NetworkError as err:
        return err


SIGNED_URL = "http://127.0.0.1:1/fapi/v1/order?symbol=X&timestamp=1&signature=deadbeefcafe"


def refused() -> requests.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, SIGNED_URL, reason))  # type: ignore[arg-type]


Bad, Unauth, Unknown, net = sdk.BadRequestError, sdk.UnauthorizedError, OutcomeUnknownError, network_error

TABLE: list[tuple[str, Exception, bool, type[GatewayError], int | None]] = [
    ("refused before sending, order", net(refused()), False, RetryableError, None),
    ("connect timeout, order", net(requests.ConnectTimeout(SIGNED_URL)), False, RetryableError, None),
    ("read timeout, order", net(requests.ReadTimeout(SIGNED_URL)), False, Unknown, None),
    ("read timeout, query", net(requests.ReadTimeout(SIGNED_URL)), True, RetryableError, None),
    ("connection aborted, order", net(requests.ConnectionError("Connection aborted.")), False,
     Unknown, None),
    ("503, order", sdk.ServerError("Server error: 503", 503), False, Unknown, None),
    ("503, query", sdk.ServerError("Server error: 503", 503), True, RetryableError, None),
    ("-1006", Bad("Unexpected response", -1006), False, Unknown, -1006),
    ("-1007", Bad("Timeout waiting for response", -1007), False, Unknown, -1007),
    ("-1003", Bad("Too many requests", -1003), False, RateLimitedError, -1003),
    ("-1021", Bad("Timestamp outside recvWindow", -1021), False, TimestampRejectedError, -1021),
    ("-1022", Bad("Signature for this request is not valid.", -1022), True, FatalError, -1022),
    ("-2014", Unauth("API-key format invalid.", -2014), True, FatalError, -2014),
    ("-2015", Unauth("Invalid API-key, IP, or permissions", -2015), True, FatalError, -2015),
    ("-2013", Bad("Order does not exist.", -2013), True, RejectedError, -2013),
    ("-2011", Bad("Unknown order sent.", -2011), False, RejectedError, -2011),
    ("-2019 margin", Bad("Margin is insufficient.", -2019), False, RejectedError, -2019),
    ("-2022 reduce-only", Bad("ReduceOnly Order is rejected.", -2022), False, RejectedError,
     -2022),
    ("-4116 duplicate", Bad("ClientOrderId is duplicated.", -4116), False, RejectedError, -4116),
    ("-4164 notional", Bad("notional too small", -4164), False, RejectedError, -4164),
    ("-1111 precision", Bad("Precision is over the maximum", -1111), False, RejectedError, -1111),
    ("403 WAF", sdk.ForbiddenError(None, None), True, FatalError, None),
]


@pytest.mark.parametrize(("case", "exc", "idempotent", "expected", "code"), TABLE, ids=[t[0] for t in TABLE])
def test_mapping(
    case: str, exc: Exception, idempotent: bool, expected: type[GatewayError], code: int | None
) -> None:
    error = map_sdk_error(exc, idempotent=idempotent, now_ms=NOW)
    assert type(error) is expected
    assert error.code == code
    text = f"{error} {error!r}"
    assert "signature" not in text and "deadbeef" not in text and "127.0.0.1" not in text


def test_429_carries_retry_after_from_the_header_or_a_default() -> None:
    limited = sdk.TooManyRequestsError("Too many requests", -1003, retry_after=7)
    error = map_sdk_error(limited, idempotent=True, now_ms=NOW)
    assert isinstance(error, RateLimitedError) and error.retry_after == 7 and error.code == -1003
    error = map_sdk_error(sdk.TooManyRequestsError(None, None, None), idempotent=True, now_ms=NOW)
    assert isinstance(error, RateLimitedError) and error.retry_after > 0


def test_418_ban_time_from_the_message_else_retry_after() -> None:
    msg = "Way too many requests; IP banned until 1700000123456. Please use the websocket for live updates."
    error = map_sdk_error(sdk.RateLimitBanError(msg, -1003, retry_after=100), idempotent=True, now_ms=NOW)
    assert isinstance(error, IpBannedError) and error.until_ms == 1700000123456 and error.code == -1003
    error = map_sdk_error(sdk.RateLimitBanError(None, None, retry_after=30), idempotent=True, now_ms=NOW)
    assert isinstance(error, IpBannedError) and error.until_ms == NOW + 30_000
    assert parse_ban_until("nothing here") is None


def test_a_timestamp_rejection_is_retryable() -> None:
    assert issubclass(TimestampRejectedError, RetryableError)
