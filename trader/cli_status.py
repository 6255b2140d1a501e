"""`python -m trader status [--json]`: is the daemon healthy, what does it hold, and why is it not
trading? Read from the heartbeat (and from the database when the daemon is down).

The exit code is the health (`trader/health.py`): 0 healthy, 1 degraded, 2 not running, 3 no
heartbeat, so a systemd timer, cron or a monitoring agent can act on it.
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from config.loader import load_settings
from trader.health import Health, Verdict, judge, read_heartbeat

_STYLE = {Health.HEALTHY: "bold green", Health.DEGRADED: "bold yellow", Health.NOT_RUNNING: "bold red",
          Health.NO_HEARTBEAT: "bold red"}  # fmt: skip


def add_parser(sub: Any) -> None:
    """`status [--json]`."""
    parser = sub.add_parser(
        "status",
        help="is the daemon healthy, what it holds, why entries are off (exit code = health)",
        description=(
            "Reads status/heartbeat.json (and the database when the daemon is down). Exit code: "
            "0 healthy, 1 degraded (entries paused, a stream stale, reconciliation failing), "
            "2 not running (heartbeat older than 3 intervals, or its process gone), 3 no heartbeat."
        ),
    )
    parser.add_argument(
        "--json", action="store_true", help="print the heartbeat with a computed `health` field"
    )
    parser.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    """Print the daemon's status; return its health as the exit code."""
    settings = load_settings()
    verdict = judge(read_heartbeat(settings.status_dir / "heartbeat.json"))
    # Several daemons on one database: the last reconciliation shown is this daemon's.
    instance = (verdict.heartbeat or {}).get("instance_id")
    stored = (
        _from_database(settings.database_url, instance if isinstance(instance, str) else None)
        if verdict.health >= Health.NOT_RUNNING
        else None
    )
    if args.json:
        document = dict(verdict.heartbeat or {})
        document["health"] = verdict.as_dict()
        if stored is not None:
            document["database_view"] = stored
        print(json.dumps(document, indent=2, sort_keys=True, default=str))
    else:
        _render(Console(soft_wrap=True), verdict, stored)
    return int(verdict.health)


def _from_database(url: str, instance_id: str | None = None) -> dict[str, Any] | None:
    """Positions, live orders and the last reconciliation, read straight from the database."""
    try:
        from sqlmodel import select

        from core.order_state import LIVE_STATES
        from database.engine import Database
        from database.migrate import is_up_to_date
        from database.models import OrderRow, PositionRow
        from executor.orders.reconcile_store import last_run

        if not is_up_to_date(url):
            return None
        db = Database(url)
        try:
            with db.session() as session:
                positions = {
                    r.symbol: {"quantity": str(r.quantity), "entry_price": str(r.entry_price)}
                    for r in session.exec(select(PositionRow)).all()
                    if Decimal(r.quantity) != 0
                }
                live = [s.value for s in LIVE_STATES]
                orders = [
                    {
                        "client_order_id": r.client_order_id,
                        "symbol": r.symbol,
                        "side": r.side,
                        "state": r.state,
                    }
                    for r in session.exec(select(OrderRow)).all()
                    if r.state in live
                ]
                run = last_run(session, instance_id)
        finally:
            db.close()
    except Exception:  # status must answer even when the database cannot
        return None
    return {
        "positions": positions,
        "open_orders": orders,
        "last_reconciliation": None
        if run is None
        else {"time_ms": run.time, "result": run.result, "detail": run.detail},
    }


