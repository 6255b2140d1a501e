"""How `trader parity` prints its verdict: one line when the runs agree, else each difference."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from trader.parity import NOT_COMPARED, ParityResult


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def verdict(result: ParityResult) -> str:
    """The one summary line."""
    orders = len(result.live.orders)
    return f"parity: {len(result.differences)} differences over {result.candles} candles, {orders} orders"


def print_result(result: ParityResult, console: Console) -> None:
    """The window, what each side did, the differences side by side, and what is not compared."""
    w = result.window
    console.print(
        f"window {_when(w.start_ms)} to {_when(w.end_ms)} UTC, {', '.join(result.symbols)}; "
        f"updates every {w.kline_update_ms / 1000:g} s (kline) / {w.mark_update_ms / 1000:g} s (mark), "
        f"{result.steps:,} clock steps",
        highlight=False,
    )
    for symbol, why in sorted(result.skipped.items()):
        console.print(f"  {symbol} left out: {why}", highlight=False)
    counts = Table(title="What each run did", title_justify="left")
    counts.add_column("")
    for name in ("signals", "risk decisions", "orders", "fills"):
        counts.add_column(name, justify="right")
    for side, d in (("live (daemon)", result.live), ("backtest", result.backtest)):
        counts.add_row(
            side, str(len(d.signals)), str(len(d.decisions)), str(len(d.orders)), str(len(d.fills))
        )
    console.print(counts)
    for p in result.live.positions:
        console.print(
            f"  final {p.symbol}: quantity {p.quantity}, realized PnL {p.realized_pnl}, fees {p.fees}",
            highlight=False,
        )
    if result.differences:
        table = Table(title="Differences", title_justify="left")
        for column in ("kind", "key", "field", "live", "backtest"):
            table.add_column(column, overflow="fold")
        for diff in result.differences:
            table.add_row(diff.kind, diff.key, diff.field, diff.live, diff.backtest)
        console.print(table)
    console.print("not compared, because they differ by nature:", highlight=False)
    for item in NOT_COMPARED:
        console.print(f"  - {item}", highlight=False)
    console.print(verdict(result), style="green" if not result.differences else "red", highlight=False)


__all__ = ["print_result", "verdict"]
