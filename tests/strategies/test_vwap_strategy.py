"""The VWAP strategy's entry and exit rules on hand-built candle sequences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.events import (
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    Side,
    Signal,
    SignalAction,
)
from strategies.base import Output
from strategies.vwap import VwapStrategy
from tests.strategies._candles import DAY, MINUTE, SYMBOL, T0, candle, mark, ranging, trending
from tests.strategies._vwap import (
    ENTRY_I,
    NOTIONAL,
    enter_long,
    entry_candle,
    feed,
    fill,
    level,
    make,
    signals,
    warmed,
)


def test_long_entry_below_the_lower_band_with_low_adx() -> None:
    strategy = warmed()
    c = entry_candle(strategy, ENTRY_I, -2.5)
    [signal] = signals(strategy.on_candle(c))
    assert signal.action is SignalAction.OPEN_LONG
    assert signal.symbol == SYMBOL and signal.strategy == "vwap"
    assert signal.price == c.close and isinstance(signal.price, Decimal)
    assert signal.notional == NOTIONAL
    assert signal.signal_id == f"{SYMBOL}:vwap:OPEN_LONG:{c.open_time}"
    assert signal.event_time == c.close_time
    assert "below lower band" in signal.reason and "ADX" in signal.reason and "< 20" in signal.reason
    for key in (
        "price",
        "vwap",
        "upper",
        "lower",
        "sigma",
        "adx",
        "candles_since_anchor",
        "volatility_range_pct",
    ):
        assert signal.inputs[key], key
    assert Decimal(signal.inputs["price"]) < Decimal(signal.inputs["lower"])
    assert float(signal.inputs["adx"]) < 20
    assert signal.inputs["candles_since_anchor"] == str(ENTRY_I + 1)
    assert strategy.pending_action is SignalAction.OPEN_LONG


def test_short_entry_above_the_upper_band() -> None:
    strategy = warmed()
    [signal] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I, 2.5)))
    assert signal.action is SignalAction.OPEN_SHORT
    assert "above upper band" in signal.reason
    assert Decimal(signal.inputs["price"]) > Decimal(signal.inputs["upper"])


def test_no_entry_inside_the_bands() -> None:
    strategy = warmed()
    assert signals(strategy.on_candle(entry_candle(strategy, ENTRY_I, -1.5))) == []
    assert signals(strategy.on_candle(entry_candle(strategy, ENTRY_I + 1, 1.5))) == []


def test_adx_at_or_above_adx_max_blocks_the_entry() -> None:
    probe = warmed()
    c = entry_candle(probe, ENTRY_I, -2.5)
    probe.on_candle(c)
    adx = probe.adx.value
    assert adx is not None
    at_max = warmed(adx_max=adx)  # ADX == adx_max: not "< adx_max"
    assert at_max.on_candle(c) == []
    below_max = warmed(adx_max=adx + 0.01)
    assert [s.action for s in signals(below_max.on_candle(c))] == [SignalAction.OPEN_LONG]


def test_trending_market_gives_no_entry_however_far_the_price() -> None:
    strategy = make()
    feed(strategy, trending(0, ENTRY_I))
    adx = strategy.adx.value
    assert adx is not None and adx >= 20
    far = candle(ENTRY_I, level(strategy, -6), volume=1)
    assert strategy.on_candle(far) == []
    # The same price after a sideways hour does enter: the ADX made the difference.
    sideways = warmed()
    assert signals(sideways.on_candle(candle(ENTRY_I, level(sideways, -6), volume=1)))


def test_no_entry_in_the_first_candles_after_the_anchor() -> None:
    def new_day(**params: Any) -> list[Output]:
        strategy = make(**params)
        feed(strategy, ranging(-60, 60))  # 23:00 - 23:59 UTC the day before
        feed(strategy, ranging(0, 10))  # 00:00 - 00:09: a new VWAP, σ near zero
        assert strategy.vwap.candles == 10
        return strategy.on_candle(candle(10, 97.0))  # 3 % below: far outside any band

    assert new_day() == []  # default: 30 candles first
    assert new_day(min_candles_after_anchor=12, min_sigma_pct=0) == []  # candle 10 is the 11th
    # Proof that the price alone would have been an entry:
    [signal] = signals(new_day(min_candles_after_anchor=0, min_sigma_pct=0))
    assert signal.action is SignalAction.OPEN_LONG
    assert signal.inputs["candles_since_anchor"] == "11"


def test_minimum_sigma_blocks_entries_on_a_flat_anchor() -> None:
    strategy = make(min_sigma_pct=1.0)  # σ must be 1 % of the price; the ranging σ is ~0.35 %
    feed(strategy, ranging(0, ENTRY_I))
    assert strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5)) == []


def test_one_entry_at_a_time_until_the_order_resolves() -> None:
    strategy = warmed()
    [first] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5)))
    assert strategy.on_candle(entry_candle(strategy, ENTRY_I + 1, -2.5)) == []  # pending
    # The entry order is cancelled unfilled: flat again, the next candle may enter.
    strategy.on_order_update(_order(Side.BUY, "CANCELED", filled="0"))
    assert strategy.pending_action is None and strategy.position_side is None
    [second] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I + 2, -2.5)))
    assert second.signal_id != first.signal_id


def test_risk_rejection_clears_the_pending_entry() -> None:
    strategy = warmed()
    [signal] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5)))
    strategy.on_risk_decision(RiskDecision(signal.signal_id, SYMBOL, "vwap", False, "max exposure", 0))
    assert strategy.pending_action is None
    assert signals(strategy.on_candle(entry_candle(strategy, ENTRY_I + 1, -2.5)))


def test_an_entry_fill_reported_before_the_position_opens_the_position() -> None:
    strategy = warmed()
    strategy.on_candle(entry_candle(strategy, ENTRY_I, -2.5))
    strategy.on_order_update(_order(Side.BUY, "FILLED", filled="1", avg="99.1"))
    assert strategy.position_side == "LONG" and strategy.pending_action is None


def _order(side: Side, state: str, *, filled: str, avg: str = "0", reduce_only: bool = False) -> OrderUpdate:
    return OrderUpdate(
        client_order_id="x",
        symbol=SYMBOL,
        strategy="vwap",
        side=side,
        state=state,
        quantity=Decimal(1),
        filled_qty=Decimal(filled),
        avg_price=Decimal(avg),
        event_time=T0 + 70 * MINUTE,
        reduce_only=reduce_only,
    )


# --- exits -----------------------------------------------------------------------------------------


def test_take_profit_when_price_is_back_at_vwap() -> None:
    strategy = warmed()
    entry = enter_long(strategy)
    assert strategy.on_candle(candle(ENTRY_I + 1, level(strategy, -1.0), volume=1)) == []
    [close] = signals(strategy.on_candle(candle(ENTRY_I + 2, level(strategy, 0.05), volume=1)))
    assert close.action is SignalAction.CLOSE and close.notional is None
    assert close.inputs["rule"] == "take_profit" and "take profit" in close.reason
    assert close.inputs["entry_price"] == str(entry.price)
    assert close.signal_id == f"{SYMBOL}:vwap:CLOSE:{T0 + (ENTRY_I + 2) * MINUTE}"


def test_short_take_profit_is_symmetric() -> None:
    strategy = warmed()
    [entry] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I, 2.5)))
    fill(strategy, entry)
    assert strategy.position_side == "SHORT"
    [close] = signals(strategy.on_candle(candle(ENTRY_I + 1, level(strategy, -0.05), volume=1)))
    assert close.inputs["rule"] == "take_profit"


def test_stop_beyond_the_outer_band() -> None:
    strategy = warmed()  # exit_band_k 3: the band is closer than the 1.5 % stop here
    enter_long(strategy)
    assert strategy.on_candle(candle(ENTRY_I + 1, level(strategy, -2.9), volume=1)) == []
    [close] = signals(strategy.on_candle(candle(ENTRY_I + 2, level(strategy, -3.2), volume=1)))
    assert close.inputs["rule"] == "stop_loss_band" and "outer band" in close.reason


def test_short_stop_beyond_the_upper_outer_band() -> None:
    strategy = warmed()
    [entry] = signals(strategy.on_candle(entry_candle(strategy, ENTRY_I, 2.5)))
    fill(strategy, entry)
    [close] = signals(strategy.on_candle(candle(ENTRY_I + 1, level(strategy, 3.2), volume=1)))
    assert close.inputs["rule"] == "stop_loss_band"


def test_percentage_stop_from_the_entry_price() -> None:
    strategy = warmed(exit_band_k=10, stop_loss_pct=0.5)
    entry = enter_long(strategy)
    assert strategy.on_candle(candle(ENTRY_I + 1, float(entry.price) * 0.996, volume=1)) == []
    [close] = signals(strategy.on_candle(candle(ENTRY_I + 2, float(entry.price) * 0.994, volume=1)))
    assert close.inputs["rule"] == "stop_loss_pct"
    assert "0.5%" in close.reason and str(entry.price) in close.reason


def test_max_holding_time() -> None:
    strategy = warmed(max_holding_minutes=10)
    entry = enter_long(strategy)
    price = float(entry.price)
    quiet = [candle(ENTRY_I + k, price, volume=1) for k in range(1, 10)]
    assert feed(strategy, quiet) == []  # 9 minutes after the fill
    [close] = signals(strategy.on_candle(candle(ENTRY_I + 10, price, volume=1)))
    assert close.inputs["rule"] == "max_holding" and "max holding time" in close.reason


def test_no_duplicate_close_while_one_is_pending_and_a_retry_after_rejection() -> None:
    strategy = warmed()
    enter_long(strategy)
    [close] = signals(strategy.on_candle(candle(ENTRY_I + 1, level(strategy, 0.1), volume=1)))
    assert strategy.on_candle(candle(ENTRY_I + 2, level(strategy, 0.2), volume=1)) == []
    assert strategy.on_mark_price(mark(T0 + (ENTRY_I + 3) * MINUTE, level(strategy, 0.2))) == []
    strategy.on_risk_decision(RiskDecision(close.signal_id, SYMBOL, "vwap", False, "rate limit", 0))
    # Rejected: the next price still says "take profit", in the same minute -> a distinct retry id.
    [retry] = signals(strategy.on_mark_price(mark(T0 + (ENTRY_I + 3) * MINUTE + 1_000, level(strategy, 0.2))))
    [again] = signals(
        _after_rejection(strategy, retry, mark(T0 + (ENTRY_I + 3) * MINUTE + 2_000, level(strategy, 0.2)))
    )
    assert retry.signal_id == f"{SYMBOL}:vwap:CLOSE:{T0 + (ENTRY_I + 3) * MINUTE}"
    assert again.signal_id == retry.signal_id + ":1"
    # Filled: flat, nothing more to close.
    strategy.on_position(PositionUpdate(SYMBOL, Decimal(0), Decimal(0), Decimal(0), T0 + 64 * MINUTE))
    assert strategy.position_side is None and strategy.pending_action is None


def _after_rejection(strategy: VwapStrategy, signal: Signal, event: Any) -> list[Output]:
    strategy.on_order_update(_order(Side.SELL, "REJECTED", filled="0", reduce_only=True))
    assert strategy.pending_action is None
    return strategy.on_mark_price(event)


def test_live_mark_price_triggers_the_stop_between_candles() -> None:
    strategy = warmed()
    enter_long(strategy)
    t = T0 + (ENTRY_I + 1) * MINUTE + 5_000
    assert strategy.on_mark_price(mark(t, level(strategy, -2.8))) == []
    [close] = signals(strategy.on_mark_price(mark(t + 1_000, level(strategy, -3.3))))
    assert close.inputs["rule"] == "stop_loss_band" and close.inputs["price_source"] == "mark"
    assert close.event_time == t + 1_000


def test_live_exits_can_be_switched_off() -> None:
    strategy = warmed(live_exits=False)
    enter_long(strategy)
    t = T0 + (ENTRY_I + 1) * MINUTE + 5_000
    assert strategy.on_mark_price(mark(t, level(strategy, -3.5))) == []
    assert (
        strategy.on_candle_update(candle(ENTRY_I + 1, level(strategy, -3.5), closed=False, event_time=t))
        == []
    )


def test_an_anchor_reset_does_not_fake_an_exit() -> None:
    # Long since 23:xx; at 00:00 the new VWAP sits on the price with σ ~ 0. Exits must keep the
    # previous day's levels instead of reading "back at VWAP" and "beyond the outer band" at once.
    strategy = make()
    yesterday = T0 - DAY
    feed(strategy, ranging(0, 1380, t0=yesterday))
    [entry] = signals(strategy.on_candle(candle(1380, level(strategy, -2.5), volume=1, t0=yesterday)))
    fill(strategy, entry)
    feed(strategy, [candle(1381 + k, float(entry.price), volume=1, t0=yesterday) for k in range(59)])
    assert strategy.position_side == "LONG"
    assert strategy.on_candle(candle(0, float(entry.price))) == []  # 00:00, same price
    assert strategy.vwap.candles == 1


# --- the volatility guard --------------------------------------------------------------------------


def test_an_exits_price_is_spelled_one_way_whatever_its_source_wrote() -> None:
    # The simulator's wire writes "1.316", the backtest's path "1.3160": the stored reason and
    # inputs of the CLOSE must not differ (`trader parity` compares them).
    reasons = []
    for digits in ("", "000"):
        strategy = warmed()
        enter_long(strategy)
        t = T0 + (ENTRY_I + 1) * MINUTE + 5_000
        price = f"{level(strategy, -3.5):.3f}{digits}"
        [close] = signals(strategy.on_candle_update(candle(ENTRY_I + 1, price, closed=False, event_time=t)))
        reasons.append((close.reason, dict(close.inputs), close.price))
    assert reasons[0] == reasons[1]
    assert str(reasons[0][2]) == f"{Decimal(reasons[0][2]):f}".rstrip("0").rstrip(".")
