"""The worked example of docs/strategy-guide.md: `sma_cross`, loaded by name, deciding as the guide
says, configured by config/examples/sma_cross.yaml, and backtested with `python -m trader backtest`.

Its run on the simulator (the daemon as a process) is tests/integration/test_strategy_example.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from config.loader import load_config
from core.errors import ConfigError
from core.events import PositionUpdate, SignalAction
from strategies.registry import BUILTIN_MODULES, available, get_strategy
from strategies.sma_cross import SmaCrossParams, SmaCrossStrategy
from tests.strategies._candles import SYMBOL, candle

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "sma_cross.yaml"
GUIDE = ROOT / "docs" / "strategy-guide.md"


def _strategy(**params: object) -> SmaCrossStrategy:
    return SmaCrossStrategy(SYMBOL, {"fast": 2, "slow": 4, **params}, order_notional=Decimal(100))


def _feed(strategy: SmaCrossStrategy, closes: list[float], start: int = 0) -> list[list[object]]:
    return [list(strategy.on_candle(candle(start + i, c))) for i, c in enumerate(closes)]


def test_registered_by_name_from_the_builtin_modules() -> None:
    assert "strategies.sma_cross" in BUILTIN_MODULES
    assert "sma_cross" in available() and get_strategy("sma_cross") is SmaCrossStrategy


def test_the_example_config_loads_with_its_params_and_defaults() -> None:
    config = load_config(EXAMPLE)
    wld, ada = config.symbols
    assert (wld.strategy, ada.strategy) == ("sma_cross", "sma_cross")
    assert wld.validated_params == SmaCrossParams(fast=5, slow=20, stop_loss_pct=1.0)
    assert isinstance(ada.validated_params, SmaCrossParams) and ada.validated_params.allow_short is False


def test_the_guide_shows_the_example_config_as_it_is_in_the_repo() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    assert EXAMPLE.read_text(encoding="utf-8").strip() in guide


def test_fast_not_below_slow_is_one_config_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text().replace(
            "fast: 5\n      slow: 20\n      stop", "fast: 20\n      slow: 5\n      stop"
        )
    )
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert (
        "symbols[0].params" in info.value.line()
        and "fast (20) must be smaller than slow (5)" in info.value.line()
    )


def test_warm_up_never_trades_and_the_first_cross_opens_long() -> None:
    strategy = _strategy()
    history = [candle(i, c) for i, c in enumerate([10, 10, 10, 10, 9])]
    assert strategy.on_start(history) == []  # history is the past, even with a cross in it
    outputs = _feed(strategy, [9, 12], start=5)  # fast SMA2 rises above slow SMA4
    assert outputs[0] == []
    [signal] = outputs[1]
    assert signal.action is SignalAction.OPEN_LONG and signal.strategy == "sma_cross"  # type: ignore[attr-defined]
    assert signal.notional == Decimal(100) and "crossed above" in signal.reason  # type: ignore[attr-defined]
    # Deterministic: the same candles give the same id (a replay after a restart maps to one order).
    again = _strategy()
    again.on_start(history)
    assert _feed(again, [9, 12], start=5)[1][0].signal_id == signal.signal_id  # type: ignore[attr-defined]


def _long(strategy: SmaCrossStrategy, entry: str) -> None:
    strategy.on_position(PositionUpdate(SYMBOL, Decimal(1), Decimal(entry), Decimal(0), 0, "sma_cross"))


def test_the_opposite_cross_closes_with_rule_cross_and_the_stop_with_rule_stop() -> None:
    strategy = _strategy(stop_loss_pct=50.0)
    _feed(strategy, [10, 10, 10, 10, 9, 12])  # opened long at the cross
    _long(strategy, "12")
    [close] = [o for outs in _feed(strategy, [12, 8, 7], start=6) for o in outs]
    assert close.action is SignalAction.CLOSE and close.inputs["rule"] == "cross"  # type: ignore[attr-defined]

    stopped = _strategy(stop_loss_pct=1.0, slow=30, fast=2)
    _feed(stopped, [10.0] * 29 + [9.0, 12.0])
    _long(stopped, "12")
    [stop] = stopped.on_candle(candle(31, 11.8))  # 1.7 % below the entry, no cross yet
    assert stop.action is SignalAction.CLOSE and stop.inputs["rule"] == "stop"  # type: ignore[attr-defined]


@pytest.mark.parametrize("allow_short", [True, False])
def test_the_downward_cross_sells_short_unless_long_only(allow_short: bool) -> None:
    strategy = _strategy(allow_short=allow_short)
    strategy.on_start([candle(i, c) for i, c in enumerate([10, 10, 10, 10, 11])])  # fast above slow
    outputs = strategy.on_candle(candle(5, 8))  # and now below
    assert [o.action for o in outputs] == ([SignalAction.OPEN_SHORT] if allow_short else [])  # type: ignore[union-attr]


def test_the_example_backtests_with_the_trader_command(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    trades = tmp_path / "trades.csv"
    result = subprocess.run(
        [sys.executable, "-m", "trader", "backtest", "--config", str(EXAMPLE), "--start", "2023-10-01",
         "--end", "2023-10-03", "--json", str(report), "--trades-csv", str(trades), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(report.read_text())
    summary = document["summary"]
    assert document["symbols"] == ["WLDUSDT"]  # ADAUSDT's data is another day
    assert summary["trades"] > 10 and set(summary["exits_by_reason"]) <= {"cross", "stop"}
    assert len(trades.read_text().splitlines()) == summary["trades"] + 1  # a header and one line a trade
