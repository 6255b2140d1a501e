"""Slack destinations on slack-sdk: an incoming webhook, or a bot token and a channel.

`post(message, timeout_s)` is synchronous (slack-sdk's clients are) and never raises: it returns a
`Delivery` that says delivered, rate limited (with Slack's Retry-After), worth retrying (5xx,
timeout, network) or failed for good (a bad webhook, invalid_auth, channel_not_found...), with a
one-line reason that never holds the webhook's path or the token. The router calls it on its own
thread; `alerts test` and `send_now` call it directly.

slack-sdk's own retries are switched off (the router decides when to send again) and so is its
logging (its debug lines carry the webhook URL; the router logs the outcome instead).
"""

from __future__ import annotations

import http.client
import logging
import socket
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookClient

from alerts.render import Rendered
from config.settings import Settings, is_reference, variable_name
from core.errors import ConfigError

SLACK_API_URL = "https://slack.com/api/"
DEFAULT_RETRY_AFTER_S = 5.0
_WEBHOOK = variable_name("slack_webhook_url")
_TOKEN = variable_name("slack_bot_token")
_CHANNEL = variable_name("slack_channel")

_quiet = logging.getLogger("alerts.slack_sdk")
_quiet.setLevel(logging.CRITICAL)
_quiet.disabled = True

_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})


class Outcome(StrEnum):
    """What one post achieved."""

    DELIVERED = "delivered"
    RATE_LIMITED = "rate_limited"  # 429: wait retry_after_s
    RETRYABLE = "retryable"  # 5xx, timeout, network: send again later
    FAILED = "failed"  # Slack refused it for a reason a resend cannot fix


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one post and its one-line reason (empty when delivered)."""

    outcome: Outcome
    reason: str = ""
    retry_after_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DELIVERED


DELIVERED = Delivery(Outcome.DELIVERED)


class Destination(Protocol):
    """Where messages go; `describe` is safe to print (no secret)."""

    @property
    def describe(self) -> str: ...

    def post(self, message: Rendered, timeout_s: float) -> Delivery: ...


class WebhookDestination:
    """An incoming webhook (TRADER_SLACK_WEBHOOK_URL); the URL's path is the credential."""

    def __init__(self, url: str) -> None:
        self._client = WebhookClient(url, retry_handlers=[], logger=_quiet)
        self._where = _host_of(url)

    @property
    def describe(self) -> str:
        return f"Slack incoming webhook at {self._where} ({_WEBHOOK})"

    def post(self, message: Rendered, timeout_s: float) -> Delivery:
        self._client.timeout = timeout_s  # type: ignore[assignment]  # urllib takes a float
        try:
            response = self._client.send(text=message.text, blocks=message.blocks)
        except SlackRequestError:
            return Delivery(Outcome.FAILED, f"bad webhook: {_WEBHOOK} is not an http(s) URL")
        except Exception as exc:
            return _network(exc, self._where, timeout_s)
        status, body = response.status_code, (response.body or "").strip()[:80]
        if status == 200:
            return DELIVERED
        if status == 429:
            return _rate_limited(response.headers)
        if status >= 500:
            return Delivery(Outcome.RETRYABLE, f"Slack answered HTTP {status} {body}".rstrip())
        return Delivery(Outcome.FAILED, f"bad webhook: Slack answered {status} {body} (check {_WEBHOOK})")


class BotDestination:
    """A bot token (TRADER_SLACK_BOT_TOKEN, scope chat:write) posting to TRADER_SLACK_CHANNEL."""

    def __init__(self, token: str, channel: str, *, base_url: str | None = None) -> None:
        url = base_url or SLACK_API_URL
        self._client = WebClient(
            token=token, base_url=url if url.endswith("/") else url + "/", retry_handlers=[], logger=_quiet
        )
        self._channel = channel
        self._where = _host_of(url)

    @property
    def describe(self) -> str:
        return f"Slack bot posting to {self._channel} via {self._where} ({_TOKEN}, {_CHANNEL})"

    def post(self, message: Rendered, timeout_s: float) -> Delivery:
        self._client.timeout = timeout_s  # type: ignore[assignment]
        try:
            self._client.chat_postMessage(channel=self._channel, text=message.text, blocks=message.blocks)
        except SlackApiError as exc:
            return self._refused(exc)
        except SlackRequestError as exc:
            return Delivery(Outcome.FAILED, f"bad request: {type(exc).__name__}")
        except Exception as exc:
            return _network(exc, self._where, timeout_s)
        return DELIVERED

    def _refused(self, exc: SlackApiError) -> Delivery:
        response = exc.response
        status = int(response.status_code)
        data = response.data
        error = str(data.get("error", "")) if isinstance(data, dict) else ""
        if status == 429 or error == "ratelimited":
            return _rate_limited(response.headers)
        if status >= 500:
            return Delivery(Outcome.RETRYABLE, f"Slack answered HTTP {status}")
        if error in _AUTH_ERRORS:
            return Delivery(Outcome.FAILED, f"{error}: Slack refused {_TOKEN} (check the token)")
        if error == "channel_not_found":
            return Delivery(
                Outcome.FAILED,
                f"{status} channel_not_found: {_CHANNEL}={self._channel} does not exist or the bot "
                "cannot see it (check the name, invite the bot)",
            )
        if error == "not_in_channel":
            return Delivery(Outcome.FAILED, f"not_in_channel: invite the bot to {self._channel}")
        if error == "missing_scope":
            return Delivery(Outcome.FAILED, "missing_scope: give the bot the chat:write scope, reinstall it")
        return Delivery(Outcome.FAILED, f"Slack answered {status} {error or 'an error'}")


