"""The bus's channel names: one place, so a typo is an import error instead of a silent no-op.

| channel | events | policy |
|---|---|---|
| `market.<SYMBOL>` | Candle, MarkPrice | conflating (a newer live update replaces the queued one) |
| `signal.<SYMBOL>` | Signal | lossless |
| `strategy.event` | VolatilityGuardTriggered | lossless |
| `risk.decision` | RiskDecision | lossless |
| `order.request` | OrderRequest | lossless |
| `order.update` | OrderUpdate | lossless |
| `position.update` | PositionUpdate | lossless |
| `account.execution` | ExecutionReport | lossless |
| `account.update` | AccountUpdate, UserStreamReset | lossless |
| `reconciliation` | ReconciliationFinished (core/reconciliation.py) | lossless |
| `alert` | Alert (core/alerts.py) | lossless |
"""

from __future__ import annotations

MARKET_PREFIX = "market."
SIGNAL_PREFIX = "signal."

ALL_MARKETS = "market.*"
ALL_SIGNALS = "signal.*"
STRATEGY_EVENT = "strategy.event"
RISK_DECISION = "risk.decision"
ORDER_REQUEST = "order.request"
ORDER_UPDATE = "order.update"
POSITION_UPDATE = "position.update"
ACCOUNT_EXECUTION = "account.execution"
ACCOUNT_UPDATE = "account.update"
RECONCILIATION = "reconciliation"
ALERT = "alert"


def market(symbol: str) -> str:
    """The market-data channel of one symbol."""
    return f"{MARKET_PREFIX}{symbol}"


def signal(symbol: str) -> str:
    """The signal channel of one symbol."""
    return f"{SIGNAL_PREFIX}{symbol}"
