"""`python -m trader flatten` (issue 14): with the daemon running (through the control table) and
with it stopped (straight at the venue); idempotent; careful about live mode."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from core.decimals import split_quantity
from core.events import OrderRequest, OrderType, Side
from tests.integration.process_rig import ROOT, SHIPPED, DaemonProcess, cleanup, our_client_id
from tests.integration.venue import Venue, simulated_venue

pytestmark = pytest.mark.slow
SYMBOL = "WLDUSDT"
ONLY_ADA = SHIPPED.read_text()[: SHIPPED.read_text().index("symbols:")] + """symbols:
  - symbol: ADAUSDT
    strategy: vwap
    order_notional_usdt: 150
"""  # the position to flatten is on a symbol no strategy manages: nothing else closes it


def _market(venue: Venue, cid: str, side: Side, quantity: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid, symbol=SYMBOL, strategy="vwap", side=side, order_type=OrderType.MARKET,
        quantity=Decimal(quantity), created_time=venue.clock.now_ms(),
    )  # fmt: skip


async def _flatten(daemon: DaemonProcess, *args: str, **env: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trader", "flatten", "--config", str(daemon.config), *args,
        cwd=ROOT, env={**daemon.env, **env}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def _venue_position(venue: Venue) -> Decimal:
    positions = {p.symbol: p.quantity for p in await venue.gateway.positions()}
    return positions.get(SYMBOL, Decimal(0))


def test_a_large_close_is_split_within_the_market_lot_maximum() -> None:
    assert split_quantity(Decimal(250), Decimal(100), Decimal(1)) == [Decimal(100), Decimal(100), Decimal(50)]
    assert split_quantity(Decimal("10.5"), Decimal("4.25"), Decimal("0.5")) == [
        Decimal(4),
        Decimal(4),
        Decimal("2.5"),
    ]
    assert split_quantity(Decimal(0), Decimal(100), Decimal(1)) == []


async def test_flatten_through_the_running_daemon_and_again_changes_nothing(tmp_path: Path) -> None:
    async with simulated_venue(speed=1) as venue:
        await venue.gateway.place_order(_market(venue, our_client_id("flatten:open"), Side.BUY, "300"))
        daemon = DaemonProcess(tmp_path, venue, config_text=ONLY_ADA)
        try:
            await daemon.start()
            await daemon.wait_running()
            code, output = await _flatten(daemon, "--yes")
            assert code == 0, output
            assert "handed to the running daemon" in output and "flat:" in output
            assert await _venue_position(venue) == 0
            closes = daemon.rows(
                "SELECT client_order_id, state, reduce_only FROM orders WHERE strategy = 'flatten'"
            )
            assert [(state, reduce_only) for _, state, reduce_only in closes] == [("FILLED", 1)]
            # Entries stay paused after a flatten, until `resume`.
            halts = daemon.rows("SELECT key FROM control WHERE key = 'halt'")
            assert halts == [("halt",)]

            again, output = await _flatten(daemon, "--yes")
            assert again == 0, output
            assert len(daemon.rows("SELECT 1 FROM orders WHERE strategy = 'flatten'")) == 1
            daemon.signal(signal.SIGTERM)
            assert await daemon.wait_exit() == 0
            # Both outcomes were alerted (folded into one row: same kind, same key), and the pause.
            alerts = daemon.rows("SELECT kind, severity, occurrences, message FROM alerts")
            flattens = [(severity, n, text) for kind, severity, n, text in alerts if kind == "flatten"]
            assert [(s, n) for s, n, _ in flattens] == [("warning", 2)], alerts
            assert flattens[0][2].startswith("flat: "), flattens
            assert "kill_switch" in {kind for kind, *_ in alerts}
        finally:
            await cleanup(daemon)


async def test_flatten_with_the_daemon_stopped_goes_to_the_venue_and_is_recorded(tmp_path: Path) -> None:
    async with simulated_venue(speed=1) as venue:
        await venue.gateway.place_order(_market(venue, our_client_id("flatten:stopped"), Side.SELL, "120"))
        daemon = DaemonProcess(tmp_path, venue)  # never started: only its folders and settings
        code, output = await _flatten(daemon, "--yes")
        assert code == 0, output
        assert "the daemon is not running" in output
        assert await _venue_position(venue) == 0
        closes = daemon.rows("SELECT side, state FROM orders WHERE strategy = 'flatten'")
        assert closes == [("BUY", "FILLED")]
        fills = daemon.rows("SELECT quantity FROM fills")
        assert sum(Decimal(q) for (q,) in fills) == Decimal(120)


async def test_flatten_asks_first_and_refuses_live_without_yes(tmp_path: Path) -> None:
    async with simulated_venue(speed=1) as venue:
        daemon = DaemonProcess(tmp_path, venue)
        code, output = await _flatten(daemon)  # no terminal to ask on
        assert code == 2 and "needs --yes when there is no terminal" in output
        live = {"TRADER_MODE": "live", "TRADER_ALLOW_LIVE": "true"}
        code, output = await _flatten(daemon, **live)
        assert code == 2 and "in LIVE mode needs --yes" in output
        assert os.path.exists(daemon.db_file) is False or daemon.rows("SELECT 1 FROM orders") == []
