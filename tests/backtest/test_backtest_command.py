"""`python -m trader backtest` on the database: first use imports the shipped data and says so,
--interval trades stored candles of that interval, imported funding is charged, and two identical
runs write byte-identical JSON apart from the timing fields."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from trader.cli import main

ROOT = Path(__file__).resolve().parents[2]
DAY = "2022-12-13"  # the shipped ADAUSDT file's day


@pytest.fixture
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'trader.db'}"
    monkeypatch.setenv("TRADER_DATABASE_URL", url)
    return url


def test_the_first_backtest_imports_the_shipped_data_and_says_so(fresh_db: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["backtest", "--symbols", "ADAUSDT"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "first use: imported the shipped candles (ADAUSDT 1,440 1m, WLDUSDT 43,200 3m)" in out
    assert "candles (1m) from sqlite:" in out and ": ADAUSDT 1,440" in out
    assert "Backtest 2022-12-13 00:00" in out and "funding: not modelled" in out
    assert main(["backtest", "--symbols", "ADAUSDT"]) == 0
    assert "first use" not in capsys.readouterr().out  # imported once


def test_two_identical_runs_write_the_same_json_but_for_timing(fresh_db: str, tmp_path: Path) -> None:
    outs = [tmp_path / "one.json", tmp_path / "two.json"]
    for out in outs:
        args = ["backtest", "--quiet", "--symbols", "WLDUSDT", "--start", "2023-10-01", "--end", "2023-10-04"]
        assert main([*args, "--json", str(out)]) == 0
    texts = [out.read_bytes() for out in outs]
    report = json.loads(texts[0])
    assert report["summary"]["trades"] > 0 and set(report["timing"]) >= {"total_seconds", "loop_seconds"}
    timing = re.compile(rb'\n "timing": \{[^}]*\}')
    assert len(timing.findall(texts[0])) == 1
    assert timing.sub(b"", texts[0]) == timing.sub(b"", texts[1])


def test_interval_backtests_the_stored_candles_of_that_interval(
    fresh_db: str, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.json"
    args = ["--symbols", "WLDUSDT", "--start", "2023-10-01", "--end", "2023-10-08", "--json", str(out)]
    assert main(["backtest", "--interval", "3m", *args]) == 0
    assert json.loads(out.read_text())["period"]["candles"] == 7 * 480
    assert main(["backtest", "--interval", "1h", *args]) == 2
    assert "no 1h candles for WLDUSDT" in " ".join(capsys.readouterr().out.split())


def test_imported_funding_rates_are_charged_at_their_times(fresh_db: str, tmp_path: Path) -> None:
    rates = tmp_path / "WLDUSDT-fundingRate-2023-10.csv"
    first = 1_696_118_400_000  # 2023-10-01 00:00 UTC
    rates.write_text(
        "calc_time,funding_interval_hours,last_funding_rate\n"
        + "".join(f"{first + i * 8 * 3_600_000},8,0.00100000\n" for i in range(9))
    )
    assert main(["data", "import", str(rates)]) == 0
    out = tmp_path / "r.json"
    args = ["backtest", "--quiet", "--symbols", "WLDUSDT", "--start", "2023-10-01", "--end", "2023-10-04"]
    assert main([*args, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["costs"]["funding"] == "imported rates (9 funding times)"
    # A rate of 0.1 % every 8 h: any position held across a funding time pays.
    assert report["summary"]["funding"] != "0.00"


def test_a_run_is_saved_with_its_trades_unless_no_save(fresh_db: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from database.engine import make_engine

    out = tmp_path / "r.json"
    args = ["backtest", "--symbols", "WLDUSDT", "--start", "2023-10-01", "--end", "2023-10-04"]
    assert main([*args, "--json", str(out)]) == 0
    assert "saved as backtest run #1" in capsys.readouterr().out
    assert main([*args, "--no-save"]) == 0
    report = json.loads(out.read_text())
    engine = make_engine(fresh_db)
    try:
        with engine.connect() as connection:
            runs = connection.execute(
                text("SELECT id, config_hash, start_time, end_time, status, result FROM backtest_runs")
            ).all()
            trades = connection.execute(
                text("SELECT run_id, symbol, exit_time, net_pnl FROM backtest_trades ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert len(runs) == 1  # --no-save saved nothing
    run_id, config_hash, start, end, status, result = runs[0]
    assert (config_hash, start, end, status) == (
        report["config_hash"], report["period"]["start_ms"], report["period"]["end_ms"], "finished"
    )  # fmt: skip
    assert json.loads(result)["summary"] == report["summary"]
    assert [(r, s, t, Decimal(n)) for r, s, t, n in trades] == [
        (run_id, "WLDUSDT", x["exit_time_ms"], Decimal(x["net_pnl"])) for x in report["trades"]
    ]


def test_symbols_the_shipped_data_lacks_are_not_imported_for(fresh_db: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "btc.yaml"
    text = (ROOT / "config" / "config.yaml").read_text().replace("symbol: WLDUSDT", "symbol: BTCUSDT")
    config.write_text(text)
    assert main(["backtest", "--config", str(config), "--symbols", "BTCUSDT"]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "first use" not in out and "no 1m candles for BTCUSDT" in out and "data import" in out
