"""A three-trade backtest worked out on paper, checked against the report to the cent.

The candles are written by hand: BTCUSDT 1m from 2024-01-01 07:00 UTC, flat (open = high = low =
close = 1000, volume 100) except the ones in `SPECIAL`; the funding file has one rate, 0.0001 at
08:00. They go through the user's path: `data import` of both files, then `backtest --config`.

Rules in play (see `CONFIG`): VWAP mean reversion with band_k 1, a 2 % stop that triggers on the
price path, take profit back at VWAP on a closed candle; a decision on a closed candle acts at the
next candle's open; market orders, taker fee 4 bps, no slippage; 1000 USDT per entry; 10 000 USDT
to start. The low-volume candles barely move the VWAP (≈ 999.99, σ < 0.5 throughout).

An entry is sized at the newest mark from before the decision's instant (`executor/risk/state.py`):
the price path at the last second of the signal's candle, its close.

Trade 1, long, exit at VWAP:
    07:05 closes at 990, below VWAP − 1σ  → buy at the 07:06 open, 1000.0: 1000 / 990 → 1.010 BTC
    07:06 closes at 1000 ≥ VWAP           → sell at the 07:07 open, 1005.0
    gross (1005 − 1000) × 1.010 = 5.05; fees (1000 + 1005) × 1.010 × 0.0004 = 0.404 + 0.40602
    net 5.05 − 0.81002 = 4.23998
Trade 2, long, stopped:
    07:11 closes at 990 again              → buy at the 07:12 open, 1000.0, 1.010 BTC; stop 2 % = 980.0
    07:12 trades down to 975: the stop triggers as the price passes 980.0 and fills there
    gross (980 − 1000) × 1.010 = −20.20; fees 0.404 + 980 × 1.010 × 0.0004 = 0.404 + 0.39592
    net −20.2 − 0.79992 = −20.99992
Trade 3, short, funding, exit at VWAP:
    07:57 closes at 1010, above VWAP + 1σ  → sell at the 07:58 open, 1000.0: 1000 / 1010 → 0.990 BTC
    08:00 funding at the mark 1008.0 (that candle's open), rate 0.0001: the short receives
          0.990 × 1008 × 0.0001 = 0.099792
    08:00 closes at 995 ≤ VWAP             → buy back at the 08:01 open, 996.0
    gross (1000 − 996) × 0.990 = 3.96; fees 0.396 + 996 × 0.990 × 0.0004 = 0.396 + 0.394416
    net 3.96 − 0.790416 + 0.099792 = 3.269376
Totals:
    gross 5.05 − 20.2 + 3.96 = −11.19; fees −(0.81002 + 0.79992 + 0.790416) = −2.400356 → −2.40;
    funding +0.10; net 4.23998 − 20.99992 + 3.269376 = −13.490564 → −13.49; final equity 9986.51
    win rate 2 / 3 = 66.67 %; profit factor (4.23998 + 3.269376) / 20.99992 = 0.3576 → 0.358
    max drawdown: peak 10 004.23998 after trade 1, trough 9983.24006 after trade 2: 20.99992 → 21.00,
    20.99992 / 10 004.23998 = 0.210 %
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from trader.cli import main

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_704_092_400_000  # 2024-01-01 07:00 UTC
MINUTE = 60_000
FLAT = ("1000", "1000", "1000", "1000", "100")
SPECIAL = {  # minute after 07:00: open, high, low, close, volume
    5: ("1000", "1000", "990", "990", "1"),  # 07:05 dip: long signal
    7: ("1005", "1005", "1000", "1000", "1"),  # 07:07 opens at 1005: trade 1's exit
    11: ("1000", "1000", "990", "990", "1"),  # 07:11 dip: long signal
    12: ("1000", "1000", "975", "1000", "100"),  # 07:12 through the stop at 980
    57: ("1000", "1010", "1000", "1010", "1"),  # 07:57 spike: short signal
    58: ("1000", "1008", "1000", "1008", "1"),  # 07:58 short entry at 1000, stays above VWAP
    59: ("1008", "1008", "1008", "1008", "1"),
    60: ("1008", "1008", "995", "995", "1"),  # 08:00 funding at 1008, closes under VWAP
    61: ("996", "1000", "996", "1000", "1"),  # 08:01 opens at 996: trade 3's exit
}
CANDLES = 63
PARAMS = {
    "band_k": 1.0,
    "adx_period": 2,
    "adx_max": 100,
    "min_candles_after_anchor": 0,
    "min_sigma_pct": 0,
    "stop_loss_pct": 2,
    "band_stop": False,
    "stop_on_tick": True,
    "max_holding_minutes": 0,
    "volatility_guard": False,
    "live_exits": True,
    "live_take_profit": False,
    "enter_on_exit": False,
    "sigma_formula": "sums",
}


def _config(tmp_path: Path) -> Path:
    config = yaml.safe_load((ROOT / "bench" / "backtest.yaml").read_text())
    config["engine"]["warmup_candles"] = 5
    config["simulator"] = {"starting_balance_usdt": 10_000, "data": str(ROOT / "data")}
    config["symbols"] = [
        {"symbol": "BTCUSDT", "strategy": "vwap", "order_notional_usdt": 1000, "params": PARAMS}
    ]
    path = tmp_path / "hand.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _klines(path: Path) -> None:
    with path.open("w") as out:
        for i in range(CANDLES):
            t = T0 + i * MINUTE
            o, h, lo, c, v = SPECIAL.get(i, FLAT)
            out.write(f"{t},{o},{h},{lo},{c},{v},{t + MINUTE - 1},0,1,0,0,0\n")


@pytest.fixture
def report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, str]:  # type: ignore[type-arg]
    monkeypatch.setenv("TRADER_DATABASE_URL", f"sqlite:///{tmp_path / 'trader.db'}")
    _klines(tmp_path / "BTCUSDT-1m-2024-01-01.csv")
    (tmp_path / "BTCUSDT-fundingRate-2024-01.csv").write_text(
        f"calc_time,funding_interval_hours,last_funding_rate\n{T0 + 60 * MINUTE},8,0.00010000\n"
    )
    assert main(["data", "import", str(tmp_path / "BTCUSDT-1m-2024-01-01.csv")]) == 0
    assert main(["data", "import", str(tmp_path / "BTCUSDT-fundingRate-2024-01.csv")]) == 0
    out, trades = tmp_path / "report.json", tmp_path / "trades.csv"
    args = [
        "backtest",
        "--quiet",
        "--config",
        str(_config(tmp_path)),
        "--json",
        str(out),
        "--trades-csv",
        str(trades),
    ]
    assert main(args) == 0
    return json.loads(out.read_text()), trades.read_text()


def test_the_report_agrees_with_the_paper_to_the_cent(report) -> None:  # type: ignore[no-untyped-def]
    data, _csv = report
    d = Decimal
    rows = [
        (t["side"], d(t["quantity"]), (t["entry_time_ms"] - T0) // MINUTE, d(t["entry_price"]),
         d(t["exit_price"]), t["reason"], d(t["gross_pnl"]), d(t["fees"]), d(t["funding"]), d(t["net_pnl"]))
        for t in data["trades"]
    ]  # fmt: skip
    assert rows == [
        ("LONG", d("1.010"), 6, 1000, 1005, "take_profit", d("5.05"), d("-0.81002"), 0, d("4.23998")),
        ("LONG", d("1.010"), 12, 1000, 980, "stop_loss_pct", d("-20.2"), d("-0.79992"), 0, d("-20.99992")),
        ("SHORT", d("0.990"), 58, 1000, 996, "take_profit", d("3.96"), d("-0.790416"), d("0.099792"),
         d("3.269376")),
    ]
    s = data["summary"]
    assert (s["gross_pnl"], s["fees"], s["funding"], s["net_pnl"]) == ("-11.19", "-2.40", "0.10", "-13.49")
    assert (s["starting_balance"], s["final_equity"]) == ("10000.00", "9986.51")
    assert (s["win_rate_pct"], s["profit_factor"]) == (66.67, 0.358)
    assert (s["max_drawdown"], s["max_drawdown_pct"]) == ("21.00", 0.21)
    assert s["exits_by_reason"] == {"stop_loss_pct": 1, "take_profit": 2}
    assert data["costs"]["funding"] == "imported rates (1 funding time)"


def test_the_trades_csv_says_the_same(report) -> None:  # type: ignore[no-untyped-def]
    data, text = report
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["exit_price"], r["net_pnl"]) for r in rows] == [
        (t["exit_price"], t["net_pnl"]) for t in data["trades"]
    ]