def _age(ms: object) -> str:
    if not isinstance(ms, int | float):
        return "-"
    seconds = ms / 1000
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _render(console: Console, verdict: Verdict, stored: dict[str, Any] | None) -> None:
    doc = verdict.heartbeat
    head = f"[{_STYLE[verdict.health]}]{verdict.health.label.upper()}[/]"
    if doc is not None:
        mode = str(doc.get("mode", "?")).upper()
        mode_text = f"[bold white on red] {mode} [/]" if mode == "LIVE" else f"[bold]{mode}[/]"
        state = doc.get("state", "?")
        reason = f" ({doc['state_reason']})" if doc.get("state_reason") else ""
        uptime = float(doc.get("uptime_s") or 0)
        console.print(f"{head}  {mode_text}  {doc.get('instance_id', '')}  state: [bold]{state}[/]{reason}")
        console.print(
            f"  uptime {uptime / 3600:.1f} h, heartbeat {verdict.age_s or 0:.0f} s ago, pid {doc.get('pid')}"
        )
    else:
        console.print(head)
    for reason in verdict.reasons:
        console.print(f"  - {reason}")
    if doc is not None and doc.get("schema_version") != 1:
        console.print("  (the heartbeat was written by an older version: sections not shown)")
        doc = None
    if doc is not None:
        _render_streams(console, doc)
        _render_symbols(console, doc)
        pnl = doc.get("pnl_today") or {}
        console.print(
            f"today: net {pnl.get('net', '0')} USDT (realized {pnl.get('realized', '0')}, "
            f"fees {pnl.get('fees', '0')}, funding {pnl.get('funding', '0')})"
        )
        rec = doc.get("reconciliation") or {}
        when = (
            time.strftime("%H:%M:%S", time.gmtime(rec["last_run_ms"] / 1000))
            if rec.get("last_run_ms")
            else "never"
        )
        result, differences = rec.get("result", "never"), rec.get("differences", 0)
        console.print(f"reconciliation: {result} at {when} UTC, {differences} differences")
        error = doc.get("last_error")
        if error:
            console.print(f"last error: {error.get('message')}")
    if stored is not None:
        console.print("[bold]from the database[/] (the daemon is not running):")
        for symbol, position in stored["positions"].items():
            console.print(f"  {symbol}: {position['quantity']} @ {position['entry_price']}")
        for order in stored["open_orders"]:
            console.print(
                f"  order {order['client_order_id']} {order['symbol']} {order['side']} {order['state']}"
            )
        run = stored["last_reconciliation"]
        if run is not None:
            console.print(f"  last reconciliation: {run['result']} ({run['detail']})")


def _render_streams(console: Console, doc: dict[str, Any]) -> None:
    table = Table(title="streams", title_justify="left")
    for column in ("stream", "connected", "last message", "reconnects"):
        table.add_column(column)
    for stream in doc.get("streams") or []:
        table.add_row(
            str(stream.get("name")),
            "yes" if stream.get("connected") else "[red]no[/]",
            _age(stream.get("last_message_age_ms")),
            str(stream.get("reconnects", 0)),
        )
    user = doc.get("user_stream") or {}
    key_age = user.get("listen_key_age_s")
    table.add_row(
        "user data" + (f" (listenKey {key_age / 60:.0f} min)" if isinstance(key_age, int | float) else ""),
        "yes" if user.get("connected") else "[red]no[/]",
        _age(user.get("last_message_age_ms")),
        str(user.get("reconnects", 0)),
    )
    console.print(table)


def _render_symbols(console: Console, doc: dict[str, Any]) -> None:
    table = Table(title="symbols", title_justify="left")
    for column in ("symbol", "position", "entry", "mark", "unrealized", "open orders", "entries"):
        table.add_column(column)
    for symbol, info in sorted((doc.get("symbols") or {}).items()):
        position = info.get("position") or {}
        blocks = info.get("entries_blocked_by") or []
        entries = (
            "on"
            if info.get("entries_enabled")
            else "[yellow]off: " + "; ".join(f"{b.get('reason')} ({b.get('detail')})" for b in blocks) + "[/]"
        )
        table.add_row(
            symbol,
            str(position.get("quantity", "0")),
            str(position.get("entry_price", "0")),
            str(position.get("mark_price") or "-"),
            str(position.get("unrealized_pnl") or "-"),
            str(len(info.get("open_orders") or [])),
            entries,
        )
    console.print(table)
