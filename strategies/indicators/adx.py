"""Wilder's ADX (with +DI / −DI), incremental, seeded exactly as TA-Lib seeds it.

TA-Lib's `ADX(high, low, close, period)` (ta_ADX.c), which this reproduces operation for operation
so that the values agree to floating-point rounding:

- bar 0 only provides the previous high, low and close;
- bars 1 .. period−1: +DM, −DM and the true range are summed (no smoothing yet);
- bars period .. 2·period−1: Wilder smoothing `x = x − x/period + today`, a DX per bar, summed;
  +DI/−DI are valid from bar `period` on (TA-Lib's PLUS_DI/MINUS_DI lookback);
- bar 2·period−1: the first ADX = (sum of those `period` DX) / period (its lookback, 2·period−1);
- later bars: ADX = (ADX·(period−1) + DX) / period.

When the smoothed true range is (near) zero, or +DI + −DI is, TA-Lib skips that bar's DX: the ADX
keeps its previous value (and during seeding that DX counts as 0). Its zero test is
|v| < 1e-14 (TA_EPSILON of TA-Lib ≥ 0.6); DI values are 0.0 in that case, as PLUS_DI outputs them.
A +DM counts when the up-move is positive and larger than the down-move, a −DM symmetrically.

Floats on purpose: the ADX is a regime filter compared with a float threshold, and float keeps the
per-candle update O(1) and allocation-free.
"""

from __future__ import annotations

_EPSILON = 1e-14  # TA-Lib's TA_EPSILON (ta_utility.h, TA-Lib >= 0.6)


def _is_zero(v: float) -> bool:
    return -_EPSILON < v < _EPSILON


class Adx:
    """Incremental ADX(period) fed with closed candles; `value` is None until TA-Lib has one.

    `update(high, low, close)` takes one bar and returns the ADX (or None during the first
    2·period−1 bars). `plus_di` / `minus_di` are None during the first `period` bars.
    """

    __slots__ = (
        "_bars",
        "_minus_dm",
        "_plus_dm",
        "_prev_close",
        "_prev_high",
        "_prev_low",
        "_sum_dx",
        "_tr",
        "minus_di",
        "period",
        "plus_di",
        "value",
    )

    def __init__(self, period: int = 14) -> None:
        if period < 2:
            raise ValueError(f"ADX period must be >= 2, got {period}")
        self.period = period
        self.reset()

    def reset(self) -> None:
        """Forget every bar (a new series starts)."""
        self._bars = 0
        self._prev_high = 0.0
        self._prev_low = 0.0
        self._prev_close = 0.0
        self._plus_dm = 0.0
        self._minus_dm = 0.0
        self._tr = 0.0
        self._sum_dx = 0.0
        self.value: float | None = None
        self.plus_di: float | None = None
        self.minus_di: float | None = None

    @property
    def bars(self) -> int:
        """How many bars were fed since the last reset."""
        return self._bars

    @property
    def ready(self) -> bool:
        """True once the ADX has a value (after 2·period−1 bars past the first)."""
        return self.value is not None

    def update(self, high: float, low: float, close: float) -> float | None:
        """Add one closed bar; return the ADX (None while seeding)."""
        index = self._bars
        self._bars = index + 1
        if index == 0:
            self._prev_high = high
            self._prev_low = low
            self._prev_close = close
            return None

        period = self.period
        diff_p = high - self._prev_high
        diff_m = self._prev_low - low
        prev_close = self._prev_close
        self._prev_high = high
        self._prev_low = low
        self._prev_close = close
        # True range of today against yesterday's close, as TA-Lib's TRUE_RANGE computes it.
        true_range = high - low
        t = high - prev_close
        if t < 0.0:
            t = -t
        if t > true_range:
            true_range = t
        t = low - prev_close
        if t < 0.0:
            t = -t
        if t > true_range:
            true_range = t

        if index < period:  # bars 1 .. period-1: plain sums
            if diff_m > 0 and diff_p < diff_m:
                self._minus_dm += diff_m
            elif diff_p > 0 and diff_p > diff_m:
                self._plus_dm += diff_p
            self._tr += true_range
            return None

        # Wilder smoothing, in TA-Lib's operation order (x -= x/p, then += today).
        minus_dm = self._minus_dm
        minus_dm = minus_dm - minus_dm / period
        plus_dm = self._plus_dm
        plus_dm = plus_dm - plus_dm / period
        if diff_m > 0 and diff_p < diff_m:
            minus_dm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            plus_dm += diff_p
        tr = self._tr
        tr = tr - (tr / period) + true_range
        self._minus_dm = minus_dm
        self._plus_dm = plus_dm
        self._tr = tr

        dx: float | None = None
        if -_EPSILON < tr < _EPSILON:
            self.minus_di = 0.0
            self.plus_di = 0.0
        else:
            minus_di = 100.0 * (minus_dm / tr)
            plus_di = 100.0 * (plus_dm / tr)
            self.minus_di = minus_di
            self.plus_di = plus_di
            di_sum = minus_di + plus_di
            if not -_EPSILON < di_sum < _EPSILON:
                diff = minus_di - plus_di
                dx = 100.0 * ((diff if diff >= 0.0 else -diff) / di_sum)

        value = self.value
        if value is not None:  # seeded: the common case
            if dx is not None:
                value = ((value * (period - 1)) + dx) / period
                self.value = value
            return value
        if dx is not None:
            self._sum_dx += dx
        if index == 2 * period - 1:
            self.value = self._sum_dx / period
        return self.value
