"""Two `sim`-mode runs on one database: the second one trades too.

A run at speed 600 stores candles, orders and fills hours ahead of the wall clock. The second run's
in-process simulator used to start its clock at "now", behind what was stored, so every candle it
delivered was taken for one already seen and dropped: entries on, nothing happening.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from config.loader import load_config
from tests.integration.test_daemon import _config_file, _query, _settings, _started, _wait_for

pytestmark = pytest.mark.slow

_SIGNALS = "select count(*), max(event_time) from signals"


def _wider(path: Path, speed: int) -> None:
    # Wide-open entry rules, so a signal comes within minutes of simulated time.
    text = path.read_text().replace("band_k: 2.0", "band_k: 1.0").replace("adx_max: 20", "adx_max: 40")
    path.write_text(text.replace("  speed: 600 ", f"  speed: {speed} "))


async def test_a_second_sim_run_on_the_same_database_trades(tmp_path: Path) -> None:
    path = _config_file(tmp_path, speed=600)
    db_file = tmp_path / "trader.db"
    _wider(path, 3000)  # the first run gets far ahead of the wall clock
    async with _started(_settings(tmp_path, path), load_config(path), path):
        await _wait_for(lambda: _query(db_file, _SIGNALS)[0][0] >= 1, 90, "a signal in the first run")
    first_signals, _ = _query(db_file, _SIGNALS)[0]
    (stored_newest,) = _query(db_file, "select max(close_time) from candles_1m")[0]

    path.write_text(path.read_text().replace("  speed: 3000 ", "  speed: 600 "))
    async with _started(_settings(tmp_path, path), load_config(path), path) as daemon:
        # The second run's market starts after everything the first one stored ...
        assert daemon.clock.now_ms() > int(str(stored_newest))
        # ... so its candles reach the strategies, and they decide again.
        await _wait_for(
            lambda: _query(db_file, _SIGNALS)[0][0] > first_signals, 90, "a signal in the second run"
        )
    for symbol in ("WLDUSDT", "ADAUSDT"):
        times = [t for (t,) in _query(db_file, f"select open_time from candles_1m where symbol = '{symbol}' "
                                               "order by open_time")]
        gaps = [(a, b) for a, b in itertools.pairwise(times) if b - a != 60_000]
        assert gaps == [], f"{symbol}: not one contiguous series across the runs: {gaps[:3]}"
