"""Where the gateway connects: REST, market/user streams and WebSocket-API URLs for each mode.

testnet and live have fixed Binance URLs; sim runs against a simulator (the in-process one the app
starts, or a standalone one named by the `TRADER_*_URL` overrides); paper reads Binance's public
market streams and sends its orders to the local simulator. In every mode `TRADER_REST_URL`,
`TRADER_STREAM_URL` and `TRADER_WS_API_URL` (the settings `rest_url`, `stream_url`, `ws_api_url`)
win over the defaults.

Stream URLs are bases (`wss://fstream.binance.com`): the connection paths `/market/stream` and
`/private/stream` are added by `market_stream_url()` / `private_stream_url()`, exactly like the
official SDK does, because since 2026 Binance serves each kind of stream on its own path and a
wrong path connects but stays silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from config.settings import Mode
from core.errors import ConfigError

__all__ = ["VENUE_DEFAULTS", "SimulatorUrls", "VenueEndpoints", "endpoints_for", "stream_path_url"]


@dataclass(frozen=True, slots=True)
class SimulatorUrls:
    """The URLs of a running simulator (`SimulatorServer.rest_url`, `.stream_url`, `.ws_api_url`)."""

    rest_url: str
    stream_url: str
    ws_api_url: str | None = None


@dataclass(frozen=True, slots=True)
class _Defaults:
    rest_url: str
    stream_url: str
    ws_api_url: str


VENUE_DEFAULTS: dict[Mode, _Defaults] = {
    Mode.TESTNET: _Defaults(
        "https://testnet.binancefuture.com",
        "wss://fstream.binancefuture.com",
        "wss://testnet.binancefuture.com/ws-fapi/v1",
    ),
    Mode.LIVE: _Defaults(
        "https://fapi.binance.com",
        "wss://fstream.binance.com",
        "wss://ws-fapi.binance.com/ws-fapi/v1",
    ),
}


def stream_path_url(stream_url: str, path: str) -> str:
    """`<base>/<path>/stream` for a stream base URL (a trailing `/stream` on the base is tolerated)."""
    base = stream_url.rstrip("/")
    if base.endswith("/stream"):
        base = base[: -len("/stream")]
    return f"{base}/{path}/stream"


@dataclass(frozen=True, slots=True)
class VenueEndpoints:
    """Everything the gateway needs to reach one venue; the credentials stay `SecretStr`."""

    mode: Mode
    rest_url: str
    stream_url: str
    ws_api_url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None

    @property
    def has_credentials(self) -> bool:
        """True when both the key and the secret are set (signed calls possible)."""
        return bool(
            self.api_key and self.api_secret and self.api_key.get_secret_value() and
            self.api_secret.get_secret_value()
        )

    def market_stream_url(self) -> str:
        """The combined-stream URL for market data (kline, markPrice)."""
        return stream_path_url(self.stream_url, "market")

    def private_stream_url(self) -> str:
        """The combined-stream URL for user data (the listenKey is subscribed as a stream name)."""
        return stream_path_url(self.stream_url, "private")

    def __repr__(self) -> str:
        # Never the credentials, not even masked lengths.
        return (
            f"VenueEndpoints(mode={self.mode.value!r}, rest_url={self.rest_url!r}, "
            f"stream_url={self.stream_url!r}, ws_api_url={self.ws_api_url!r}, "
            f"credentials={'set' if self.has_credentials else 'none'})"
        )


class _SettingsLike(Protocol):
    mode: Mode | None
    api_key: SecretStr | None
    api_secret: SecretStr | None
    rest_url: str | None
    stream_url: str | None
    ws_api_url: str | None


def endpoints_for(
    settings: _SettingsLike,
    simulator_urls: SimulatorUrls | None = None,
    *,
    mode: Mode | None = None,
) -> VenueEndpoints:
    """The endpoints for `mode` (default: `settings.mode`), with the settings' URL overrides applied.

    sim needs either `simulator_urls` (the in-process simulator) or both `TRADER_REST_URL` and
    `TRADER_STREAM_URL`; paper needs `simulator_urls` or `TRADER_REST_URL` for its order side and
    reads Binance's live public streams unless `TRADER_STREAM_URL` says otherwise.
    Raises ConfigError (one line naming the variable and the fix) when a URL is missing.
    """
    chosen = mode or settings.mode
    if chosen is None:
        raise ConfigError("settings", "mode", "no mode given: set mode in the YAML or TRADER_MODE")
    rest = settings.rest_url
    stream = settings.stream_url
    ws_api = settings.ws_api_url
    if chosen in VENUE_DEFAULTS:
        defaults = VENUE_DEFAULTS[chosen]
        rest = rest or defaults.rest_url
        stream = stream or defaults.stream_url
        ws_api = ws_api or defaults.ws_api_url
    elif chosen is Mode.PAPER:
        # Paper trades on Binance's real public market data; orders never leave the process.
        stream = stream or VENUE_DEFAULTS[Mode.LIVE].stream_url
        if simulator_urls is not None:
            rest = rest or simulator_urls.rest_url
            ws_api = ws_api or simulator_urls.ws_api_url
    elif simulator_urls is not None:  # sim
        rest = rest or simulator_urls.rest_url
        stream = stream or simulator_urls.stream_url
        ws_api = ws_api or simulator_urls.ws_api_url
    if not rest:
        raise ConfigError(
            "environment", "TRADER_REST_URL",
            f"mode {chosen.value} has no REST URL: start the simulator or set TRADER_REST_URL",
        )
    if not stream:
        raise ConfigError(
            "environment", "TRADER_STREAM_URL",
            f"mode {chosen.value} has no stream URL: start the simulator or set TRADER_STREAM_URL",
        )
    return VenueEndpoints(
        mode=chosen,
        rest_url=rest.rstrip("/"),
        stream_url=stream.rstrip("/"),
        ws_api_url=ws_api,
        api_key=settings.api_key,
        api_secret=settings.api_secret,
    )
