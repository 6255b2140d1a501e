"""`python -m trader data import`: the archive's layouts, each candle once, and a bad row's one line."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import text

from backtest.archive import ArchiveError
from backtest.importing import import_paths
from backtest.store import read_candles, read_funding, stored
from database.engine import make_engine
from database.migrate import upgrade
from trader.cli import main

ROOT = Path(__file__).resolve().parents[2]
HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore\n"
)
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def _kline(i: int, close: str = "100.50", *, step: int = 60_000, high: str = "101.00") -> str:
    t = T0 + i * step
    return f"{t},100.00,{high},99.90,{close},12.500,{t + step - 1},1256.25,42,6.2,623.1,0\n"


@pytest.fixture
def engine(any_db_url: str):  # type: ignore[no-untyped-def]
    upgrade(any_db_url)
    engine = make_engine(any_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'trader.db'}"
    monkeypatch.setenv("TRADER_DATABASE_URL", url)
    return url


def _count(engine, table: str = "candles_1m") -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_the_shipped_files_import_once_however_often_they_are_imported(engine) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        done = import_paths(engine, [ROOT / "data" / "klines"])
        assert done.rows == {("ADAUSDT", "1m"): 1_440, ("WLDUSDT", "3m"): 43_200}
    held = {(s.symbol, s.interval): s.candles for s in stored(engine)}
    assert held == {("ADAUSDT", "1m"): 1_440, ("WLDUSDT", "3m"): 43_200}
    first = read_candles(engine, "ADAUSDT", "1m")
    assert (first.open_times[0], first.opens[0], first.closes[0]) == (1670889600000, 0.3067, 0.3068)


def test_overlapping_files_store_each_candle_once_and_the_last_import_wins(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "BTCUSDT-1m-a.csv"
    b = tmp_path / "BTCUSDT-1m-b.csv"
    a.write_text(HEADER + "".join(_kline(i) for i in range(0, 6)))
    # no header; minute 8 twice in the file: the later row wins
    b.write_text("".join(_kline(i, close="100.70") for i in range(3, 9)) + _kline(8, close="100.80"))
    import_paths(engine, [a, b])
    candles = read_candles(engine, "BTCUSDT", "1m")
    assert candles.open_times == [T0 + i * 60_000 for i in range(9)]
    assert candles.closes == [100.5] * 3 + [100.7] * 5 + [100.8]
    with engine.connect() as connection:
        stored_close = connection.execute(text("SELECT close, volume FROM candles_1m LIMIT 1")).one()
    assert [str(x).rstrip("0").rstrip(".") if "." in str(x) else str(x) for x in stored_close] == [
        "100.5",
        "12.5",
    ]


def test_a_binance_archive_zip_is_verified_against_its_checksum(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = "ETHUSDT-1h-2024-01-01"
    archive = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"{name}.csv", HEADER + "".join(_kline(i, step=3_600_000) for i in range(24)))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    checksum = tmp_path / f"{name}.zip.CHECKSUM"
    checksum.write_text(f"{digest}  {name}.zip\n")
    done = import_paths(engine, [archive])
    assert done.rows == {("ETHUSDT", "1h"): 24}
    assert len(read_candles(engine, "ETHUSDT", "1h").open_times) == 24
    assert _count(engine) == 0 and _count(engine, "candles") == 24  # stored with their interval

    checksum.write_text(f"{'0' * 64}  {name}.zip\n")
    with pytest.raises(ArchiveError, match=r"does not match .*CHECKSUM.*fetch it again"):
        import_paths(engine, [archive])


def test_funding_rate_files_are_imported(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "BTCUSDT-fundingRate-2024-01.csv"
    path.write_text(
        "calc_time,funding_interval_hours,last_funding_rate\n"
        f"{T0},8,0.00010000\n{T0 + 8 * 3_600_000},8,-0.00003750\n"
    )
    for _ in range(2):
        assert import_paths(engine, [path]).rows == {("BTCUSDT", "funding"): 2}
    rates = read_funding(engine, ["BTCUSDT"])["BTCUSDT"]
    assert {t: str(r) for t, r in rates.items()} == {T0: "0.0001", T0 + 8 * 3_600_000: "-0.0000375"}


def test_a_bad_row_names_file_line_and_column_keeps_the_rows_before_and_a_rerun_completes(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "SOLUSDT-1m-2024-01-01.csv"
    good = [_kline(i) for i in range(10)]
    bad = list(good)
    bad[6] = bad[6].replace(",101.00,", ",1O1.00,")  # letter O for a zero, line 8 with the header
    path.write_text(HEADER + "".join(bad))
    assert main(["data", "import", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"{path}: line 8, column 3 (high): '1O1.00' is not a number"
    engine = make_engine(cli_db)
    try:
        assert _count(engine) == 6  # the rows before the bad one stay
        path.write_text(HEADER + "".join(good))
        assert main(["data", "import", str(path)]) == 0
        assert "SOLUSDT: 10 1m candles" in capsys.readouterr().out
        assert _count(engine) == 10
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("row", "fault"),
    [
        (
            "1704067200000,100,99,99.9,100.5,1,1704067259999",
            "column 3 (high): high 99 / low 99.9 do not contain",
        ),
        (
            "1704067200000,100,101,99.9,100.5,1,1704067319999",
            "column 7 (close_time): 1704067319999 does not close a 1m",
        ),
        ("1704067200000,100,101,99.9", "column 5 (close): missing: 4 columns, a kline has 12"),
        ("1704067200000,100,101,99.9,100.5,-1,1704067259999", "column 6 (volume): -1 is negative"),
        ("2024-01-01,100,101,99.9,100.5,1,1704067259999", "column 1 (open_time): '2024-01-01' is not a time"),
    ],
)
def test_each_kind_of_bad_row_gets_its_own_line(
    cli_db: str, tmp_path: Path, capsys, row: str, fault: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "SOLUSDT-1m.csv"
    path.write_text(row + "\n")
    assert main(["data", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: line 1, {fault}" in err


def test_a_file_without_a_symbol_in_its_name_asks_for_one(cli_db: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "klines.csv"
    path.write_text(_kline(0))
    assert main(["data", "import", str(path)]) == 2
    assert "--symbol" in capsys.readouterr().err
    assert main(["data", "import", str(path), "--symbol", "xrpusdt"]) == 0
    assert "XRPUSDT: 1 1m candles" in capsys.readouterr().out
