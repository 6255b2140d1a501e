"""The report for humans: rich tables on the console, and the trade list as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from backtest.report import TRADE_COLUMNS, trade_row
from backtest.trades import Trade


def print_report(report: dict[str, Any], console: Console) -> None:
    """Header, summary, exits by reason and the per-symbol table."""
    period = report["period"]
    costs = report["costs"]
    console.print(
        f"[bold]Backtest[/bold] {period['start']} → {period['end']} UTC, "
        f"{', '.join(report['symbols'])}, {period['candles']:,} candles, config {report['config_hash']}"
    )
    console.print(
        f"fees: taker {costs['taker_fee_bps']} bps · slippage: {costs['slippage_bps']} bps · "
        f"funding: {costs['funding']}"
    )
    s = report["summary"]
    table = Table(title="Summary", show_header=False)
    rows = [
        ("trades", s["trades"]),
        ("win rate", f"{s['win_rate_pct']} %" if s["win_rate_pct"] is not None else "—"),
        ("gross PnL", s["gross_pnl"]),
        ("fees", s["fees"]),
        ("funding", s["funding"]),
        ("net PnL", s["net_pnl"]),
        ("final equity", f"{s['final_equity']} (from {s['starting_balance']})"),
        ("max drawdown", f"{s['max_drawdown']} ({s['max_drawdown_pct']} %)"),
        ("Sharpe / Sortino (daily)", f"{s['sharpe_daily']} / {s['sortino_daily']}"),
        ("profit factor", s["profit_factor"]),
        ("time in market", f"{s['time_in_market_pct']} %"),
        ("average holding", f"{s['average_holding_minutes']} min"),
    ]
    for name, value in rows:
        table.add_row(name, str(value if value is not None else "—"))
    console.print(table)
    reasons = Table(title="Exits by reason")
    reasons.add_column("reason")
    reasons.add_column("trades", justify="right")
    for reason, count in s["exits_by_reason"].items():
        reasons.add_row(reason, str(count))
    console.print(reasons)
    per = Table(title="Per symbol")
    for column in ("symbol", "trades", "win rate %", "net PnL", "fees", "profit factor"):
        per.add_column(column, justify="left" if column == "symbol" else "right")
    for symbol, x in report["per_symbol"].items():
        per.add_row(
            symbol,
            str(x["trades"]),
            str(x["win_rate_pct"] or "—"),
            x["net_pnl"],
            x["fees"],
            str(x["profit_factor"] or "—"),
        )
    console.print(per)
    decisions = ", ".join(f"{k} {v}" for k, v in report["risk_decisions"].items()) or "none"
    console.print(f"risk decisions: {decisions}")


def trades_csv(trades: Sequence[Trade]) -> str:
    """The trade list, one row per round trip (columns: `TRADE_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TRADE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for trade in trades:
        writer.writerow(trade_row(trade))
    return out.getvalue()


__all__ = ["print_report", "trades_csv"]
