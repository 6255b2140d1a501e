"""Why a symbol's entries are off right now: every reason the risk side knows, for the heartbeat.

The same rules the gate applies to a signal (`rules.py`), asked without a signal: the kill switch,
a loss halt, a risk limit already reached (daily loss, exposure, order rate), the funding window,
and reconciliation's pauses. The daemon adds the strategy's own reasons (volatility guard, symbol
removed) and stale data. Exits are never blocked by any of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from config.models import RiskLimits
from executor.risk.entry_pauses import EntryPauses
from executor.risk.portfolio import PortfolioPnl, check_portfolio_daily_loss
from executor.risk.rules import check_daily_loss, check_funding_window, check_order_rate
from executor.risk.state import RiskState

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class EntryBlock:
    """One reason entries are off (the heartbeat's `entries_blocked_by` items)."""

    reason: str  # kill_switch | loss_halt | risk_limit | funding_window | not_reconciled | ...
    detail: str
    until_ms: int | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"reason": self.reason, "detail": self.detail, "until_ms": self.until_ms}


def entry_blocks(
    state: RiskState,
    pauses: EntryPauses,
    limits: RiskLimits,
    *,
    symbol: str,
    strategy: str,
    portfolio: PortfolioPnl | None = None,
) -> list[EntryBlock]:
    """Every risk-side reason `strategy` may not open a position on `symbol` now (`portfolio`:
    every daemon's PnL today, for the portfolio-wide daily loss limit)."""
    ctx = state.entry_context(strategy, symbol)
    blocks: list[EntryBlock] = []
    if ctx.global_halt is not None:
        blocks.append(EntryBlock("kill_switch", ctx.global_halt))
    halt = ctx.symbol_halt
    if halt is not None and halt.active(ctx.now_ms):
        blocks.append(
            EntryBlock(
                "loss_halt" if halt.until_ms is not None else "kill_switch", halt.reason, halt.until_ms
            )
        )
    pause = pauses.pause_of(symbol)
    if pause is not None:
        blocks.append(EntryBlock(pause[0].value, pause[1]))
    if check_daily_loss(ctx.realized_today, ctx.unrealized, limits) is not None:
        blocks.append(
            EntryBlock(
                "risk_limit", f"daily loss {ctx.realized_today} beyond -{limits.daily_loss_limit_usdt}"
            )
        )
    if portfolio is not None and check_portfolio_daily_loss(portfolio.today, _ZERO, limits) is not None:
        blocks.append(
            EntryBlock(
                "risk_limit",
                f"portfolio daily loss {portfolio.today} (all daemons) beyond "
                f"-{limits.portfolio_daily_loss_limit_usdt}",
            )
        )
    if ctx.symbol_exposure >= limits.max_exposure_usdt:
        blocks.append(
            EntryBlock("risk_limit", f"exposure {ctx.symbol_exposure:.2f} at max {limits.max_exposure_usdt}")
        )
    if ctx.total_exposure >= limits.max_total_exposure_usdt:
        blocks.append(
            EntryBlock(
                "risk_limit",
                f"total exposure {ctx.total_exposure:.2f} at max {limits.max_total_exposure_usdt}",
            )
        )
    if check_order_rate(ctx.orders_in_window, limits) is not None:
        blocks.append(EntryBlock("risk_limit", f"{ctx.orders_in_window} orders in the last minute"))
    window = check_funding_window(
        ctx.now_ms, ctx.next_funding_time, ctx.last_funding_time, limits.funding_window_minutes
    )
    if window is not None:
        funding_time = int(window.details["funding_time"])
        blocks.append(
            EntryBlock(
                "funding_window",
                f"funding at {funding_time}",
                funding_time + limits.funding_window_minutes * 60_000,
            )
        )
    return blocks


def risk_limits_used(
    state: RiskState, limits: RiskLimits, *, symbol: str, strategy: str
) -> list[dict[str, str]]:
    """Each per-symbol limit with what is used now and what is allowed (the heartbeat's `risk_limits`)."""
    ctx = state.entry_context(strategy, symbol)
    return [
        {
            "name": "max_exposure_usdt",
            "scope": symbol,
            "used": f"{ctx.symbol_exposure:.2f}",
            "allowed": str(limits.max_exposure_usdt),
        },
        {
            "name": "daily_loss_limit_usdt",
            "scope": symbol,
            "used": f"{max(-ctx.realized_today, 0):.2f}",
            "allowed": str(limits.daily_loss_limit_usdt),
        },
    ]
