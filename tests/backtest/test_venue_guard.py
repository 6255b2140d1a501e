"""The backtest's order path cancels a symbol's resting entries when the volatility guard trips,
as the live order manager does; exits stand."""

from __future__ import annotations

from decimal import Decimal

from backtest.venue import BacktestVenue
from core.events import OrderRequest, OrderType, Side, TimeInForce
from simulator.engine import MatchingEngine
from simulator.engine_types import EngineConfig
from tests.orders._instruments import btc

T0 = 1_709_510_400_000
D = Decimal


class _Flat:
    """A price path that never moves (nothing rests near it)."""

    def price_at(self, now_ms: int) -> Decimal:
        return D(50000)

    def price_range(self, after_ms: int, until_ms: int) -> tuple[Decimal, Decimal]:
        return D(50000), D(50000)


def _request(cid: str, side: Side, price: str | None, qty: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol="BTCUSDT",
        strategy="vwap",
        side=side,
        order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        quantity=D(qty),
        created_time=T0,
        price=D(price) if price is not None else None,
        time_in_force=TimeInForce.GTC if price is not None else None,
        reduce_only=reduce_only,
    )


def test_a_tripped_guard_cancels_resting_entries_and_leaves_exits() -> None:
    instruments = {"BTCUSDT": btc()}
    engine = MatchingEngine(instruments, {"BTCUSDT": _Flat()}, EngineConfig(), T0)
    venue = BacktestVenue(engine, instruments, order_ttl_ms=3_600_000)
    mark = D(50000)
    venue.submit(_request("open", Side.BUY, None, "0.010"), T0, mark)
    venue.submit(_request("entry", Side.BUY, "48000", "0.010"), T0, mark)
    venue.submit(_request("exit", Side.SELL, "52000", "0.010", reduce_only=True), T0, mark)
    assert set(venue.live) == {"entry", "exit"}

    events = venue.cancel_entries("BTCUSDT", T0 + 1_000, "volatility guard")

    assert [(e.client_order_id, e.state) for e in events] == [("entry", "CANCELED")]  # type: ignore[union-attr]
    assert set(venue.live) == {"exit"}
    assert venue.orders["entry"].reason == "volatility guard"
    assert [o.status for o in engine.open_orders("BTCUSDT")] == ["NEW"]
