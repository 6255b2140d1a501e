"""Per-mode endpoints and the TRADER_*_URL overrides."""

from __future__ import annotations

import pytest

from config.settings import Mode, Settings
from core.errors import ConfigError
from executor.binance.endpoints import SimulatorUrls, endpoints_for

SIM = SimulatorUrls("http://127.0.0.1:5000", "ws://127.0.0.1:5000", "ws://127.0.0.1:5000/ws-fapi/v1")


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_testnet_and_live_defaults() -> None:
    testnet = endpoints_for(settings(mode=Mode.TESTNET))
    assert (testnet.rest_url, testnet.stream_url) == ("https://testnet.binancefuture.com",
                                                      "wss://fstream.binancefuture.com")
    live = endpoints_for(settings(mode=Mode.LIVE, api_key="k" * 64, api_secret="s" * 64))
    assert live.rest_url == "https://fapi.binance.com"
    assert live.market_stream_url() == "wss://fstream.binance.com/market/stream"
    assert live.private_stream_url() == "wss://fstream.binance.com/private/stream"
    assert live.has_credentials and "s" * 64 not in repr(live) and "k" * 64 not in repr(live)


def test_overrides_win_in_every_mode() -> None:
    for mode in Mode:
        venue = endpoints_for(settings(mode=mode, rest_url="http://h:1/", stream_url="ws://h:1",
                                       ws_api_url="ws://h:1/ws-fapi/v1"), SIM)
        assert (venue.rest_url, venue.stream_url, venue.ws_api_url) == ("http://h:1", "ws://h:1", "ws://h:1/ws-fapi/v1")


def test_sim_uses_the_simulator_and_paper_reads_binance_streams() -> None:
    sim = endpoints_for(settings(mode=Mode.SIM), SIM)
    assert (sim.rest_url, sim.stream_url) == (SIM.rest_url, SIM.stream_url)
    paper = endpoints_for(settings(mode=Mode.PAPER), SIM)
    assert paper.rest_url == SIM.rest_url and paper.stream_url == "wss://fstream.binance.com"
    assert endpoints_for(settings(), SIM, mode=Mode.SIM).mode is Mode.SIM


def test_sim_without_a_simulator_or_urls_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="TRADER_REST_URL"):
        endpoints_for(settings(mode=Mode.SIM))


def test_a_stream_url_ending_in_stream_is_tolerated() -> None:
    venue = endpoints_for(settings(mode=Mode.SIM, rest_url="http://h", stream_url="ws://h:1/stream"))
    assert venue.market_stream_url() == "ws://h:1/market/stream"
