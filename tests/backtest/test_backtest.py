"""The backtest on the live code: the benchmark's rules give the trades a plain reading of them
gives, the same inputs give the same report, and no decision depends on a later candle."""

from __future__ import annotations

import copy
import json
import random
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml

from backtest.loading import load_files
from backtest.series import BarSeries
from backtest.session import run_session
from config.loader import load_config
from simulator.exchange_info import instruments_of, load_exchange_info

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from bench_rules import PARAMS, REASONS  # noqa: E402

from bench_reference import reference_trades  # noqa: E402


def _series(n: int, seed: int, symbol: str = "BTCUSDT") -> BarSeries:
    """Candles drawn like the benchmark's (log-normal walk on a 0.1 tick around 30,000)."""
    rng = np.random.default_rng(seed)
    vol = 0.0008 * np.exp(0.2 * rng.standard_normal(n))
    close = np.round(30_000 * np.exp(np.cumsum(vol * rng.standard_normal(n))), 1)
    open_ = np.concatenate([[30_000.0], close[:-1]])
    wick = np.abs(rng.standard_normal((2, n))) * vol * close * 0.6
    high = np.round(np.maximum(open_, close) + wick[0], 1)
    low = np.round(np.minimum(open_, close) - wick[1], 1)
    volume = np.round(rng.lognormal(2.5, 0.8, n), 3) + 0.001
    times = [1_672_531_200_000 + i * 60_000 for i in range(n)]
    return BarSeries(
        symbol,
        60_000,
        Decimal("0.1"),
        times,
        open_.tolist(),
        high.tolist(),
        low.tolist(),
        close.tolist(),
        volume.tolist(),
    )


@pytest.fixture
def bench_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = yaml.safe_load((ROOT / "bench" / "backtest.yaml").read_text())
    config["symbols"] = [
        {"symbol": "BTCUSDT", "strategy": "vwap", "order_notional_usdt": 1000, "params": PARAMS}
    ]
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_config(path)


def _instruments(symbols: tuple[str, ...] = ("BTCUSDT",)):  # type: ignore[no-untyped-def]
    doc = load_exchange_info(ROOT / "data" / "exchange_info.json")
    btc = next(s for s in doc["symbols"] if s["symbol"] == "BTCUSDT")
    return instruments_of({**doc, "symbols": [dict(copy.deepcopy(btc), symbol=s, pair=s) for s in symbols]})


def _mine(report: dict) -> list[tuple[object, ...]]:  # type: ignore[type-arg]
    return [
        (
            t["symbol"],
            t["side"],
            t["entry_time_ms"],
            Decimal(t["entry_price"]),
            t["exit_time_ms"] - t["exit_time_ms"] % 60_000,
            Decimal(t["exit_price"]),
            REASONS[t["reason"]],
        )
        for t in report["trades"]
    ]


def test_the_benchmark_rules_give_the_trades_of_a_plain_reading_of_them(bench_config) -> None:  # type: ignore[no-untyped-def]
    series = _series(12_000, seed=3)
    outcome = run_session(bench_config, {"BTCUSDT": series}, _instruments(), funding_rate=Decimal(0))
    reference = reference_trades(
        "BTCUSDT", series.open_times, series.opens, series.highs, series.lows, series.closes, series.volumes
    )
    mine = sorted(_mine(outcome.report), key=lambda t: t[2])  # type: ignore[arg-type, return-value]
    assert len(reference) >= 20 and {r[6] for r in reference} >= {"vwap", "stop"}
    assert mine == reference
    # Fees: 0.04 % of each fill's notional, entry and exit, taken from the PnL (not the quantity).
    trade = outcome.trades[0]
    notional = trade.quantity * (trade.entry_price + trade.exit_price)
    assert -trade.fees == (notional * Decimal("0.0004")).quantize(Decimal("1e-8"))


def test_symbols_backtested_together_each_trade_as_the_rules_say(tmp_path: Path) -> None:
    # One engine clock for every symbol: a live stop of one symbol inside a minute must not move
    # another symbol's fill at that minute's open (or its own stop) later. These candles (seeds
    # 700..703) had one trade filled 20 s late when each candle was unfolded symbol by symbol.
    symbols = ("SAUSDT", "SBUSDT", "SCUSDT", "SDUSDT")
    config = yaml.safe_load((ROOT / "bench" / "backtest.yaml").read_text())
    config["symbols"] = [
        {"symbol": s, "strategy": "vwap", "order_notional_usdt": 1000, "params": PARAMS} for s in symbols
    ]
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump(config))
    series = {s: _series(6_000, seed=700 + j, symbol=s) for j, s in enumerate(symbols)}
    outcome = run_session(
        load_config(tmp_path / "bench.yaml"), series, _instruments(symbols), funding_rate=Decimal(0)
    )
    reference = []
    for s, x in series.items():
        reference += reference_trades(s, x.open_times, x.opens, x.highs, x.lows, x.closes, x.volumes)
    mine = sorted(_mine(outcome.report), key=lambda t: (t[0], t[2]))  # type: ignore[arg-type, return-value]
    assert len(reference) >= 40
    assert mine == sorted(reference, key=lambda t: (t[0], t[2]))


def test_two_identical_runs_give_the_same_report(bench_config) -> None:  # type: ignore[no-untyped-def]
    series = _series(6_000, seed=5)
    one = run_session(bench_config, {"BTCUSDT": series}, _instruments()).report
    two = run_session(bench_config, {"BTCUSDT": _series(6_000, seed=5)}, _instruments()).report
    one.pop("timing", None)
    two.pop("timing", None)
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


def test_no_decision_before_a_cut_depends_on_the_candles_after_it(bench_config) -> None:  # type: ignore[no-untyped-def]
    series = _series(8_000, seed=11)
    full = run_session(bench_config, {"BTCUSDT": series}, _instruments()).record
    rng = random.Random(2)
    for cut in sorted(rng.sample(range(500, 7_500), 4)):
        cut_time = series.open_times[cut]
        part = run_session(bench_config, {"BTCUSDT": series.window(None, cut_time)}, _instruments()).record
        # Decisions made on candles that closed before the cut (the last one ends the run).
        before = cut_time - 60_000
        expected = [(s.signal_id, s.action, s.price) for s in full.signals if s.event_time < before]
        got = [(s.signal_id, s.action, s.price) for s in part.signals if s.event_time < before]
        assert got == expected, f"a decision before {cut} changed when the data was cut there"


def test_the_shipped_data_backtests_with_the_shipped_config() -> None:
    config = load_config(ROOT / "config" / "config.yaml")
    instruments = instruments_of(load_exchange_info(ROOT / "data" / "exchange_info.json"))
    series = load_files([ROOT / "data" / "klines"], {s: i.tick_size for s, i in instruments.items()})
    # WLDUSDT's 3m bars are cut into 1m bars along the path, as sim mode replays them.
    assert series["WLDUSDT"].interval_ms == 60_000 and len(series["WLDUSDT"]) == 3 * 43_200
    week = {"WLDUSDT": series["WLDUSDT"].window(None, series["WLDUSDT"].first_open_time + 7 * 86_400_000)}
    outcome = run_session(config, week, instruments)
    report = outcome.report
    assert report["costs"]["funding"] == "not modelled"
    assert report["summary"]["trades"] == len(outcome.trades) > 0
    net = sum(Decimal(t["net_pnl"]) for t in report["trades"])
    assert Decimal(report["summary"]["net_pnl"]) == net.quantize(Decimal("0.01"))
