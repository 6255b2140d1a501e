"""The benchmark's rules written out plainly, independently of the project's code.

A straightforward reading of ../shared/docs/backtest-bench.md ("The rules"): plain running sums
for the anchored VWAP and σ, TA-Lib's own ADX, one candle at a time. `bench/backtest.py` and
`tests/backtest/test_bench_rules.py` compare the project's trade list with this one: a backtest
optimisation that changes a trade is a bug.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np
import talib

DAY_MS = 86_400_000
TICK = Decimal("0.1")
STEP = Decimal("0.001")


def _stop(entry: Decimal, long: bool) -> Decimal:
    raw = entry * (Decimal("0.98") if long else Decimal("1.02"))
    return (raw / TICK).to_integral_value(ROUND_CEILING if long else ROUND_FLOOR) * TICK


def reference_trades(
    symbol: str,
    times: list[int],
    o: list[float],
    h: list[float],
    low: list[float],
    c: list[float],
    v: list[float],
    *,
    startup: int = 30,
) -> list[tuple[str, str, int, Decimal, int, Decimal, str]]:
    """(symbol, side, entry_time_ms, entry_price, exit_time_ms, exit_price, reason) per trade."""
    n = len(times)
    adx = talib.ADX(np.array(h), np.array(low), np.array(c), timeperiod=14).tolist()
    trades: list[tuple[str, str, int, Decimal, int, Decimal, str]] = []
    side: str | None = None
    entry = Decimal(0)
    entry_time = 0
    want_exit = False
    want_entry: str | None = None
    day = -1
    sv = svp = svp2 = 0.0
    for i in range(n):
        op = Decimal(repr(o[i]))
        if i > 0:
            if want_exit and side is not None:
                trades.append((symbol, side, entry_time, entry, times[i], op, "vwap"))
                side = None
            if want_entry is not None and side is None and i != n - 1:
                side, entry, entry_time = want_entry, op, times[i]
            want_exit, want_entry = False, None
        if i == n - 1:
            if side is not None:
                trades.append((symbol, side, entry_time, entry, times[i], op, "force"))
            break
        if side is not None:
            stop = _stop(entry, side == "LONG")
            if side == "LONG" and (op <= stop or Decimal(repr(low[i])) <= stop):
                trades.append((symbol, side, entry_time, entry, times[i], min(op, stop), "stop"))
                side = None
            elif side == "SHORT" and (op >= stop or Decimal(repr(h[i])) >= stop):
                trades.append((symbol, side, entry_time, entry, times[i], max(op, stop), "stop"))
                side = None
        # indicators on the close of candle i
        if times[i] // DAY_MS != day:
            day = times[i] // DAY_MS
            sv = svp = svp2 = 0.0
        tp = (h[i] + low[i] + c[i]) / 3.0
        sv += v[i]
        svp += v[i] * tp
        svp2 += v[i] * tp * tp
        vwap = svp / sv
        sigma = math.sqrt(max(svp2 / sv - vwap * vwap, 0.0))
        if i + 1 < startup:
            continue
        exit_long = side == "LONG" and c[i] >= vwap
        exit_short = side == "SHORT" and c[i] <= vwap
        a = adx[i]
        ok = not math.isnan(a) and a < 20 and v[i] > 0
        enter_long = ok and c[i] < vwap - 2 * sigma
        enter_short = ok and c[i] > vwap + 2 * sigma
        want_exit = exit_long or exit_short
        flat_after = side is None or want_exit
        if flat_after and enter_long and not enter_short and not exit_long:
            want_entry = "LONG"
        elif flat_after and enter_short and not enter_long and not exit_short:
            want_entry = "SHORT"
    return trades


def quantity(price: Decimal) -> Decimal:
    """1,000 USDT of notional at `price`, rounded down to the 0.001 step."""
    return (Decimal(1000) / price / STEP).to_integral_value(ROUND_FLOOR) * STEP
