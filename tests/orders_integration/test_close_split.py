"""A close larger than MARKET_LOT_SIZE's maxQty leaves as several reduce-only orders within it.

The whole exit path runs: a CLOSE signal on the bus, the real risk gate, the order manager, the
simulator (which refuses a MARKET order above maxQty with -4005, as Binance does)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from pathlib import Path

from core import channels
from core.client_ids import client_order_id_for
from core.events import Side, Signal, SignalAction
from database.engine import Database
from executor.risk.gate import RiskGate
from tests.orders_integration.rig import DATA, SYMBOL, check_db_matches_venue, order_rig, wait_for
from tests.risk._fixtures import limits

MARKET_MAX = "100"


def _data_with_market_max(tmp_path: Path) -> Path:
    """The simulator's data with WLDUSDT's MARKET_LOT_SIZE maxQty lowered to MARKET_MAX."""
    doc = json.loads((DATA / "exchange_info.json").read_text())
    for symbol in doc["symbols"]:
        if symbol["symbol"] == SYMBOL:
            for f in symbol["filters"]:
                if f["filterType"] == "MARKET_LOT_SIZE":
                    f["maxQty"] = MARKET_MAX
    data = tmp_path / "data"
    data.mkdir()
    (data / "exchange_info.json").write_text(json.dumps(doc))
    (data / "klines").symlink_to(DATA / "klines")
    return data


async def test_a_close_above_market_max_qty_is_split_into_reduce_only_parts(
    db: Database, tmp_path: Path
) -> None:
    async with order_rig(db, data_dir=_data_with_market_max(tmp_path)) as rig:
        assert rig.instruments[SYMBOL].market_max_qty == Decimal(MARKET_MAX)
        gate = RiskGate(
            rig.bus,
            rig.clock,
            db,
            rig.instruments,
            limits_for=lambda _symbol: limits(),
            starting_equity=Decimal(10000),
        )
        task = asyncio.create_task(gate.run(), name="itest.risk_gate")
        try:
            await asyncio.wait_for(gate.ready.wait(), 5)
            for index in range(3):  # 250 long, opened in parts the venue accepts
                qty = "100" if index < 2 else "50"
                rig.publish(rig.request(f"itest-open-{index}", Side.BUY, qty))
                await rig.wait_state(f"itest-open-{index}", "FILLED")
            await wait_for(
                lambda: _true(gate.state.position_qty(SYMBOL) == Decimal(250)), 5, "the gate sees 250 long"
            )

            close = Signal(
                signal_id="itest-close-1",
                symbol=SYMBOL,
                strategy="itest",
                action=SignalAction.CLOSE,
                reason="exit",
                price=rig.mark(),
                event_time=rig.clock.now_ms(),
            )
            rig.bus.publish(channels.signal(SYMBOL), close)
            parts = [client_order_id_for("itest-close-1", i) for i in range(3)]
            first = await rig.wait_state(parts[0], "FILLED", "REJECTED")
            assert first.state == "FILLED", f"the close was refused: {first.reason}"

            async def flat() -> bool:
                return not [p for p in await rig.probe.positions() if p.symbol == SYMBOL and p.quantity != 0]

            await wait_for(flat, 10, "the venue flat after the close")
            for cid, qty in zip(parts, ("100", "100", "50"), strict=True):
                row = await rig.wait_state(cid, "FILLED")
                assert row.reduce_only and row.side == "SELL" and Decimal(row.quantity) == Decimal(qty)
            assert [o for o in rig.venue_orders() if o["status"] == "REJECTED"] == []
            await check_db_matches_venue(rig)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _true(value: bool) -> bool:
    return value
