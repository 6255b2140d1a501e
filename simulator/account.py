"""The simulated account: USDT wallet, one-way positions, fees, realized PnL, funding, income.

Cross margin, one asset (USDT). A fill changes the position by average cost: an increase moves the
entry to the weighted average, a reduce realizes (exit - entry) × closed qty × direction, a flip
closes the old side and opens the rest at the fill price. Commissions and realized PnL go to the
wallet at once; funding is booked by `apply_funding`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from core.events import Side
from simulator.engine_types import Income, PositionState

ASSET = "USDT"
_MONEY = Decimal("0.00000001")  # Binance books USDT to 8 decimals
_ENTRY = Decimal("1E-12")
_ZERO = Decimal(0)


def money(value: Decimal) -> Decimal:
    """Round an amount of USDT the way it is booked (8 decimals, half-even)."""
    return value.quantize(_MONEY, rounding=ROUND_HALF_EVEN)


class Account:
    """Wallet, positions and income of the one simulated account."""

    def __init__(self, starting_balance: Decimal, default_leverage: int) -> None:
        self.wallet = money(starting_balance)
        self.default_leverage = default_leverage
        self._positions: dict[str, PositionState] = {}
        self._leverage: dict[str, int] = {}
        self.income: list[Income] = []
        self._next_tran_id = 1_000_000

    def leverage(self, symbol: str) -> int:
        """The symbol's leverage (the account default until changed)."""
        return self._leverage.get(symbol, self.default_leverage)

    def set_leverage(self, symbol: str, leverage: int, now_ms: int) -> None:
        """Change a symbol's leverage; the position (if any) keeps its amount and entry."""
        self._leverage[symbol] = leverage
        pos = self._positions.get(symbol)
        if pos is not None:
            self._positions[symbol] = PositionState(
                pos.symbol, pos.amount, pos.entry_price, pos.realized, now_ms, leverage
            )

    def position(self, symbol: str) -> PositionState:
        """The symbol's position (a flat one if never traded)."""
        pos = self._positions.get(symbol)
        if pos is None:
            return PositionState(symbol, _ZERO, _ZERO, _ZERO, 0, self.leverage(symbol))
        return pos

    def positions(self) -> list[PositionState]:
        """Every symbol ever traded, sorted by symbol."""
        return [self._positions[s] for s in sorted(self._positions)]

    def apply_fill(
        self, symbol: str, side: Side, qty: Decimal, price: Decimal, fee: Decimal, now_ms: int, trade_id: int
    ) -> Decimal:
        """Book one fill; return its realized PnL (before the fee)."""
        pos = self.position(symbol)
        signed = qty if side is Side.BUY else -qty
        amount, entry, realized_pnl = pos.amount, pos.entry_price, _ZERO
        if amount == 0 or (amount > 0) == (signed > 0):
            new_amount = amount + signed
            entry = ((abs(amount) * entry + qty * price) / abs(new_amount)).quantize(_ENTRY)
        else:
            closed = min(qty, abs(amount))
            direction = 1 if amount > 0 else -1
            realized_pnl = money((price - entry) * closed * direction)
            new_amount = amount + signed
            if new_amount == 0:
                entry = _ZERO
            elif (new_amount > 0) != (amount > 0):
                entry = price  # flipped: the rest opens at the fill price
        self.wallet += realized_pnl - fee
        self._positions[symbol] = PositionState(
            symbol, new_amount, entry, pos.realized + realized_pnl, now_ms, self.leverage(symbol)
        )
        if realized_pnl != 0:
            self._record(symbol, "REALIZED_PNL", realized_pnl, now_ms, str(trade_id))
        if fee != 0:
            self._record(symbol, "COMMISSION", -fee, now_ms, str(trade_id))
        return realized_pnl

    def apply_funding(self, symbol: str, mark_price: Decimal, rate: Decimal, now_ms: int) -> Decimal:
        """Book one funding payment: a long pays notional × rate when rate > 0. Returns the change."""
        pos = self.position(symbol)
        change = money(-pos.amount * mark_price * rate)
        self.wallet += change
        self._record(symbol, "FUNDING_FEE", change, now_ms, "")
        return change

    def unrealized(self, symbol: str, mark_price: Decimal) -> Decimal:
        """Unrealized PnL of the symbol's position at `mark_price`."""
        pos = self.position(symbol)
        return money((mark_price - pos.entry_price) * pos.amount) if pos.amount else _ZERO

    def _record(self, symbol: str, kind: str, amount: Decimal, now_ms: int, trade_id: str) -> None:
        self._next_tran_id += 1
        self.income.append(Income(self._next_tran_id, symbol, kind, amount, ASSET, now_ms, trade_id))
