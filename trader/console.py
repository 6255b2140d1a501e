"""What `python -m trader run` shows a person on its standard output, apart from the log file.

The log file keeps every event as JSON. The console keeps the story of the run: a start banner,
the milestones (connected, warmed up, reconciled), each signal, refusal, order, fill and realized
PnL in words and numbers, a summary every 30 s, halts, warnings and errors. On a terminal it is
written for reading; when the output is redirected (systemd's journal, `make run > run.log`) the
same events are JSON lines, one per event, so nothing a person would have seen is lost.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.processors import JSONRenderer

from config.models import TraderConfig
from config.settings import Mode, Settings
from trader import __version__
from utils.log_failures import CountingHandler
from utils.logging import ManagedHandler, formatter_for, is_tty

_log = structlog.get_logger(__name__)


class ConsoleFormat(StrEnum):
    """`--log-format`: auto (human on a terminal, JSON otherwise), human or json."""

    AUTO = "auto"
    HUMAN = "human"
    JSON = "json"


_Line = Callable[[Mapping[str, Any]], str | None]


def _banner(e: Mapping[str, Any]) -> str:
    symbols = ", ".join(e.get("symbols") or []) or "none"
    return "\n".join(
        [
            f"trader {e.get('version', '')} — {str(e.get('mode', '')).upper()} mode"
            + ("  (REAL MONEY)" if e.get("mode") == "live" else "  (no money at risk)"),
            f"  venue     {e.get('venue')}",
            f"  symbols   {symbols}",
            f"  database  {e.get('database')}",
            f"  config    {e.get('config')}   log file {e.get('log_file')}",
            "  watch     python -m trader status  ·  make dashboard (http://127.0.0.1:8501)",
            "  stop      Ctrl-C (or SIGTERM): entries cancelled, exits kept, clean shutdown",
        ]
    )


def _signal(e: Mapping[str, Any]) -> str:
    return f"signal    {e['symbol']} {e['action']} at {e['price']} — {e.get('reason') or ''}".rstrip(" —")


def _decision(e: Mapping[str, Any]) -> str | None:
    if e.get("accepted"):
        return None  # the order that follows says it
    return f"refused   {e['symbol']} {e.get('signal_id', '')}: {e.get('reason')}"


def _order(e: Mapping[str, Any]) -> str | None:
    state = e.get("state")
    what = f"{e['symbol']} {e['side']} {e['quantity']}"
    if e.get("fill_qty") is not None:
        done = "filled" if state == "FILLED" else f"partly filled ({e['filled']} of {e['quantity']})"
        return f"fill      {e['symbol']} {e['side']} {e['fill_qty']} at {e['fill_price']} — {done}"
    if state == "NEW":
        return f"order     {what} accepted by the venue ({e['client_order_id']})"
    if state in ("CANCELED", "EXPIRED", "REJECTED", "LOST", "UNKNOWN"):
        reason = f": {e['reason']}" if e.get("reason") else ""
        return f"order     {what} {str(state).lower()}{reason} ({e['client_order_id']})"
    return None  # PENDING_NEW and the fills' final states are said by the lines above


def _usdt(value: Any) -> str:
    """A USDT amount for reading: 4 decimals (the log file keeps every digit)."""
    return f"{Decimal(str(value)).quantize(Decimal('0.0001'), ROUND_HALF_EVEN):f}"


def _pnl(e: Mapping[str, Any]) -> str:
    return (
        f"PnL       {e['symbol']} trade closed: {_usdt(e['trade_net'])} USDT net "
        f"(gross {_usdt(e['trade_gross'])}, fees {_usdt(e['trade_fees'])},"
        f" funding {_usdt(e['trade_funding'])});"
        f" {e['symbol']} since start {_usdt(e['net_since_start'])} USDT"
    )


def _summary(e: Mapping[str, Any]) -> str:
    return (
        f"summary   {e.get('state')} · positions {e.get('positions')} · open orders {e.get('open_orders')}"
        f" · PnL today {_usdt(e.get('pnl_today') or 0)} USDT · streams {e.get('streams')}"
        + (f" · log writes failed {e['log_writes_failed']}" if e.get("log_writes_failed") else "")
    )


def _reconciled(e: Mapping[str, Any]) -> str | None:
    if e.get("trigger") == "periodic" and e.get("result") == "ok":
        return None  # every few seconds: only what changes something is shown
    return f"reconciled ({e.get('trigger')}): {e.get('result')} — {e.get('report', '')}".rstrip(" —")


_LINES: dict[str, _Line] = {
    "console.banner": _banner,
    "daemon.started": lambda e: f"started   {e.get('mode')} · trading {', '.join(e.get('symbols') or [])}",
    "stream.connected": lambda e: (
        f"{'reconnected' if e.get('reconnect') else 'connected'} {e.get('connection', 'stream')}"
        f" ({e.get('streams', '?')} streams)"
    ),
    "strategy.volatility_guard": lambda e: None,  # the order manager's line says it
    # A gap is back-filled at once (the file keeps both lines); only one that stays is shown.
    "market_data.gap": lambda e: None,
    "order_manager.volatility_guard": lambda e: f"guard     {e['symbol']} entries held: {e.get('reason')}",
    "strategy.started": lambda e: f"warmed up {e['symbol']} ({e.get('strategy')})",
    "reconcile.done": _reconciled,
    "trade.signal": _signal,
    "trade.risk_decision": _decision,
    "trade.order": _order,
    "trade.pnl": _pnl,
    "console.summary": _summary,
    "daemon.stopping": lambda e: f"stopping  {e.get('reason')}",
    "daemon.stopped": lambda e: f"stopped   exit code {e.get('exit_code')}",
}


def _other(e: Mapping[str, Any], level: str) -> str:
    detail = " ".join(
        f"{k}={v}" for k, v in e.items() if k not in ("event", "level", "logger", "timestamp", "exc_info")
    )
    return f"{level.upper():9} {e.get('event')} {detail}".rstrip()


def wanted(event: Mapping[str, Any], levelno: int) -> bool:
    """Is this event for the console? Ours by name, and any warning or error."""
    return str(event.get("event")) in _LINES or levelno >= logging.WARNING


def human_line(event: Mapping[str, Any], levelno: int) -> str | None:
    """The console line of `event`, or None when a person would not want it."""
    line = _LINES.get(str(event.get("event")))
    if line is not None:
        try:
            text = line(event)
        except (KeyError, TypeError):  # an event without its usual fields: still shown, as data
            text = _other(event, logging.getLevelName(levelno))
        return None if text is None else f"{str(event.get('timestamp', ''))[11:19]} {text}"
    if levelno >= logging.WARNING:
        return f"{str(event.get('timestamp', ''))[11:19]} {_other(event, logging.getLevelName(levelno))}"
    return None


class _ConsoleFormatter(logging.Formatter):
    """The log file's processing (levels, time, exceptions as text, redaction), then our line."""

    def __init__(self, fmt: ConsoleFormat) -> None:
        super().__init__()
        self._json = fmt is ConsoleFormat.JSON
        self._redacted = formatter_for(JSONRenderer(default=str))

    def format(self, record: logging.LogRecord) -> str:
        line = self._redacted.format(record)
        human = human_line(json.loads(line), record.levelno)
        if human is None:
            return ""  # the same events either way: JSON for a journal, words for a terminal
        return line if self._json else human


