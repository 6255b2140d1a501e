"""The live pipeline bench's feed: real 1m candles re-timed onto one timeline, as the compact
combined-stream frames Binance sends (markPrice@1s and kline_1m), grouped in one-second bursts.

Imported by `live_pipeline.py` (a sibling: bench/ is on sys.path when the script runs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.events import Candle
from executor.binance.market_streams import market_streams_for
from simulator import wire_market
from simulator.bars import Bar, partial_bar, path_price, split_bar
from simulator.kline_files import load_kline_csv

ROOT = Path(__file__).resolve().parent.parent
MINUTE_MS = 60_000
DAY0 = 1_704_153_600_000  # 2024-01-02 00:00 UTC: the bench's timeline starts at a VWAP anchor
SOURCES = (
    (ROOT / "data/klines/ADAUSDT_PERP_1m_2022-12-13_lean.csv", Decimal("0.0001")),
    (ROOT / "data/klines/WLDUSDT_PERP_3m_2023-09-12_2023-12-11_hummingbot.csv.gz", Decimal("0.0001")),
)
FUNDING_RATE = Decimal("0.00010000")


# --- recorded-format frames ----------------------------------------------------------------------


def _real_minutes(count: int, offsets: Sequence[int]) -> list[list[Bar]]:
    """`count` consecutive real 1m bars per offset, alternating the ADA 1m and WLD 3m sources."""
    loaded: list[tuple[list[Bar], Decimal]] = []
    for path, tick in SOURCES:
        bars = load_kline_csv(path)
        loaded.append((bars, tick))
    out: list[list[Bar]] = []
    for i, offset in enumerate(offsets):
        bars, tick = loaded[i % len(loaded)]
        per_bar = bars[0].interval_ms // MINUTE_MS
        first = (offset % max(1, len(bars) - count // per_bar - 2))
        minutes: list[Bar] = []
        j = first
        while len(minutes) < count:
            minutes.extend(split_bar(bars[j], tick))
            j += 1
        out.append(minutes[:count])
    return out


def _retime(bar: Bar, open_time: int) -> Bar:
    return replace(bar, open_time=open_time, interval_ms=MINUTE_MS)


def _frame(stream: str, payload: dict[str, Any]) -> str:
    # Binance's combined-stream envelope, compact JSON as on the wire.
    return json.dumps({"stream": stream, "data": payload}, separators=(",", ":"))


@dataclass
class Feed:
    """Everything built before the clock starts: warm-up candles and the frames, in bursts."""

    symbols: list[str]
    history: dict[str, list[Candle]]
    frames: list[str]
    bursts: list[tuple[int, int]]  # [start, end) indexes into frames
    index: dict[str, dict[int, int]]  # symbol -> event_time -> frame index (latency bookkeeping)
    kinds: dict[str, int] = field(default_factory=dict)


def build_feed(n_symbols: int, minutes: int, warmup: int, updates_per_s: int) -> Feed:
    """Real candles re-timed onto one timeline; per second and symbol one markPrice and
    `updates_per_s` live kline updates; a closing kline per symbol at each minute boundary."""
    symbols = [f"S{i:03d}USDT" for i in range(n_symbols)]
    series = _real_minutes(warmup + minutes, [i * 97 for i in range(n_symbols)])
    tick = Decimal("0.0001")
    history: dict[str, list[Candle]] = {}
    for sym, bars in zip(symbols, series, strict=True):
        history[sym] = [
            Candle(
                symbol=sym, open_time=DAY0 + k * MINUTE_MS, close_time=DAY0 + (k + 1) * MINUTE_MS - 1,
                open=b.open, high=b.high, low=b.low, close=b.close, volume=b.volume,
                quote_volume=b.quote_volume, trades=b.trades, closed=True,
                event_time=DAY0 + (k + 1) * MINUTE_MS,
            )
            for k, b in enumerate(bars[:warmup])
        ]
    streams = {s: market_streams_for(s) for s in symbols}
    frames: list[str] = []
    bursts: list[tuple[int, int]] = []
    index: dict[str, dict[int, int]] = {s: {} for s in symbols}
    kinds = {"markPriceUpdate": 0, "kline_update": 0, "kline_closed": 0}
    step = 1000 // (updates_per_s + 1)
    for m in range(minutes):
        open_time = DAY0 + (warmup + m) * MINUTE_MS
        for second in range(60):
            start = len(frames)
            for s_i, sym in enumerate(symbols):
                bar = _retime(series[s_i][warmup + m], open_time)
                kline_stream, mark_stream = streams[sym]
                if second == 0 and m > 0:  # the previous minute's final kline, just after its close
                    prev = _retime(series[s_i][warmup + m - 1], open_time - MINUTE_MS)
                    e = open_time + 3
                    index[sym][e] = len(frames)
                    frames.append(_frame(kline_stream, wire_market.kline_stream(sym, prev, True, e)))
                    kinds["kline_closed"] += 1
                offset = second * 1000
                e = open_time + offset
                nxt = (open_time // (8 * 3_600_000) + 1) * 8 * 3_600_000
                index[sym][e] = len(frames)
                mark = path_price(bar, offset, tick)
                payload = wire_market.mark_price_stream(sym, mark, FUNDING_RATE, nxt, e)
                frames.append(_frame(mark_stream, payload))
                kinds["markPriceUpdate"] += 1
                for u in range(1, updates_per_s + 1):
                    e = open_time + offset + u * step
                    index[sym][e] = len(frames)
                    live = partial_bar(bar, offset + u * step, tick)
                    frames.append(_frame(kline_stream, wire_market.kline_stream(sym, live, False, e)))
                    kinds["kline_update"] += 1
            bursts.append((start, len(frames)))
    return Feed(symbols, history, frames, bursts, index, kinds)
