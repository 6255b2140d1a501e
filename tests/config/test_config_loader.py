"""load_config: the shipped file loads; each class of mistake is one line naming file, key and problem."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from config.loader import check_credentials, check_live_opt_in, effective_mode, load_config
from config.settings import PROJECT_ROOT, Mode, Settings
from core.errors import ConfigError
from strategies.vwap_params import VwapParams

SHIPPED = PROJECT_ROOT / "config" / "config.yaml"
BASE = SHIPPED.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_line(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    line = info.value.line()
    assert "\n" not in line
    assert line.startswith(f"{path}: ")
    return line.removeprefix(f"{path}: ")


def replace(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def test_shipped_config_loads_with_exact_decimals_and_merged_risk() -> None:
    config = load_config(SHIPPED)
    assert config.mode is Mode.SIM
    assert [s.symbol for s in config.symbols] == ["WLDUSDT", "ADAUSDT"]
    assert config.risk.allocation == Decimal("0.4")  # exact, not 0.40000000000000002
    assert config.engine.leverage == 2
    assert config.simulator.data == PROJECT_ROOT / "data"
    ada = config.risk_for("ADAUSDT")
    assert ada.max_exposure_usdt == Decimal(1000)  # the symbol's override
    assert ada.daily_loss_limit_usdt == Decimal(300)  # the global value
    assert config.risk_for("WLDUSDT").max_exposure_usdt == Decimal(1500)
    # A symbol no longer configured is still governed by the global limits.
    assert config.risk_for("BTCUSDT") == config.risk


def test_strategy_params_are_validated_with_defaults_filled_in() -> None:
    config = load_config(SHIPPED)
    ada = config.symbols[1].validated_params
    assert isinstance(ada, VwapParams)
    assert ada.band_k == 2.0
    assert ada.adx_period == VwapParams().adx_period  # not in the YAML: the default


def test_override_may_set_null_daily_quantity_only(tmp_path: Path) -> None:
    text = replace("    risk:\n      max_exposure_usdt: 1000", "    risk:\n      max_daily_quantity: 12.5")
    config = load_config(write(tmp_path, text))
    assert config.risk_for("ADAUSDT").max_daily_quantity == Decimal("12.5")
    assert config.risk_for("WLDUSDT").max_daily_quantity is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "      max_exposure_usdt: 1000",
            "      max_exposure_usdt: -5",
            "symbols[1].risk.max_exposure_usdt: must be > 0, got -5",
        ),
        (
            "  daily_loss_limit_usdt: 300",
            "  daily_loss_limit_usdt: 0",
            "risk.daily_loss_limit_usdt: must be > 0, got 0",
        ),
        ("  allocation: 0.4", "  allocation: 1.5", "risk.allocation: must be > 0 and <= 1, got 1.5"),
        ("  allocation: 0.4", "  allocation: abc", "risk.allocation: expected a number, got 'abc'"),
        ("  leverage: 2", "  leverage: 200", "engine.leverage: must be <= 125, got 200"),
        ("  leverage: 2", "  leverage: 2.5", "engine.leverage: expected a whole number, got 2.5"),
        ("  seed: 7", "  seed: true", "simulator.seed: expected a whole number, got true"),
        (
            "  max_orders_per_minute: 30",
            "  # max_orders_per_minute: 30",
            "risk.max_orders_per_minute: missing required key",
        ),
        (
            "  leverage: 2",
            "  leverage: 2\n  levrage: 3",
            "engine.levrage: unknown key (did you mean leverage?)",
        ),
        (
            "  seed: 7",
            "  seed: 7\n  colour: red",
            "simulator.colour: unknown key (allowed: speed, data, starting_balance_usdt, seed, fill_parts, "
            "symbol_count)",
        ),
        (
            "      max_exposure_usdt: 1000",
            "      max_total_exposure_usdt: 1000",
            "symbols[1].risk.max_total_exposure_usdt: is a global limit only; "
            "set it in the top-level `risk:` block",
        ),
        (
            "      max_exposure_usdt: 1000",
            "      portfolio_daily_loss_limit_usdt: 500",
            "symbols[1].risk.portfolio_daily_loss_limit_usdt: is a global limit only; "
            "set it in the top-level `risk:` block",
        ),
        (
            "symbol: ADAUSDT",
            "symbol: adausdt",
            "symbols[1].symbol: invalid symbol 'adausdt': symbols are upper case, write ADAUSDT",
        ),
        (
            "symbol: ADAUSDT",
            "symbol: ADA-USDT",
            "symbols[1].symbol: invalid symbol 'ADA-USDT': expected a futures symbol like BTCUSDT "
            "(A-Z and 0-9, ending in USDT or USDC)",
        ),
        ("mode: sim", "mode: real", "mode: expected one of 'sim', 'paper', 'testnet' or 'live', got 'real'"),
        (
            "strategy: vwap",
            "strategy: foo",
            "symbols[0].strategy: unknown strategy 'foo' (available: sma_cross, vwap)",
        ),
        (
            "      band_k: 2.0\n    risk:",
            "      band_k: -1\n    risk:",
            "symbols[1].params.band_k: must be > 0.0, got -1",
        ),
        (
            "      adx_max: 20",
            "      adx_maxx: 20",
            "symbols[0].params.adx_maxx: unknown key (did you mean adx_max?)",
        ),
        (
            "      exit_band_k: 3.0",
            "      exit_band_k: 1.0",
            "symbols[0].params: exit_band_k (1.0) must be greater than band_k (2.0)",
        ),
    ],
)
def test_bad_value_is_one_line_with_key_path(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert error_line(tmp_path, replace(old, new)) == expected


def test_duplicate_symbol_names_both_entries(tmp_path: Path) -> None:
    text = BASE + "  - symbol: WLDUSDT\n    strategy: vwap\n    order_notional_usdt: 10\n"
    assert error_line(tmp_path, text) == "symbols[2].symbol: duplicate symbol WLDUSDT (also symbols[0])"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = replace("  speed: 600 ", "  speed: [600 ")
    line_number = text.splitlines().index(next(ln for ln in text.splitlines() if "speed: [600" in ln)) + 1
    line = error_line(tmp_path, text)
    assert line.startswith("YAML syntax error at line ")
    reported = int(line.removeprefix("YAML syntax error at line ").split(":")[0])
    assert reported in (line_number, line_number + 1)  # the parser notices at the next token


def test_tab_indentation_names_its_line(tmp_path: Path) -> None:
    text = replace("  seed: 7", "\tseed: 7")
    line_number = text.splitlines().index("\tseed: 7") + 1
    assert error_line(tmp_path, text) == (
        f"YAML syntax error at line {line_number}: found character '\\t' that cannot start any token"
    )


def test_key_given_twice_is_rejected_not_silently_overwritten(tmp_path: Path) -> None:
    text = replace("  seed: 7", "  seed: 7\n  seed: 8")
    line_number = text.splitlines().index("  seed: 8") + 1
    expected = f"duplicate key 'seed' at line {line_number} (each key may appear once)"
    assert error_line(tmp_path, text) == expected


def test_missing_file_empty_file_and_wrong_top_level(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert info.value.line() == f"{missing}: file not found (give another one with --config PATH)"
    assert error_line(tmp_path, "") == "the file is empty; see the shipped config/config.yaml"
    assert error_line(tmp_path, "- a\n- b\n") == "expected a mapping of keys at the top level, got a list"


def test_source_is_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, replace("      max_exposure_usdt: 1000", "      max_exposure_usdt: -5"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(Path("config.yaml"))
    assert info.value.line() == "config.yaml: symbols[1].risk.max_exposure_usdt: must be > 0, got -5"


def test_environment_mode_overrides_the_yaml() -> None:
    config = load_config(SHIPPED)
    assert effective_mode(Settings(_env_file=None), config) is Mode.SIM
    assert effective_mode(Settings(_env_file=None, mode=Mode.PAPER), config) is Mode.PAPER


def test_live_needs_an_explicit_opt_in() -> None:
    settings = Settings(_env_file=None)
    with pytest.raises(ConfigError) as info:
        check_live_opt_in(Mode.LIVE, settings, False, config_source="config/config.yaml")
    assert info.value.line() == (
        "config/config.yaml: mode: mode live trades real money and needs an explicit opt-in: "
        "pass --allow-live to `python -m trader run` or set TRADER_ALLOW_LIVE=true"
    )
    from_env = Settings(_env_file=None, mode=Mode.LIVE)
    with pytest.raises(ConfigError, match=r"^environment: TRADER_MODE: mode live"):
        check_live_opt_in(Mode.LIVE, from_env, False)
    check_live_opt_in(Mode.LIVE, settings, True)  # --allow-live
    check_live_opt_in(Mode.LIVE, Settings(_env_file=None, allow_live=True), False)
    check_live_opt_in(Mode.TESTNET, settings, False)  # no real money: no opt-in needed


def test_testnet_and_live_need_credentials() -> None:
    with pytest.raises(ConfigError, match=r"^environment: TRADER_API_KEY: required in mode testnet"):
        check_credentials(Mode.TESTNET, Settings(_env_file=None))
    check_credentials(Mode.SIM, Settings(_env_file=None))
    check_credentials(Mode.LIVE, Settings(_env_file=None, api_key="k" * 8, api_secret="s" * 8))
