"""Health: is the daemon up, what is it connected to, and why would it not open a position right now."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.context import Context
from dashboard.heartbeat_view import Health, Status, stale_after_s, streams_of, symbols_of
from dashboard.history_queries import reconciliation_runs
from dashboard.page import run_page
from dashboard.schema import schema_revision
from dashboard.widgets import table, utc

_VERDICT = {
    Status.UP: "up: running, every stream fresh",
    Status.DEGRADED: "degraded: running, but see below",
    Status.STALE: "STALE: the daemon stopped writing its heartbeat",
    Status.STOPPED: "stopped",
    Status.MISSING: "no heartbeat",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _age(ms: object) -> str:
    return _duration(ms / 1000) if isinstance(ms, int | float) else "—"


def _headline(health: Health) -> None:
    document = health.document
    st.subheader(_VERDICT[health.status])
    columns = st.columns(5)
    columns[0].metric("Status", health.status.value)
    columns[1].metric("State", str(document.get("state", "—")))
    columns[2].metric("Uptime", _duration(document.get("uptime_s")))
    columns[3].metric(
        "Heartbeat age", _duration(health.age_s), help=f"STALE after {stale_after_s(document):.0f} s"
    )
    pnl = document.get("pnl_today")
    columns[4].metric(
        "Net PnL today",
        pnl.get("net", "—") if isinstance(pnl, dict) else "—",
        help="realized − fees + funding since 00:00 UTC",
    )
    for reason in health.reasons if health.status is Status.DEGRADED else []:
        st.warning(reason, icon=":material/warning:")
    facts = [f"{k} {document[k]}" for k in ("instance_id", "version", "pid") if document.get(k) is not None]
    if document.get("state_reason"):
        facts.append(f"state reason: {document['state_reason']}")
    if facts:
        st.caption(" · ".join(str(f) for f in facts))


def _streams(document: dict[str, Any]) -> None:
    st.subheader("Streams")
    rows = [
        {
            "stream": s.get("name", "?"),
            "connected": bool(s.get("connected")),
            "last message": _age(s.get("last_message_age_ms")),
            "reconnects": s.get("reconnects"),
            "messages": s.get("messages"),
            "malformed": s.get("malformed"),
            "last error": s.get("last_error", ""),
        }
        for s in streams_of(document)
    ]
    user = document.get("user_stream")
    users = (
        [user]
        if isinstance(user, dict)
        else [u for u in user if isinstance(u, dict)]
        if isinstance(user, list)
        else []
    )
    for u in users:
        key_age = u.get("listen_key_age_s")
        rows.append(
            {
                "stream": "user data" + (f" (listenKey {_duration(key_age)})" if key_age is not None else ""),
                "connected": bool(u.get("connected")),
                "last message": _age(u.get("last_message_age_ms")),
                "reconnects": u.get("reconnects"),
                "messages": u.get("messages"),
                "malformed": u.get("malformed"),
                "last error": u.get("last_error", ""),
            }
        )
    table(pd.DataFrame(rows), empty="The heartbeat lists no streams.", key="streams")


def _queues(document: dict[str, Any]) -> None:
    st.subheader("Queues")
    bus = document.get("bus")
    subscribers = bus.get("subscribers", []) if isinstance(bus, dict) else []
    rows = [
        {
            "consumer": s.get("name"),
            "channel": s.get("pattern"),
            "depth": s.get("depth"),
            "max depth": s.get("max_depth"),
            "lag ms": s.get("last_lag_ms"),
            "max lag ms": s.get("max_lag_ms"),
            "conflated": s.get("conflated"),
        }
        for s in subscribers
        if isinstance(s, dict)
    ]
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.sort_values("lag ms", ascending=False, ignore_index=True)
    table(frame, empty="The heartbeat has no queue figures.", key="queues")


def _entries(document: dict[str, Any]) -> None:
    st.subheader("Entries per symbol")
    rows = []
    for symbol, entry in sorted(symbols_of(document).items()):
        blocks = [b for b in entry.get("entries_blocked_by", []) if isinstance(b, dict)]
        held = entry.get("position")
        position: dict[str, Any] = held if isinstance(held, dict) else {}
        rows.append(
            {
                "symbol": symbol,
                "strategy": entry.get("strategy"),
                "entries": "on" if entry.get("entries_enabled") else "OFF",
                "why off": "; ".join(f"{b.get('reason')}: {b.get('detail', '')}" for b in blocks),
                "until": min(
                    (b["until_ms"] for b in blocks if isinstance(b.get("until_ms"), int)), default=None
                ),
                "last candle": _age(entry.get("last_closed_candle_age_ms")),
                "position": position.get("quantity", "0"),
                "open orders": len(entry.get("open_orders", [])),
                "owner": entry.get("owner"),
            }
        )
    empty = (
        "Old heartbeat format: per-symbol entry state is not reported."
        if "schema_version" not in document
        else "No symbols."
    )
    table(utc(pd.DataFrame(rows), "until"), empty=empty, key="entries")


def _database_and_reconciliation(context: Context) -> None:
    document = context.health.document
    left, right = st.columns(2)
    with left:
        st.subheader("Database")
        database = document.get("database")
        if isinstance(database, dict):
            latency = database.get("last_write_latency_ms")
            st.write(
                f"Daemon's view: **{'ok' if database.get('ok') else 'NOT OK'}**"
                f" ({database.get('backend', '?')}),"
                f" last write {latency if latency is not None else '—'} ms"
            )
            if database.get("error"):
                st.error(str(database["error"]))
        if context.source is not None:
            with context.source.connect() as connection:
                revision = schema_revision(connection, context.source.schema)
            st.write(f"Dashboard reads {context.url_shown} (read-only), schema revision `{revision}`")
        else:
            st.write(context.problem or "No database.")
    with right:
        st.subheader("Last reconciliation")
        summary = document.get("reconciliation")
        if isinstance(summary, dict):
            when = summary.get("last_run_ms")
            shown = (
                pd.Timestamp(when, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
                if isinstance(when, int)
                else "never"
            )
            st.write(
                f"**{summary.get('result')}** at {shown}, {summary.get('differences', 0)} difference(s),"
                f" {summary.get('runs', 0)} run(s) since start"
            )
            if summary.get("detail"):
                st.caption(str(summary["detail"]))
        elif context.source is not None and context.source.schema.has("reconciliation_runs"):
            runs = reconciliation_runs(context.source, 0, 1)
            table(utc(runs, "time"), empty="No reconciliation has run yet.", key="last-reconciliation")
        else:
            st.caption("Not reported.")


def _last_error(document: dict[str, Any]) -> None:
    st.subheader("Last error")
    error = document.get("last_error")
    if isinstance(error, dict):
        when = pd.Timestamp(error.get("time_ms", 0), unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
        st.code(f"{when} UTC  {error.get('message', '')}", language=None)
    else:
        st.caption(
            "None reported." if "schema_version" in document else "Not reported by this heartbeat format."
        )


def body(context: Context) -> None:
    """The Health page."""
    health = context.health
    if health.old_format:
        st.warning(
            "Old heartbeat format (no `schema_version`): showing what it has. Update the daemon for the rest."
        )
    if health.status is Status.MISSING:
        st.info(f"{health.problem}. Start it with `make run`.")
    _headline(health)
    _entries(health.document)
    _streams(health.document)
    _queues(health.document)
    _database_and_reconciliation(context)
    _last_error(health.document)


run_page("Health", body, needs_database=False)