def destination_from(settings: Settings) -> Destination | None:
    """The configured destination, or None (alerts are then recorded and logged only).

    A webhook wins over a bot. A bot token without a channel is a configuration error (exit 2):
    the user believes alerts are on. Call with resolved settings (no op:// reference left).
    """
    webhook = settings.slack_webhook_url.get_secret_value() if settings.slack_webhook_url else ""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    if webhook:
        if is_reference(webhook):
            raise ConfigError("environment", _WEBHOOK, "is a 1Password reference that was not resolved")
        return WebhookDestination(webhook)
    if token:
        if is_reference(token):
            raise ConfigError("environment", _TOKEN, "is a 1Password reference that was not resolved")
        if not settings.slack_channel:
            raise ConfigError(
                "environment", _CHANNEL, f"is not set but {_TOKEN} is: name the channel, e.g. #trading"
            )
        return BotDestination(token, settings.slack_channel, base_url=settings.slack_api_url)
    return None


NO_DESTINATION = (
    f"none: alerts are recorded and logged only (set {_WEBHOOK}, or {_TOKEN} and {_CHANNEL})"
)


def describe_destination(settings: Settings) -> str:
    """One line for `config check`: where alerts go (references need not be resolved)."""
    webhook = settings.slack_webhook_url.get_secret_value() if settings.slack_webhook_url else ""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    if webhook:
        where = "(1Password reference)" if is_reference(webhook) else f"at {_host_of(webhook)}"
        ignored = f"; {_TOKEN} is ignored" if token else ""
        return f"Slack incoming webhook {where} ({_WEBHOOK}){ignored}"
    if token:
        if not settings.slack_channel:
            raise ConfigError(
                "environment", _CHANNEL, f"is not set but {_TOKEN} is: name the channel, e.g. #trading"
            )
        return f"Slack bot posting to {settings.slack_channel} ({_TOKEN}, {_CHANNEL})"
    return NO_DESTINATION


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or "an invalid URL"


def _rate_limited(headers: Any) -> Delivery:
    value = None
    if headers is not None:
        value = headers.get("Retry-After") or headers.get("retry-after")
        if isinstance(value, list):
            value = value[0] if value else None
    try:
        wait = max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER_S
    except (TypeError, ValueError):
        wait = DEFAULT_RETRY_AFTER_S
    return Delivery(Outcome.RATE_LIMITED, f"429 rate limited: Retry-After {wait:g} s", retry_after_s=wait)


def _network(exc: BaseException, where: str, timeout_s: float) -> Delivery:
    """A failure before Slack answered: timeouts and network errors are worth retrying."""
    reason: Any = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(reason, TimeoutError | socket.timeout):
        return Delivery(Outcome.RETRYABLE, f"network: no answer from {where} within {timeout_s:g} s")
    if isinstance(reason, ConnectionRefusedError):
        return Delivery(Outcome.RETRYABLE, f"network: {where} refused the connection")
    if isinstance(reason, http.client.HTTPException | ConnectionError):
        kind = type(reason).__name__
        return Delivery(Outcome.RETRYABLE, f"network: {where} closed the connection ({kind})")
    if isinstance(reason, socket.gaierror):
        return Delivery(Outcome.RETRYABLE, f"network: cannot resolve {where}")
    if isinstance(reason, OSError):
        return Delivery(Outcome.RETRYABLE, f"network: cannot reach {where} ({type(reason).__name__})")
    return Delivery(Outcome.RETRYABLE, f"error talking to {where}: {type(exc).__name__}")


__all__ = [
    "DELIVERED",
    "NO_DESTINATION",
    "BotDestination",
    "Delivery",
    "Destination",
    "Outcome",
    "WebhookDestination",
    "describe_destination",
    "destination_from",
]
