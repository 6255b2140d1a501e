"""Many instruments (`--symbols N`): N USD-M perpetuals with real rules and price paths from real candles.

Rules
    The symbols of data/exchange_info.json come first (with their edited rules), then the 119
    PERPETUAL entries of Binance's real 2021-07-21 exchangeInfo (data/exchange_info_2021_perpetuals.json,
    every filter as captured), in the capture's order. Past those, entry k is a copy of real entry
    k mod 119 under the name `<symbol without its quote asset>X<k // 119 + 1><quote asset>`
    (BTCX1USDT, same filters): a scale test can ask for 500.

Price paths
    A symbol without a kline file of its own replays a real file (WLDUSDT's 90 days of 3m bars for
    most, ADAUSDT's day of 1m bars for every fifth), started at a different minute per symbol so
    that symbols do not move in lockstep, with every price multiplied so that the path starts at the
    symbol's price level and rounded to its tick. The 2021 capture carries no prices: the level is
    estimated as 50 x PRICE_FILTER minPrice (Binance sets minPrice at a few percent of the price
    when it lists a symbol: BTCUSDT 556.72 -> ~28,000, ADAUSDT 0.0174 -> ~0.87, both the right
    order for July 2021). Volumes are divided by the same factor (the quote volume is kept).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from simulator.bars import MINUTE_MS, Bar, round_to_tick
from simulator.exchange_info import load_exchange_info
from simulator.replay import MinuteSource

__all__ = ["PERPETUALS_FILE", "ScaledSource", "many_symbols_doc", "price_level"]

PERPETUALS_FILE = "exchange_info_2021_perpetuals.json"
_LEVEL_PER_MIN_PRICE = 50
_OFFSET_STEP_MINUTES = 997  # prime: consecutive symbols start far apart in the source


def _filter(entry: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(f for f in entry["filters"] if f["filterType"] == kind)


def price_level(entry: dict[str, Any]) -> Decimal:
    """The price a symbol's path starts at (see the module docstring), a multiple of its tick."""
    price_filter = _filter(entry, "PRICE_FILTER")
    tick = Decimal(price_filter["tickSize"])
    level = round_to_tick(Decimal(price_filter["minPrice"]) * _LEVEL_PER_MIN_PRICE, tick)
    return max(level, tick * 1000)


def many_symbols_doc(data_dir: Path, count: int) -> dict[str, Any]:
    """data_dir/exchange_info.json with its symbols replaced by the first `count` of the many-symbol list."""
    if count < 1:
        raise ValueError(f"--symbols {count}: at least 1")
    doc = load_exchange_info(data_dir / "exchange_info.json")
    path = data_dir / PERPETUALS_FILE
    if not path.is_file():
        raise ValueError(f"{path}: missing (the 2021 perpetuals --symbols N lists; see data/SOURCES.md)")
    real = load_exchange_info(path)["symbols"]
    entries = list(doc["symbols"])
    known = {e["symbol"] for e in entries}
    entries += [e for e in real if e["symbol"] not in known]
    k = 0
    while len(entries) < count:
        entry = copy.deepcopy(real[k % len(real)])
        quote, tag = entry["quoteAsset"], f"X{k // len(real) + 1}"
        name = entry["symbol"].removesuffix(quote) + tag + quote
        entry.update(symbol=name, pair=name, baseAsset=entry["baseAsset"] + tag)
        entries.append(entry)
        k += 1
    out = dict(doc)
    out["symbols"] = entries[:count]
    return out


class ScaledSource:
    """A real minute source started `offset` minutes in and scaled to another price level.

    Satisfies `simulator.replay.MinuteSource`; `Replay` loops it (scaled and pinned at each seam).
    """

    def __init__(self, source: MinuteSource, *, offset: int, level: Decimal, tick: Decimal) -> None:
        self._source = source
        self._offset = offset % max(source.minutes // 2, 1)
        self._tick = tick
        self._scale = level / source.minute_bar(self._offset).open
        self._cached: tuple[int, Bar] | None = None

    @classmethod
    def for_symbol(cls, index: int, sources: Sequence[MinuteSource], entry: dict[str, Any]) -> ScaledSource:
        """The source of the `index`-th symbol without a kline file of its own (`sources`: the
        longest real series first)."""
        source = sources[0] if index % 5 else sources[-1]
        tick = Decimal(_filter(entry, "PRICE_FILTER")["tickSize"])
        return cls(source, offset=index * _OFFSET_STEP_MINUTES, level=price_level(entry), tick=tick)

    @property
    def minutes(self) -> int:
        return self._source.minutes - self._offset

    @property
    def first_open_time(self) -> int:
        return self._source.first_open_time + self._offset * MINUTE_MS

    def minute_bar(self, index: int) -> Bar:
        cached = self._cached
        if cached is not None and cached[0] == index:
            return cached[1]
        src = self._source.minute_bar(index + self._offset)
        scale, tick = self._scale, self._tick
        prices = (src.open, src.high, src.low, src.close)
        o, h, lo, c = (max(round_to_tick(p * scale, tick), tick) for p in prices)
        volume = (src.volume / scale).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
        taker = (src.taker_buy_volume / scale).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
        bar = Bar(src.open_time, o, h, lo, c, volume, src.quote_volume, src.trades, taker,
                  src.taker_buy_quote_volume)
        self._cached = (index, bar)
        return bar
