"""The numbers of a backtest: what a person decides on, as plain data (JSON-ready strings).

Money is summed in Decimal and shown as strings; the max drawdown is measured on the equity after
each exit (realised) and at each UTC day's end (marked to market); ratios (Sharpe, Sortino,
profit factor) are floats rounded for humans. Sharpe and Sortino are computed on daily returns of
the equity (UTC days, not annualised: multiply by √365 to annualise). Deterministic: the same
inputs give the same document, key order included; timing fields live under "timing" only.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from backtest.trades import Trade

_ZERO = Decimal(0)
_CENT = Decimal("0.01")


def iso(ms: int) -> str:
    """Epoch ms as an ISO UTC timestamp (to the minute)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def money(value: Decimal) -> str:
    """USDT to the cent, for humans."""
    return str(value.quantize(_CENT))


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What was run: period, symbols, costs, the config's hash."""

    start_ms: int
    end_ms: int
    symbols: tuple[str, ...]
    candles: int
    config_hash: str
    starting_balance: Decimal
    taker_fee_bps: Decimal
    slippage_bps: Decimal
    funding: str  # "not modelled", "flat rate X", "imported data"


def _drawdown(equity: Sequence[tuple[int, Decimal]]) -> tuple[Decimal, float]:
    peak = None
    worst = _ZERO
    worst_pct = 0.0
    for _, value in equity:
        peak = value if peak is None or value > peak else peak
        dd = peak - value
        if dd > worst:
            worst = dd
            worst_pct = float(dd / peak * 100) if peak > 0 else 0.0
    return worst, worst_pct


def _observed(
    info: RunInfo, trades: Sequence[Trade], equity: Sequence[tuple[int, Decimal]]
) -> list[tuple[int, Decimal]]:
    """Equity at the start, after each exit (realised) and at each day's end (marked), by time.

    The exits matter: a loss taken and won back within a day never shows at the day's end.
    """
    points = [(info.start_ms, 0, info.starting_balance)]
    running = info.starting_balance
    for trade in sorted(trades, key=lambda t: t.exit_time):
        running += trade.net_pnl
        points.append((trade.exit_time, 0, running))
    points += [(t, 1, v) for t, v in equity]  # a day's end mark after an exit at the same instant
    return [(t, v) for t, _, v in sorted(points, key=lambda p: (p[0], p[1]))]


def _plain(value: Decimal) -> str:
    """A price as plain digits (1000, not 1E+3)."""
    return format(value.normalize(), "f")


def _ratios(equity: Sequence[tuple[int, Decimal]]) -> tuple[float | None, float | None]:
    values = [float(v) for _, v in equity]
    returns = [b / a - 1.0 for a, b in itertools.pairwise(values) if a > 0]
    if len(returns) < 2:
        return None, None
    mean = sum(returns) / len(returns)
    sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    sharpe = mean / sd if sd > 0 else None
    sortino = mean / downside if downside > 0 else None
    return sharpe, sortino


def summarize(trades: Sequence[Trade]) -> dict[str, Any]:
    """Trade statistics of a list of round trips."""
    wins = [t for t in trades if t.net_pnl > 0]
    gross = sum((t.gross_pnl for t in trades), _ZERO)
    fees = sum((t.fees for t in trades), _ZERO)
    funding = sum((t.funding for t in trades), _ZERO)
    net = gross + fees + funding
    won = sum((t.net_pnl for t in wins), _ZERO)
    lost = -sum((t.net_pnl for t in trades if t.net_pnl < 0), _ZERO)
    held = [t.exit_time - t.entry_time for t in trades]
    return {
        "trades": len(trades),
        "win_rate_pct": round(len(wins) / len(trades) * 100, 2) if trades else None,
        "gross_pnl": money(gross),
        "fees": money(fees),
        "funding": money(funding),
        "net_pnl": money(net),
        "profit_factor": round(float(won / lost), 3) if lost > 0 else None,
        "average_holding_minutes": round(sum(held) / len(held) / 60_000, 1) if held else None,
        "exits_by_reason": dict(sorted(Counter(t.reason for t in trades).items())),
    }


def build_report(
    info: RunInfo,
    trades: Sequence[Trade],
    equity: Sequence[tuple[int, Decimal]],
    *,
    decisions: Mapping[str, int],
    timing: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The whole report as one JSON-ready document (see the module docstring)."""
    dd, dd_pct = _drawdown(_observed(info, trades, equity))
    sharpe, sortino = _ratios([(info.start_ms, info.starting_balance), *equity])
    in_market = sum(t.exit_time - t.entry_time for t in trades)
    span = max(info.end_ms - info.start_ms, 1) * max(len(info.symbols), 1)
    final = equity[-1][1] if equity else info.starting_balance
    report: dict[str, Any] = {
        "period": {
            "start": iso(info.start_ms),
            "end": iso(info.end_ms),
            "start_ms": info.start_ms,
            "end_ms": info.end_ms,
            "candles": info.candles,
        },
        "symbols": list(info.symbols),
        "config_hash": info.config_hash,
        "costs": {
            "taker_fee_bps": str(info.taker_fee_bps),
            "slippage_bps": str(info.slippage_bps),
            "funding": info.funding,
        },
        "summary": {
            **summarize(trades),
            "starting_balance": money(info.starting_balance),
            "final_equity": money(final),
            "max_drawdown": money(dd),
            "max_drawdown_pct": round(dd_pct, 3),
            "sharpe_daily": round(sharpe, 4) if sharpe is not None else None,
            "sortino_daily": round(sortino, 4) if sortino is not None else None,
            "time_in_market_pct": round(in_market / span * 100, 2),
        },
        "per_symbol": {
            symbol: summarize([t for t in trades if t.symbol == symbol]) for symbol in info.symbols
        },
        "risk_decisions": dict(sorted(decisions.items())),
        "equity": [{"time_ms": t, "equity": money(v)} for t, v in equity],
        "trades": [trade_row(t) for t in trades],
    }
    if timing is not None:
        report["timing"] = {k: round(v, 3) for k, v in timing.items()}
    return report


TRADE_COLUMNS = (
    "symbol",
    "side",
    "quantity",
    "entry_time_ms",
    "entry_price",
    "exit_time_ms",
    "exit_price",
    "reason",
    "gross_pnl",
    "fees",
    "funding",
    "net_pnl",
)


def trade_row(t: Trade) -> dict[str, Any]:
    """One trade as the JSON report and the trades CSV give it."""
    return {
        "symbol": t.symbol,
        "side": t.side,
        "quantity": str(t.quantity),
        "entry_time_ms": t.entry_time,
        "entry_price": _plain(t.entry_price),
        "exit_time_ms": t.exit_time,
        "exit_price": _plain(t.exit_price),
        "reason": t.reason,
        "gross_pnl": str(t.gross_pnl),
        "fees": str(t.fees),
        "funding": str(t.funding),
        "net_pnl": str(t.net_pnl),
    }


__all__ = ["TRADE_COLUMNS", "RunInfo", "build_report", "iso", "money", "summarize", "trade_row"]
