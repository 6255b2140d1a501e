"""The registry resolves the YAML's strategy names and refuses strategies it could not validate."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from core.events import Candle
from strategies.base import Output, Strategy
from strategies.registry import available, get_strategy, register
from strategies.vwap import VwapStrategy
from strategies.vwap_params import VwapParams

CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"


def test_vwap_is_registered() -> None:
    assert get_strategy("vwap") is VwapStrategy
    assert "vwap" in available()


def test_unknown_name_is_a_key_error_that_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"available: .*vwap"):
        get_strategy("vwapp")


def test_shipped_config_params_validate_and_defaults_fill_the_rest() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    for entry in config["symbols"]:
        params = get_strategy(entry["strategy"]).Params.model_validate(entry.get("params") or {})
        assert isinstance(params, VwapParams)
    ada = VwapParams.model_validate({"band_k": 2.0})
    assert ada.exit_band_k == 3.0 and ada.adx_period == 14 and ada.adx_max == 20
    assert ada.min_candles_after_anchor == 30 and ada.anchor == "day"


class _Loose(BaseModel):
    band_k: float = 2.0  # no extra="forbid": a YAML typo would be silently ignored


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    band_k: float  # no default


class _Base(Strategy):
    def on_candle(self, candle: Candle) -> list[Output]:
        return []


def test_register_refuses_params_that_ignore_unknown_keys() -> None:
    class Loose(_Base):
        name: ClassVar[str] = "loose_test"
        Params = _Loose

    with pytest.raises(TypeError, match="extra='forbid'"):
        register(Loose)
    assert "loose_test" not in available()


def test_register_refuses_params_without_defaults_and_taken_names() -> None:
    class NoDefaults(_Base):
        name: ClassVar[str] = "nodefaults_test"
        Params = _Strict

    with pytest.raises(TypeError, match="default"):
        register(NoDefaults)

    class Impostor(_Base):
        name: ClassVar[str] = "vwap"
        Params = VwapParams

    with pytest.raises(TypeError, match="taken"):
        register(Impostor)
    assert get_strategy("vwap") is VwapStrategy


def test_a_strategy_rejects_the_params_of_another() -> None:
    class Other(_Base):
        name: ClassVar[str] = "other_test"
        Params = VwapParams

    with pytest.raises(TypeError):
        VwapStrategy("WLDUSDT", _Loose(), order_notional=Decimal(1))
    assert isinstance(Other("WLDUSDT", None, order_notional=Decimal(1)).params, VwapParams)