class ConsoleHandler(CountingHandler, logging.StreamHandler, ManagedHandler):  # type: ignore[type-arg]
    """The console: the events `wanted` says, in the chosen format, on `stream` (stdout)."""

    def __init__(self, fmt: ConsoleFormat, stream: TextIO | None = None) -> None:
        stream = stream if stream is not None else sys.stdout
        chosen = fmt if fmt is not ConsoleFormat.AUTO else (
            ConsoleFormat.HUMAN if is_tty(stream) else ConsoleFormat.JSON
        )  # fmt: skip
        super().__init__(stream)
        self.format_used = chosen
        self.count_failures("stdout")
        self.setFormatter(_ConsoleFormatter(chosen))

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record's line, if the console wants it."""
        try:
            event = record.msg if isinstance(record.msg, dict) else {"event": record.getMessage()}
            if not wanted(event, record.levelno):
                return
            line = self.format(record)
            if line:
                self.stream.write(line + "\n")
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def summary_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The 30-second summary's numbers, read off a heartbeat document."""
    symbols = doc.get("symbols") or {}
    held = [
        f"{symbol} {entry['position']['quantity']} @ {entry['position']['entry_price']}"
        f" (uPnL {entry['position'].get('unrealized_pnl', '0')})"
        for symbol, entry in symbols.items()
        if entry.get("position") and str(entry["position"].get("quantity")) not in ("0", "0.0", "")
    ]
    streams = doc.get("streams") or []
    up = sum(1 for s in streams if s.get("connected"))
    failed = sum(((doc.get("logging") or {}).get("failed_writes") or {}).values())
    return {
        **({"log_writes_failed": failed} if failed else {}),
        "state": doc.get("state"),
        "positions": ", ".join(held) if held else "flat",
        "open_orders": sum(len(entry.get("open_orders") or []) for entry in symbols.values()),
        "pnl_today": (doc.get("pnl_today") or {}).get("net", "0"),
        "streams": f"{up}/{len(streams)} connected" + ("" if up == len(streams) else " (!)"),
    }


def log_banner(
    settings: Settings, config: TraderConfig, mode: Mode, config_path: Path, log_file: Path
) -> None:
    """Log the start banner: what it trades, where, what it writes, how to watch and stop it."""
    if settings.rest_url:
        venue = f"{'simulator' if mode is Mode.SIM else 'venue'} at {settings.rest_url}"
    elif mode is Mode.SIM:
        venue = f"the built-in simulator on 127.0.0.1, replaying real data at {config.simulator.speed:g}x"
    elif mode is Mode.PAPER:
        venue = "Binance's public market data; orders filled locally (no account)"
    else:
        venue = f"Binance {'futures testnet' if mode is Mode.TESTNET else 'USD-M futures (mainnet)'}"
    _log.info(
        "console.banner", version=__version__, mode=mode.value, venue=venue,
        symbols=[s.symbol for s in config.symbols], database=settings.database_url,
        config=str(config_path), log_file=str(log_file),
    )  # fmt: skip


def install_console(fmt: ConsoleFormat, stream: TextIO | None = None) -> ConsoleHandler:
    """Add the console to the root logger (configure_logging / reset_logging replace it)."""
    handler = ConsoleHandler(fmt, stream)
    logging.getLogger().addHandler(handler)
    return handler
