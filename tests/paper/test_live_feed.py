"""LiveSeries/LiveFeed: live prices on the engine's timeline, traded extremes, held bars only."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from core.events import Candle, MarkPrice, Side
from core.instruments import Instrument, parse_exchange_info
from simulator.bars import MINUTE_MS
from simulator.engine import MatchingEngine
from simulator.engine_types import EngineConfig, NewOrder
from simulator.errors import SimError
from simulator.live_feed import LiveFeed, LiveSeries, bar_from_rest_row

DATA = Path(__file__).resolve().parents[2] / "data"

T0 = 1_700_000_040_000 - 1_700_000_040_000 % MINUTE_MS
D = Decimal


def candle(open_time: int, o: str, h: str, lo: str, c: str, *, closed: bool = False) -> Candle:
    return Candle(
        "ADAUSDT",
        open_time,
        open_time + MINUTE_MS - 1,
        D(o),
        D(h),
        D(lo),
        D(c),
        D("10"),
        D("3"),
        5,
        closed,
        open_time + 1000,
    )


def _ada() -> Instrument:
    return parse_exchange_info(json.loads((DATA / "exchange_info.json").read_text())).instruments["ADAUSDT"]


def rest_row(open_time: int, close: str) -> list[object]:
    return [open_time, close, close, close, close, "7", open_time + MINUTE_MS - 1, "2.5", 3, "4", "1.1", "0"]


def test_no_price_before_anything_arrived() -> None:
    with pytest.raises(SimError) as info:
        LiveSeries("ADAUSDT").price_at(T0)
    assert info.value.code == -1001


def test_price_is_the_last_close_received_at_or_before_a_time() -> None:
    s = LiveSeries("ADAUSDT")
    s.on_candle(candle(T0, "1.0", "1.0", "1.0", "1.0"), 100)
    s.on_candle(candle(T0, "1.0", "1.1", "1.0", "1.1"), 200)
    assert s.price_at(99) == D("1.0")  # before the first price: the earliest known one
    assert s.price_at(150) == D("1.0")
    assert s.price_at(200) == D("1.1")
    assert s.price_range(100, 199) == (D("1.0"), D("1.0"))  # nothing new: the price in force
    assert s.price_range(150, 250) == (D("1.1"), D("1.1"))


def test_a_wick_between_two_updates_counts_as_traded() -> None:
    s = LiveSeries("ADAUSDT")
    s.on_candle(candle(T0, "1.00", "1.02", "0.99", "1.00"), 100)
    s.on_candle(candle(T0, "1.00", "1.05", "0.95", "1.01"), 200)  # new high and new low since 100
    assert s.price_range(100, 200) == (D("0.95"), D("1.05"))
    # The next minute's first update: its whole range was traded after the previous update.
    s.on_candle(candle(T0 + MINUTE_MS, "1.01", "1.09", "0.90", "1.00"), 300)
    assert s.price_range(200, 300) == (D("0.90"), D("1.09"))
    assert s.price_at(300) == D("1.00")


def test_extremes_seen_first_or_after_a_reconnect_do_not_count() -> None:
    s = LiveSeries("ADAUSDT")
    s.on_candle(candle(T0, "1.00", "1.50", "0.50", "1.00"), 100)  # the extremes may predate any order
    assert s.price_range(0, 100) == (D("1.00"), D("1.00"))
    s.mark_gap()
    s.on_candle(candle(T0 + MINUTE_MS, "1.00", "1.60", "0.40", "1.02"), 200)
    assert s.price_range(100, 200) == (D("1.02"), D("1.02"))
    s.on_candle(candle(T0 + MINUTE_MS, "1.00", "1.70", "0.40", "1.03"), 300)  # flowing again
    assert s.price_range(200, 300) == (D("1.03"), D("1.70"))


def test_skipped_minutes_are_reported_and_only_the_close_counts() -> None:
    s = LiveSeries("ADAUSDT")
    s.on_candle(candle(T0, "1.0", "1.0", "1.0", "1.0"), 100)
    assert s.on_candle(candle(T0 + MINUTE_MS, "1.0", "1.0", "1.0", "1.0"), 200) is False
    assert s.on_candle(candle(T0 + 3 * MINUTE_MS, "1.0", "2.0", "0.5", "1.2"), 300) is True
    assert s.price_range(200, 300) == (D("1.2"), D("1.2"))
    assert s.refetch_from() == T0 + 2 * MINUTE_MS  # the hole


def test_bars_are_the_ones_held_never_invented() -> None:
    s = LiveSeries("ADAUSDT")
    s.add_history([bar_from_rest_row(rest_row(T0 + i * MINUTE_MS, f"1.{i}")) for i in (0, 1, 3)])
    got = s.bars(T0, T0 + 5 * MINUTE_MS, T0 + 5 * MINUTE_MS)
    assert [b.open_time for b in got] == [T0, T0 + MINUTE_MS, T0 + 3 * MINUTE_MS]
    assert got[0].taker_buy_volume == D("4") and got[0].quote_volume == D("2.5")
    assert s.price_at(0) == D("1.3")  # history seeds the price (stamped before any engine time)
    assert s.refetch_from() == T0 + 2 * MINUTE_MS
    s.on_candle(candle(T0 + 4 * MINUTE_MS, "1.3", "1.4", "1.2", "1.35"), 500)
    assert s.live_bar(10**13).close == D("1.35")
    # A REST version of the newest (still open) minute does not overwrite the stream's.
    s.add_history([bar_from_rest_row(rest_row(T0 + 4 * MINUTE_MS, "9"))])
    assert s.live_bar(10**13).close == D("1.35")
    s.add_history([bar_from_rest_row(rest_row(T0 + 2 * MINUTE_MS, "1.2"))])
    assert s.refetch_from() == T0 + 4 * MINUTE_MS  # no hole left: refresh the newest minute


def test_feed_stamps_after_now_and_counts_unknown_symbols_and_gaps() -> None:
    now = [1000]
    gaps: list[str] = []
    feed = LiveFeed(["ADAUSDT"], lambda: now[0], on_gap=gaps.append)
    feed.sink(candle(T0, "1.0", "1.0", "1.0", "1.0"))
    # Stamped strictly after the engine's now: an engine already at 1000 still sees it.
    assert feed.series["ADAUSDT"].price_range(1000, 1001) == (D("1.0"), D("1.0"))
    feed.sink(Candle("BTCUSDT", T0, T0 + 59_999, *(D(1),) * 6, 1, False, T0))
    feed.sink(MarkPrice("ADAUSDT", D("1.01"), D("1.0"), D("0.0001"), T0 + 3_600_000, T0))
    feed.sink(candle(T0 + 2 * MINUTE_MS, "1.0", "1.0", "1.0", "1.1"))
    stats = feed.stats()
    assert (stats.candles, stats.mark_prices, stats.unknown_symbol, stats.gaps) == (2, 1, 1, 1)
    assert gaps == ["ADAUSDT"] and feed.last_mark["ADAUSDT"] == D("1.01")


def test_the_engine_pays_funding_at_the_times_and_rates_the_mark_price_stream_announced() -> None:
    # T0 is 2023-11-14 22:14 UTC. The stream announces 01:00 (a 1-hour schedule), not 00:00.
    announced_at = 1_700_010_000_000  # 2023-11-15 01:00 UTC
    now = [T0]
    feed = LiveFeed(["ADAUSDT"], lambda: now[0])
    feed.sink(candle(T0, "1.0", "1.0", "1.0", "1.0"))
    engine = MatchingEngine(
        {"ADAUSDT": _ada()}, feed.markets, EngineConfig(taker_fee=D(0)), T0, funding=feed
    )
    engine.place_order(NewOrder("ADAUSDT", Side.BUY, "MARKET", D(100)), T0 + 1)
    assert engine.next_funding_time("ADAUSDT", T0) == 1_700_006_400_000  # nothing announced: 00:00
    feed.sink(MarkPrice("ADAUSDT", D("1.0"), D("1.0"), D("0.0003"), announced_at, T0 + 5))
    feed.sink(MarkPrice("ADAUSDT", D("1.0"), D("1.0"), D("0.0005"), announced_at, T0 + 6))  # newest wins
    assert engine.next_funding_time("ADAUSDT", T0 + 10) == announced_at
    engine.advance(announced_at + 1_000)
    funding = [(i.time, i.income) for i in engine.account.income if i.income_type == "FUNDING_FEE"]
    assert funding == [(announced_at, D("-0.05"))]  # 100 × 1.0 × 0.0005, at 01:00 and not at 00:00
