"""The crash tests' machinery: a simulator in the test process (it outlives every daemon), the daemon
as a real process trading often (the `sma_cross` strategy on fast averages, partial fills), and the
checks that nothing was lost or duplicated after a crash and a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from core.client_ids import PREFIX
from tests.integration.process_rig import SHIPPED, DaemonProcess
from tests.integration.venue import Venue

SYMBOLS = ("WLDUSDT", "ADAUSDT")
SPEED = 60.0
_HEAD = SHIPPED.read_text()[: SHIPPED.read_text().index("symbols:")]
# The crash tests check recovery, not the loss halts: fast averages lose often, and a streak halt
# (3 losses, 2 h cool-down) would stop the trading that every restart must show resuming.
CONFIG = (
    _HEAD.replace("order_ttl_seconds: 90", "order_ttl_seconds: 20")
    .replace("interval_seconds: 60", "interval_seconds: 3")
    .replace("max_consecutive_losses: 3", "max_consecutive_losses: 1000")
    .replace("daily_loss_limit_usdt: 300", "daily_loss_limit_usdt: 100000")
    + "symbols:\n"
    + "".join(
        f"""  - symbol: {symbol}
    strategy: sma_cross
    order_notional_usdt: 100
    params: {{fast: 2, slow: 5, stop_loss_pct: 0.3}}
"""
        for symbol in SYMBOLS
    )
)
assert "losses: 1000" in CONFIG and "limit_usdt: 100000" in CONFIG, "the shipped config changed"
_VENUE_TO_DB = {"EXPIRED_IN_MATCH": "EXPIRED"}


@dataclass
class Tally:
    """What the crash tests did, for their report."""

    kills: int = 0
    restarts: int = 0
    duplicates: int = 0
    lost: int = 0
    mismatches: int = 0
    notes: list[str] = field(default_factory=list)


def daemon(tmp_path: Path, venue: Venue, **env: str) -> DaemonProcess:
    """A daemon process on the shared database and folders in `tmp_path`."""
    return DaemonProcess(tmp_path, venue, config_text=CONFIG, **env)


async def wait_for_orders(process: DaemonProcess, *, more_than: int, within: float = 60.0) -> int:
    """Wait until the database holds more than `more_than` orders; how many it holds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        count = int(process.rows("SELECT count(*) FROM orders")[0][0])
        if count > more_than:
            return count
        if process.process is not None and process.process.returncode is not None:
            return count
        await asyncio.sleep(0.1)
    raise AssertionError(f"no new order within {within}s (still {more_than})")


def check_db_equals_venue(process: DaemonProcess, venue: Venue, tally: Tally) -> None:
    """After a clean stop: no client id sent twice, every venue order of ours in the database with
    its status and executed quantity, every fill once, positions equal. Differences are counted in
    `tally` and raised."""
    engine = venue.server.exchange.engine
    ours = [o for s in SYMBOLS for o in engine.orders(s) if o.client_order_id.startswith(PREFIX)]
    sent = Counter(o.client_order_id for o in ours)
    duplicated = {cid: n for cid, n in sent.items() if n > 1}
    tally.duplicates += len(duplicated)
    rows = {cid: (state, Decimal(filled)) for cid, state, filled in process.rows(
        "SELECT client_order_id, state, filled_qty FROM orders")}  # fmt: skip
    problems: list[str] = [f"sent twice: {cid} x{n}" for cid, n in duplicated.items()]
    for order in ours:
        row = rows.get(order.client_order_id)
        status = _VENUE_TO_DB.get(order.status, order.status)
        if row is None:
            tally.lost += 1
            problems.append(f"venue order {order.client_order_id} ({status}) is not in the database")
        elif row != (status, order.executed_qty):
            tally.mismatches += 1
            problems.append(f"{order.client_order_id}: database {row}, venue {(status, order.executed_qty)}")
    for cid, (state, _) in rows.items():
        if cid not in sent and state not in ("LOST", "REJECTED", "EXPIRED"):
            tally.mismatches += 1
            problems.append(f"{cid} is {state} in the database but the venue never had it")
    venue_trades = Counter((t.symbol, t.trade_id) for s in SYMBOLS for t in engine.trades(s))
    db_trades = Counter((s, int(t)) for s, t in process.rows("SELECT symbol, trade_id FROM fills"))
    for key in venue_trades.keys() - db_trades.keys():
        tally.lost += 1
        problems.append(f"fill {key} is not in the database")
    for key, n in db_trades.items():
        if n > 1 or key not in venue_trades:
            tally.mismatches += 1
            problems.append(f"fill {key} booked {n} times, venue {venue_trades.get(key, 0)}")
    positions = {s: Decimal(q) for s, q in process.rows("SELECT symbol, quantity FROM positions")}
    for symbol in SYMBOLS:
        theirs = engine.account.position(symbol).amount
        mine = positions.get(symbol, Decimal(0))
        if mine != theirs:
            tally.mismatches += 1
            problems.append(f"{symbol}: position {mine} in the database, {theirs} on the venue")
    assert not problems, "\n".join(problems)
