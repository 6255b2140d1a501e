"""Candle builders and real-data loading shared by the strategy tests."""

from __future__ import annotations

import csv
import math
from decimal import Decimal
from pathlib import Path

from core.events import Candle, MarkPrice

SYMBOL = "WLDUSDT"
MINUTE = 60_000
DAY = 86_400_000
T0 = 1_700_006_400_000  # 2023-11-15 00:00:00 UTC, a day start

_ROOT = Path(__file__).resolve().parents[2]
_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "WLDUSDT_PERP_3m_sample.csv"


def real_data_path() -> Path:
    """The WLDUSDT 3m klines: the repository's data/klines copy if present, else the test fixture
    (600 consecutive real rows of the same file)."""
    found = sorted((_ROOT / "data" / "klines").glob("**/WLDUSDT*3m*.csv"))
    return found[0] if found else _FIXTURE


def load_candles(path: Path, symbol: str = SYMBOL) -> list[Candle]:
    """Closed candles from a Binance-format kline CSV (header row with Binance's column names)."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        Candle(
            symbol=symbol,
            open_time=int(r["open_time"]),
            close_time=int(r["close_time"]),
            open=Decimal(r["open"]),
            high=Decimal(r["high"]),
            low=Decimal(r["low"]),
            close=Decimal(r["close"]),
            volume=Decimal(r["volume"]),
            quote_volume=Decimal(0),
            trades=0,
            closed=True,
            event_time=int(r["close_time"]),
        )
        for r in rows
    ]


def candle(
    i: int,
    close: float | str,
    *,
    spread: float = 0.1,
    volume: float | str = 1000,
    closed: bool = True,
    t0: int = T0,
    event_time: int | None = None,
    symbol: str = SYMBOL,
) -> Candle:
    """The i-th 1m candle after `t0` with the given close, high/low `spread` around it."""
    c = Decimal(str(close))
    s = Decimal(str(spread))
    open_time = t0 + i * MINUTE
    close_time = open_time + MINUTE - 1
    return Candle(
        symbol=symbol,
        open_time=open_time,
        close_time=close_time,
        open=c,
        high=c + s,
        low=c - s,
        close=c,
        volume=Decimal(str(volume)),
        quote_volume=Decimal(0),
        trades=1,
        closed=closed,
        event_time=close_time if event_time is None else event_time,
    )


def ranging(start: int, n: int, *, base: float = 100.0, t0: int = T0) -> list[Candle]:
    """`n` candles oscillating around `base` without a trend: ADX stays low, σ about 0.35."""
    return [candle(start + k, round(base + 0.5 * math.sin(k * 2.1), 4), t0=t0) for k in range(n)]


def trending(start: int, n: int, *, base: float = 100.0, step: float = -0.08, t0: int = T0) -> list[Candle]:
    """`n` candles moving `step` per candle: a trend, ADX far above 20."""
    return [candle(start + k, round(base + step * k, 4), t0=t0) for k in range(n)]


def mark(time_ms: int, price: float | str, symbol: str = SYMBOL) -> MarkPrice:
    """A mark price update at `time_ms`."""
    p = Decimal(str(price))
    return MarkPrice(symbol, p, p, Decimal("0.0001"), time_ms + 8 * 3_600_000, time_ms)
