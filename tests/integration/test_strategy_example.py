"""The strategy guide's worked example on the simulator: `python -m trader run` with
config/examples/sma_cross.yaml (sim mode) trades `sma_cross`: its signals are recorded with the
averages they were decided on, its orders fill, and it stops cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest

from tests.integration.process_rig import ROOT, DaemonProcess, cleanup
from tests.integration.venue import simulated_venue

pytestmark = pytest.mark.slow
EXAMPLE = ROOT / "config" / "examples" / "sma_cross.yaml"


async def test_the_worked_example_trades_on_the_simulator(tmp_path: Path) -> None:
    async with simulated_venue(speed=120.0) as venue:
        daemon = DaemonProcess(tmp_path, venue, config_text=EXAMPLE.read_text())
        try:
            await daemon.start()
            beat = await daemon.wait_running()
            assert {s["strategy"] for s in beat["symbols"].values()} == {"sma_cross"}
            deadline = time.monotonic() + 120
            filled: list[tuple[object, ...]] = []
            while not filled and time.monotonic() < deadline:
                filled = daemon.rows(
                    "SELECT client_order_id FROM orders WHERE strategy = 'sma_cross' AND state = 'FILLED'"
                )
                await asyncio.sleep(0.2)
            assert filled, f"no sma_cross order filled:\n{daemon.text()[-3000:]}"
            [(inputs, reason)] = daemon.rows(
                "SELECT inputs, reason FROM signals WHERE strategy = 'sma_cross' ORDER BY id LIMIT 1"
            )
            assert {"fast_sma", "slow_sma", "close"} <= json.loads(str(inputs)).keys()
            assert "SMA5" in str(reason) and "SMA20" in str(reason)
            daemon.signal(signal.SIGTERM)
            assert await daemon.wait_exit(within=30) == 0, daemon.text()[-2000:]
        finally:
            await cleanup(daemon)
