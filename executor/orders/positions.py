"""One-way-mode position accounting from fills, all in Decimal.

A position is a signed quantity (short < 0) with an average entry price:

- a fill in the position's direction (or from flat) increases it; the entry price becomes the
  quantity-weighted average of the old entry and the fill price;
- a fill against it reduces it and realizes (fill price - entry) x closed quantity for a long,
  (entry - fill price) x closed quantity for a short; the entry price is unchanged;
- a fill larger than the position flips it: close the whole position (realizing PnL), then open
  the remainder at the fill price.

Realized PnL is gross, like Binance's `rp`; commissions accumulate in `fees` (positive = paid) and
funding payments in `funding` (the wallet change: negative = paid); `net_realized` is the three
together. `fees` counts only commissions charged in USDT (`FEE_ASSET`): a commission paid in another
asset (BNB, with the BNB fee discount) is not a USDT amount and is never added as one; it stays in
the `fills` table with its asset (the daily summary lists it per asset). These are pure functions; the
order manager persists the result and de-duplicates fills by (symbol, trade_id) before booking.
`PositionBook` is the in-memory book with that de-duplication built in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from core.events import Side

_ZERO = Decimal(0)
FEE_ASSET = "USDT"  # the asset positions, PnL and the risk limits are counted in


@dataclass(frozen=True, slots=True)
class Position:
    """One symbol's position. `quantity` is signed; `entry_price` is 0 when flat."""

    symbol: str
    quantity: Decimal = _ZERO
    entry_price: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO
    fees: Decimal = _ZERO
    funding: Decimal = _ZERO
    strategy: str = ""
    opened_time: int | None = None
    updated_time: int = 0

    @property
    def is_flat(self) -> bool:
        return self.quantity == _ZERO

    @property
    def net_realized(self) -> Decimal:
        """Realized PnL net of USDT fees and funding."""
        return self.realized_pnl - self.fees + self.funding

    def unrealized_pnl(self, mark_price: Decimal) -> Decimal:
        """PnL of the open quantity at `mark_price`."""
        return (mark_price - self.entry_price) * self.quantity


def apply_fill(
    position: Position,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    *,
    commission: Decimal = _ZERO,
    commission_asset: str = FEE_ASSET,
    time: int = 0,
) -> tuple[Position, Decimal]:
    """Book one fill; returns the new position and the (gross) PnL this fill realized."""
    if quantity <= _ZERO:
        raise ValueError(f"fill quantity must be positive, got {quantity}")
    signed = quantity if side is Side.BUY else -quantity
    old = position.quantity
    fees = position.fees + commission if commission_asset == FEE_ASSET else position.fees
    updated = max(time, position.updated_time)

    if old == _ZERO or (old > _ZERO) == (signed > _ZERO):
        # Opening or increasing: weighted average entry.
        new_qty = old + signed
        entry = (abs(old) * position.entry_price + quantity * price) / abs(new_qty)
        opened = position.opened_time if old != _ZERO else time
        return (
            replace(
                position,
                quantity=new_qty,
                entry_price=entry,
                fees=fees,
                opened_time=opened,
                updated_time=updated,
            ),
            _ZERO,
        )

    # Reducing, closing or flipping.
    closed = min(quantity, abs(old))
    direction = Decimal(1) if old > _ZERO else Decimal(-1)
    realized = (price - position.entry_price) * closed * direction
    new_qty = old + signed
    if new_qty == _ZERO:
        entry, opened = _ZERO, None
    elif (new_qty > _ZERO) == (old > _ZERO):
        entry, opened = position.entry_price, position.opened_time
    else:
        # Flipped through zero: the remainder opens at the fill price.
        entry, opened = price, time
    return (
        replace(
            position,
            quantity=new_qty,
            entry_price=entry,
            realized_pnl=position.realized_pnl + realized,
            fees=fees,
            opened_time=opened,
            updated_time=updated,
        ),
        realized,
    )


def apply_funding(position: Position, amount: Decimal, *, time: int = 0) -> Position:
    """Book a funding payment (`amount` is the wallet change: negative when we paid)."""
    return replace(position, funding=position.funding + amount, updated_time=max(time, position.updated_time))


class PositionBook:
    """Positions by symbol, booking each (symbol, trade_id) at most once."""

    def __init__(self) -> None:
        self._positions: dict[str, Position] = {}
        self._seen: set[tuple[str, int]] = set()

    def get(self, symbol: str) -> Position:
        """The symbol's position (flat if never traded)."""
        return self._positions.get(symbol) or Position(symbol)

    def set(self, position: Position) -> None:
        """Replace a position (loaded from the database or corrected to the venue's)."""
        self._positions[position.symbol] = position

    def book(
        self,
        symbol: str,
        trade_id: int,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        *,
        commission: Decimal = _ZERO,
        commission_asset: str = FEE_ASSET,
        time: int = 0,
    ) -> Position | None:
        """Book a fill; None when this trade id was already booked for the symbol."""
        key = (symbol, trade_id)
        if key in self._seen:
            return None
        self._seen.add(key)
        position, _ = apply_fill(
            self.get(symbol), side, quantity, price,
            commission=commission, commission_asset=commission_asset, time=time,
        )  # fmt: skip
        self._positions[symbol] = position
        return position
