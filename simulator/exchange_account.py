"""SimulatedExchange's signed account endpoints: leverage, position mode, income, account,
balance and position risk."""

from __future__ import annotations

from decimal import Decimal

from simulator import wire_account, wire_orders
from simulator.engine import MAINT_MARGIN_RATE
from simulator.errors import SimError
from simulator.exchange_core import ExchangeCore, Json
from simulator.order_rules import mandatory
from simulator.request_params import Params, int_param, opt_int


class AccountEndpoints(ExchangeCore):
    """Leverage and position-mode settings, income history, account, balance and position risk."""

    def change_leverage(self, params: Params, now_ms: int) -> Json:
        """POST /fapi/v1/leverage."""
        symbol = self._symbol(params)
        leverage = self.engine.set_leverage(symbol, int_param(params, "leverage", None), now_ms)
        return {"leverage": leverage, "maxNotionalValue": "1000000000", "symbol": symbol}

    def leverage_bracket(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/leverageBracket."""
        symbols = [self._symbol(params)] if "symbol" in params else self.symbols()
        return [wire_account.leverage_brackets(s, self.engine.config.max_leverage) for s in symbols]

    def position_side_dual(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v1/positionSide/dual -> {"dualSidePosition": false} (one-way mode only)."""
        return {"dualSidePosition": False}

    def change_position_side_dual(self, params: Params, now_ms: int) -> Json:
        """POST /fapi/v1/positionSide/dual: "false" -> -4059 (already one-way), "true" -> -1130."""
        value = mandatory(params, "dualSidePosition").lower()
        if value == "false":
            raise SimError(-4059, "No need to change position side.")
        raise SimError(-1130, "Data sent for parameter 'dualSidePosition' is not valid.")

    def income(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/income (symbol, incomeType, startTime, endTime, limit ≤ 1000)."""
        self._sync(now_ms)
        symbol, kind = params.get("symbol"), params.get("incomeType")
        start, end = opt_int(params, "startTime"), opt_int(params, "endTime")
        records = [
            i
            for i in self.engine.account.income
            if (symbol is None or i.symbol == symbol)
            and (kind is None or i.income_type == kind)
            and (start is None or i.time >= start)
            and (end is None or i.time <= end)
        ]
        limit = min(int_param(params, "limit", 100), 1000)
        return [wire_orders.income(i) for i in records[:limit]]

    def _figures(self, symbol: str) -> wire_account.PositionFigures:
        pos = self.engine.account.position(symbol)
        mark = self.engine.mark_price(symbol)
        notional = abs(pos.amount) * mark
        order_margin = sum((o.margin for o in self.engine.open_orders(symbol)), Decimal(0))
        return wire_account.PositionFigures(
            symbol,
            pos.amount,
            pos.entry_price,
            mark,
            self.engine.account.unrealized(symbol, mark),
            pos.leverage,
            notional / pos.leverage,
            notional * MAINT_MARGIN_RATE,
            order_margin,
            Decimal(1_000_000_000),
            pos.update_time,
        )

    def _active_symbols(self) -> list[str]:
        held = {p.symbol for p in self.engine.account.positions() if p.amount}
        held.update(o.symbol for o in self.engine.open_orders())
        return sorted(held)

    def account_v2(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v2/account (positions for every symbol)."""
        self._sync(now_ms)
        positions = [wire_account.position_v2_account(self._figures(s)) for s in self.symbols()]
        return wire_account.account_v2(self.engine.summary(), positions, now_ms)

    def account_v3(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v3/account (positions only for symbols with a position or open orders)."""
        self._sync(now_ms)
        positions = [wire_account.position_v3_account(self._figures(s)) for s in self._active_symbols()]
        return wire_account.account_v3(self.engine.summary(), positions, now_ms)

    def balance_v2(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v2/balance."""
        self._sync(now_ms)
        return wire_account.balance(self.engine.summary(), now_ms)

    def balance_v3(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v3/balance (same shape as v2)."""
        return self.balance_v2(params, now_ms)

    def position_risk_v2(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v2/positionRisk (every symbol, or the one asked for)."""
        self._sync(now_ms)
        symbols = [self._symbol(params)] if "symbol" in params else self.symbols()
        return [wire_account.position_risk_v2(self._figures(s)) for s in symbols]

    def position_risk_v3(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v3/positionRisk (symbols with a position or open orders)."""
        self._sync(now_ms)
        active = self._active_symbols()
        symbols = [s for s in active if s == params["symbol"]] if "symbol" in params else active
        if "symbol" in params:
            self._symbol(params)
        return [wire_account.position_risk_v3(self._figures(s)) for s in symbols]
