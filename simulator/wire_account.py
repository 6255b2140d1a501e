"""Binance JSON of the account: account v2/v3, balance, positions, position risk, leverage brackets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from simulator.engine_types import AccountSummary
from simulator.wire_values import Json, num, usdt


def _totals(s: AccountSummary) -> Json:
    return {
        "totalInitialMargin": usdt(s.initial_margin),
        "totalMaintMargin": usdt(s.maint_margin),
        "totalWalletBalance": usdt(s.wallet_balance),
        "totalUnrealizedProfit": usdt(s.unrealized_pnl),
        "totalMarginBalance": usdt(s.margin_balance),
        "totalPositionInitialMargin": usdt(s.position_initial_margin),
        "totalOpenOrderInitialMargin": usdt(s.open_order_initial_margin),
        "totalCrossWalletBalance": usdt(s.wallet_balance),
        "totalCrossUnPnl": usdt(s.unrealized_pnl),
        "availableBalance": usdt(s.available_balance),
        "maxWithdrawAmount": usdt(min(s.available_balance, s.wallet_balance)),
    }


def asset_v3(s: AccountSummary, now_ms: int) -> Json:
    """The USDT element of account v3 `assets`."""
    return {
        "asset": "USDT",
        "walletBalance": usdt(s.wallet_balance),
        "unrealizedProfit": usdt(s.unrealized_pnl),
        "marginBalance": usdt(s.margin_balance),
        "maintMargin": usdt(s.maint_margin),
        "initialMargin": usdt(s.initial_margin),
        "positionInitialMargin": usdt(s.position_initial_margin),
        "openOrderInitialMargin": usdt(s.open_order_initial_margin),
        "crossWalletBalance": usdt(s.wallet_balance),
        "crossUnPnl": usdt(s.unrealized_pnl),
        "availableBalance": usdt(s.available_balance),
        "maxWithdrawAmount": usdt(min(s.available_balance, s.wallet_balance)),
        "updateTime": now_ms,
    }


def account_v3(s: AccountSummary, positions: list[Json], now_ms: int) -> Json:
    """GET /fapi/v3/account; `positions` from `position_v3_account`."""
    return {**_totals(s), "assets": [asset_v3(s, now_ms)], "positions": positions}


def account_v2(s: AccountSummary, positions: list[Json], now_ms: int) -> Json:
    """GET /fapi/v2/account; `positions` from `position_v2_account`."""
    asset = {**asset_v3(s, now_ms), "marginAvailable": True}
    return {
        "feeTier": 0,
        "feeBurn": False,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
        **_totals(s),
        "assets": [asset],
        "positions": positions,
    }


def balance(s: AccountSummary, now_ms: int) -> list[Json]:
    """GET /fapi/v2/balance and /fapi/v3/balance (same shape)."""
    return [
        {
            "accountAlias": "SimAccount",
            "asset": "USDT",
            "balance": usdt(s.wallet_balance),
            "crossWalletBalance": usdt(s.wallet_balance),
            "crossUnPnl": usdt(s.unrealized_pnl),
            "availableBalance": usdt(s.available_balance),
            "maxWithdrawAmount": usdt(min(s.available_balance, s.wallet_balance)),
            "marginAvailable": True,
            "updateTime": now_ms,
        }
    ]


@dataclass(frozen=True, slots=True)
class PositionFigures:
    """What the position endpoints show for one symbol (computed by the facade)."""

    symbol: str
    amount: Decimal
    entry: Decimal
    mark: Decimal
    unrealized: Decimal
    leverage: int
    initial_margin: Decimal
    maint_margin: Decimal
    open_order_margin: Decimal
    max_notional: Decimal
    update_time: int

    @property
    def notional(self) -> Decimal:
        return self.amount * self.mark


def position_v2_account(p: PositionFigures) -> Json:
    """An element of account v2 `positions`."""
    return {
        "symbol": p.symbol,
        "initialMargin": usdt(p.initial_margin + p.open_order_margin),
        "maintMargin": usdt(p.maint_margin),
        "unrealizedProfit": usdt(p.unrealized),
        "positionInitialMargin": usdt(p.initial_margin),
        "openOrderInitialMargin": usdt(p.open_order_margin),
        "leverage": str(p.leverage),
        "isolated": False,
        "entryPrice": num(p.entry),
        "maxNotional": num(p.max_notional),
        "bidNotional": "0",
        "askNotional": "0",
        "positionSide": "BOTH",
        "positionAmt": num(p.amount),
        "updateTime": p.update_time,
    }


def position_v3_account(p: PositionFigures) -> Json:
    """An element of account v3 `positions` (only symbols with a position or open orders)."""
    return {
        "symbol": p.symbol,
        "positionSide": "BOTH",
        "positionAmt": num(p.amount),
        "unrealizedProfit": usdt(p.unrealized),
        "isolatedMargin": "0",
        "notional": usdt(p.notional),
        "isolatedWallet": "0",
        "initialMargin": usdt(p.initial_margin + p.open_order_margin),
        "maintMargin": usdt(p.maint_margin),
        "updateTime": p.update_time,
    }


def position_risk_v2(p: PositionFigures) -> Json:
    """An element of GET /fapi/v2/positionRisk."""
    return {
        "entryPrice": num(p.entry),
        "breakEvenPrice": num(p.entry),
        "marginType": "cross",
        "isAutoAddMargin": "false",
        "isolatedMargin": "0.00000000",
        "leverage": str(p.leverage),
        "liquidationPrice": "0",
        "markPrice": num(p.mark),
        "maxNotionalValue": num(p.max_notional),
        "positionAmt": num(p.amount),
        "notional": usdt(p.notional),
        "isolatedWallet": "0",
        "symbol": p.symbol,
        "unRealizedProfit": usdt(p.unrealized),
        "positionSide": "BOTH",
        "updateTime": p.update_time,
    }


def position_risk_v3(p: PositionFigures) -> Json:
    """An element of GET /fapi/v3/positionRisk."""
    return {
        "symbol": p.symbol,
        "positionSide": "BOTH",
        "positionAmt": num(p.amount),
        "entryPrice": num(p.entry),
        "breakEvenPrice": num(p.entry),
        "markPrice": num(p.mark),
        "unRealizedProfit": usdt(p.unrealized),
        "liquidationPrice": "0",
        "isolatedMargin": "0",
        "notional": usdt(p.notional),
        "marginAsset": "USDT",
        "isolatedWallet": "0",
        "initialMargin": usdt(p.initial_margin + p.open_order_margin),
        "maintMargin": usdt(p.maint_margin),
        "positionInitialMargin": usdt(p.initial_margin),
        "openOrderInitialMargin": usdt(p.open_order_margin),
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": p.update_time,
    }


def leverage_brackets(symbol: str, max_leverage: int) -> Json:
    """One element of GET /fapi/v1/leverageBracket: a single bracket (the simulator has no tiers)."""
    return {
        "symbol": symbol,
        "brackets": [
            {
                "bracket": 1,
                "initialLeverage": max_leverage,
                "notionalCap": 1_000_000_000,
                "notionalFloor": 0,
                "maintMarginRatio": 0.004,
                "cum": 0.0,
            }
        ],
    }
