"""The console's words (issue 13 item 9): a trade's realized PnL when it closes, the 30-second
summary, and the line each event becomes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal

from structlog.testing import capture_logs

from core import channels
from core.bus import Bus
from core.events import PositionUpdate
from trader.audit import TradeLog
from trader.console import human_line, summary_fields

D = Decimal


def _position(quantity: str, realized: str, fees: str, funding: str = "0") -> PositionUpdate:
    return PositionUpdate(
        symbol="WLDUSDT", quantity=D(quantity), entry_price=D("1.5"), realized_pnl=D(realized),
        event_time=0, strategy="vwap", fees=D(fees), funding=D(funding),
    )  # fmt: skip


async def test_a_closed_trade_is_logged_with_its_net_pnl_fees_and_funding() -> None:
    bus = Bus()
    log = TradeLog(bus)
    task = asyncio.create_task(log.run())
    with capture_logs() as logs:
        for update in (
            _position("0", "10", "1"),  # flat at start: the baseline
            _position("100", "10", "1.2"),  # opened: 0.2 fee
            _position("0", "10.4", "1.4", "-0.05"),  # closed: +0.40 gross, 0.2 fee, funding paid
            _position("-50", "10.4", "1.5", "-0.05"),
            _position("0", "9.9", "1.6", "-0.05"),  # a losing short
        ):
            bus.publish(channels.POSITION_UPDATE, update)
            await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    trades = [e for e in logs if e["event"] == "trade.pnl"]
    assert [(t["trade_gross"], t["trade_fees"], t["trade_funding"], t["trade_net"]) for t in trades] == [
        ("0.4", "0.4", "-0.05", "-0.05"),
        ("-0.5", "0.2", "0.00", "-0.70"),
    ]
    assert trades[-1]["net_since_start"] == "-0.75"
    line = human_line({**trades[0], "timestamp": "2026-12-04T10:00:00Z"}, logging.INFO)
    assert line == (
        "10:00:00 PnL       WLDUSDT trade closed: -0.0500 USDT net (gross 0.4000, fees 0.4000,"
        " funding -0.0500); WLDUSDT since start -0.0500 USDT"
    )


async def test_a_summary_every_interval_from_the_status_document() -> None:
    doc = {
        "state": "running",
        "symbols": {
            "WLDUSDT": {"position": {"quantity": "-146", "entry_price": "1.3688", "unrealized_pnl": "2.1"},
                        "open_orders": [{"side": "BUY"}]},
            "ADAUSDT": {"position": {"quantity": "0", "entry_price": "0"}, "open_orders": []},
        },
        "pnl_today": {"net": "-3.25"},
        "streams": [{"connected": True}, {"connected": False}],
    }  # fmt: skip
    log = TradeLog(Bus(), lambda: doc, summary_every_s=0.05)
    with capture_logs() as logs:
        task = asyncio.create_task(log.run())
        await asyncio.sleep(0.18)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    summaries = [e for e in logs if e["event"] == "console.summary"]
    assert len(summaries) >= 2
    assert summary_fields(doc) == {
        "state": "running", "positions": "WLDUSDT -146 @ 1.3688 (uPnL 2.1)", "open_orders": 1,
        "pnl_today": "-3.25", "streams": "1/2 connected (!)",
    }  # fmt: skip


def test_each_event_in_words() -> None:
    at = {"timestamp": "2026-12-04T10:00:00.123Z"}
    order = {"symbol": "WLDUSDT", "side": "SELL", "quantity": "146", "filled": "146",
             "client_order_id": "tr-x", "reason": ""}  # fmt: skip
    cases = [
        ({"event": "trade.signal", "symbol": "WLDUSDT", "action": "OPEN_SHORT", "price": "1.3688",
          "reason": "close above upper band"},
         "signal    WLDUSDT OPEN_SHORT at 1.3688 — close above upper band"),
        ({"event": "trade.order", **order, "state": "NEW"},
         "order     WLDUSDT SELL 146 accepted by the venue (tr-x)"),
        ({"event": "trade.order", **order, "state": "FILLED", "fill_qty": "146", "fill_price": "1.3690"},
         "fill      WLDUSDT SELL 146 at 1.3690 — filled"),
        ({"event": "trade.order", **order, "state": "CANCELED", "reason": "TTL 90s expired"},
         "order     WLDUSDT SELL 146 canceled: TTL 90s expired (tr-x)"),
        ({"event": "trade.risk_decision", "symbol": "WLDUSDT", "signal_id": "s1", "accepted": False,
          "reason": "symbol_halted"}, "refused   WLDUSDT s1: symbol_halted"),
    ]  # fmt: skip
    for event, expected in cases:
        assert human_line({**event, **at}, logging.INFO) == f"10:00:00 {expected}"
    assert human_line({"event": "trade.order", **order, "state": "PENDING_NEW", **at}, logging.INFO) is None
    assert human_line({"event": "trade.risk_decision", "accepted": True, **at}, logging.INFO) is None
    assert human_line({"event": "market_data.backfilled", **at}, logging.INFO) is None  # developer detail
    assert human_line({"event": "market_data.gap", "minutes": 5, **at}, logging.WARNING) is None
    unrepaired = {"event": "market_data.gap_unrepaired", "symbol": "WLDUSDT", "still_missing": 3, **at}
    assert human_line(unrepaired, logging.WARNING) == (
        "10:00:00 WARNING   market_data.gap_unrepaired symbol=WLDUSDT still_missing=3"
    )
    warning = human_line({"event": "gateway.rate_limited", "retry_after_s": 37, **at}, logging.WARNING)
    assert warning == "10:00:00 WARNING   gateway.rate_limited retry_after_s=37"
