"""The daemon with 50 symbols against the simulator's many-symbol venue (issue 19): every symbol is
warmed up, streamed and gets its candles from the stream; the sockets stay within Binance's limits."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from pathlib import Path

import pytest

from config.loader import load_config, load_settings
from simulator.cli import DEFAULT_DATA
from simulator.many_symbols import many_symbols_doc
from trader.app import Daemon

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
pytestmark = pytest.mark.slow


def many_symbols_config(tmp_path: Path, symbols: list[str], *, speed: float, listed: int) -> Path:
    """The shipped configuration trading `symbols` with the vwap strategy on a venue listing `listed`."""
    text = SHIPPED.read_text().replace("  speed: 600 ", f"  speed: {speed:g} ")
    text = text.replace("  seed: 7\n", f"  seed: 7\n  symbol_count: {listed}\n")
    entries = "".join(f"  - symbol: {s}\n    strategy: vwap\n    order_notional_usdt: 20\n" for s in symbols)
    path = tmp_path / "config.yaml"
    path.write_text(text[: text.index("symbols:")] + "symbols:\n" + entries)
    return path


async def test_fifty_symbols_get_candles_from_the_stream(tmp_path: Path) -> None:
    doc = many_symbols_doc(DEFAULT_DATA, 60)
    symbols = [s["symbol"] for s in doc["symbols"] if s["symbol"].endswith("USDT")][:50]
    path = many_symbols_config(tmp_path, symbols, speed=10, listed=60)
    db_file = tmp_path / "trader.db"
    settings = load_settings(mode="sim", config=path, database_url=f"sqlite:///{db_file}",
                             status_dir=tmp_path / "status", log_dir=tmp_path / "logs")
    daemon = Daemon(settings, load_config(path), config_path=path)
    try:
        await daemon.start()
        first_live_minute = daemon.clock.now_ms() // 60_000 * 60_000

        def streamed() -> set[str]:
            with sqlite3.connect(db_file) as conn:
                rows = conn.execute("select distinct symbol from candles_1m where open_time >= ?",
                                    (first_live_minute,)).fetchall()
            return {str(r[0]) for r in rows}

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while streamed() != set(symbols):
            assert loop.time() < deadline, f"no streamed candle for {sorted(set(symbols) - streamed())}"
            await asyncio.sleep(0.5)
        sockets = daemon._streams.status()  # type: ignore[union-attr]
        assert len(sockets) == math.ceil(2 * len(symbols) / 200) and all(s.connected for s in sockets)
        hub = daemon._sim.server.hub  # type: ignore[union-attr]
        assert hub.rate_disconnects == 0 and hub.peak_incoming_per_s <= 10
    finally:
        await daemon.stop()
    heartbeat = json.loads((tmp_path / "status" / "heartbeat.json").read_text())
    assert set(heartbeat["strategies"]) == set(symbols)
    assert heartbeat["performance"]["decision"]["count"] > 0
