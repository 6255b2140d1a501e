"""Graceful shutdown, with the daemon as a real process (issue 14).

SIGTERM: entries stop, resting entry orders are cancelled, protective exits stand, the database is
flushed, the last heartbeat says `stopped`, exit 0 within 10 s. A second signal exits at once and
the database is still consistent: a restart reconciles cleanly.
"""

from __future__ import annotations

import signal
import time
from decimal import Decimal
from pathlib import Path

import pytest

from core.decimals import PriceIntent, quantize_price
from core.events import OrderRequest, OrderType, Side, TimeInForce
from tests.integration.process_rig import DaemonProcess, cleanup, our_client_id
from tests.integration.venue import Venue, simulated_venue

pytestmark = pytest.mark.slow
SYMBOL = "WLDUSDT"


def _request(
    venue: Venue, cid: str, side: Side, quantity: str, *, far: bool, reduce_only: bool = False
) -> OrderRequest:
    price = None
    if far:
        tick = Decimal("0.0001")
        mark = venue.server.exchange.mark_price(SYMBOL, venue.clock.now_ms())
        raw = mark * (Decimal("0.8") if side is Side.BUY else Decimal("1.25"))
        price = quantize_price(raw, tick, side, PriceIntent.PASSIVE)
    return OrderRequest(
        client_order_id=cid, symbol=SYMBOL, strategy="vwap", side=side,
        order_type=OrderType.LIMIT if far else OrderType.MARKET, quantity=Decimal(quantity),
        created_time=venue.clock.now_ms(), price=price,
        time_in_force=TimeInForce.GTC if far else None, reduce_only=reduce_only,
    )  # fmt: skip


async def _orders_behind_its_back(venue: Venue) -> tuple[str, str]:
    """A position, a resting entry and a protective exit of ours, placed before the daemon starts
    (it adopts them at start-up, as after a restart)."""
    entry, exit_ = our_client_id("shutdown:entry"), our_client_id("shutdown:exit")
    await venue.gateway.place_order(
        _request(venue, our_client_id("shutdown:open"), Side.BUY, "100", far=False)
    )
    await venue.gateway.place_order(_request(venue, entry, Side.BUY, "100", far=True))
    await venue.gateway.place_order(_request(venue, exit_, Side.SELL, "100", far=True, reduce_only=True))
    return entry, exit_


def _venue_status(venue: Venue, cid: str) -> str:
    return str(venue.server.exchange.engine.get_order(SYMBOL, client_order_id=cid).status)


async def test_sigterm_cancels_resting_entries_keeps_exits_and_exits_0(tmp_path: Path) -> None:
    async with simulated_venue(speed=1) as venue:
        entry, exit_ = await _orders_behind_its_back(venue)
        daemon = DaemonProcess(tmp_path, venue)
        try:
            await daemon.start()
            await daemon.wait_running()
            assert daemon.rows("SELECT state FROM orders WHERE client_order_id = ?", entry) == [("NEW",)]
            started = time.monotonic()
            daemon.signal(signal.SIGTERM)
            code = await daemon.wait_exit(within=15)
            took = time.monotonic() - started
        finally:
            await cleanup(daemon)
        assert code == 0, daemon.text()[-2000:]
        assert took < 10, f"shutdown took {took:.1f} s"
        assert _venue_status(venue, entry) == "CANCELED"
        assert _venue_status(venue, exit_) == "NEW"  # the protective exit stands
        assert daemon.rows("SELECT state, reason FROM orders WHERE client_order_id = ?", entry) == [
            ("CANCELED", "cancelled at shutdown")
        ]
        assert daemon.rows("SELECT state FROM orders WHERE client_order_id = ?", exit_) == [("NEW",)]
        last = daemon.heartbeat()
        assert last is not None and last["state"] == "stopped"
        assert daemon.rows("PRAGMA integrity_check") == [("ok",)]


async def test_a_second_signal_exits_at_once_and_a_restart_reconciles_cleanly(tmp_path: Path) -> None:
    async with simulated_venue(speed=1) as venue:
        entry, _ = await _orders_behind_its_back(venue)
        daemon = DaemonProcess(tmp_path, venue)
        again = DaemonProcess(tmp_path, venue)
        try:
            await daemon.start()
            await daemon.wait_running()
            started = time.monotonic()
            daemon.signal(signal.SIGTERM)
            daemon.signal(signal.SIGTERM)
            await daemon.wait_exit(within=15)
            took = time.monotonic() - started
            assert daemon.rows("PRAGMA integrity_check") == [("ok",)]
            await again.start()
            running = await again.wait_running()
            assert running["reconciliation"]["result"] in ("ok", "repaired"), running["reconciliation"]
            # What the venue has, the database has: the entry's state whatever the first run did.
            assert again.rows("SELECT state FROM orders WHERE client_order_id = ?", entry) == [
                (_venue_status(venue, entry),)
            ]
            again.signal(signal.SIGTERM)
            assert await again.wait_exit(within=15) == 0
        finally:
            await cleanup(daemon, again)
        assert took < 5, f"the second signal took {took:.1f} s"
