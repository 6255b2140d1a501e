"""`--symbols N` (issue 19): N perpetuals with Binance's real 2021 rules, each with its own price path
derived from the shipped real candles, at its own price level and not in lockstep with the others."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

from simulator.bars import MINUTE_MS
from simulator.exchange import SimulatedExchange
from simulator.many_symbols import PERPETUALS_FILE

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
START = 1_760_000_000_000


def test_lists_n_symbols_with_the_real_filters() -> None:
    exchange = SimulatedExchange.from_data(DATA, start_ms=START, count=200)
    info = exchange.exchange_info({}, START)
    listed = {s["symbol"]: s for s in info["symbols"]}
    assert len(listed) == 200 == len(exchange.symbols())
    real = {s["symbol"]: s for s in json.loads((DATA / PERPETUALS_FILE).read_text())["symbols"]}
    shared = [name for name in listed if name in real and name not in ("BTCUSDT", "WLDUSDT")]
    assert len(shared) > 100
    for name in shared:
        if name in {"ADAUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "LINKUSDT"}:
            continue  # data/exchange_info.json's own entries (see data/SOURCES.md) come first
        assert listed[name]["filters"] == real[name]["filters"], name
    # Beyond the 119 real ones: copies of real rules under a new name.
    assert listed["BCHX1USDT"]["filters"] == real["BCHUSDT"]["filters"]


def test_each_symbol_moves_on_its_own_path_at_its_own_level() -> None:
    exchange = SimulatedExchange.from_data(DATA, start_ms=START, count=50)
    now = START + 10 * MINUTE_MS
    prices = {s: exchange.mark_price(s, now) for s in exchange.symbols()}
    tick = {s: exchange.instrument(s).tick_size for s in prices}
    assert all(p > 0 and p % tick[s] == 0 for s, p in prices.items())
    assert prices["BTCUSDT"] > 1000 * prices["XRPUSDT"]  # levels differ by orders of magnitude

    def returns(symbol: str) -> list[Decimal]:
        closes = [exchange._replays[symbol].bar(START + i * MINUTE_MS).close for i in range(60)]
        return [b / a - 1 for a, b in itertools.pairwise(closes)]

    # Two symbols replaying the same real file start at different minutes: different moves.
    assert returns("BCHUSDT") != returns("EOSUSDT")


def test_the_standalone_simulator_serves_n_symbols() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "--port", "0", "--symbols", "150"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "simulator: symbols" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, proc.wait(10)
            lines.append(line)
        rest = next(x.split()[-1] for x in lines if x.startswith("simulator: REST"))
        with urllib.request.urlopen(f"{rest}/fapi/v1/exchangeInfo", timeout=10) as resp:
            assert len(json.loads(resp.read())["symbols"]) == 150
        assert "symbols 150 (" in lines[-1]
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
