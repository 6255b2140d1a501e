"""The newest closed candles a strategy keeps to rebuild its indicators, stored compactly.

A candle kept as a tuple of an int and four floats costs ~210 bytes in CPython; the vwap strategy
keeps 1,500 of them (a day and the ADX's convergence, for a live period or anchor edit), so 500
symbols held ~150 MB of the daemon's RSS in them. Here a candle is five doubles in one flat
`array('d')`: 40 bytes. Appends go to a short list first (as cheap as the deque this replaces:
every backtest bar comes through here) and are folded into the array every `FOLD` candles.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from itertools import chain

__all__ = ["FOLD", "CandleKeep", "KeptCandle"]

KeptCandle = tuple[int, float, float, float, float]  # (open_time, high, low, close, volume)

FOLD = 64  # appends collected as tuples before they are folded into the array
_FIELDS = 5
_TRIM_SLACK = 256  # candles beyond the capacity before the oldest are cut (one memmove per 256 bars)


class CandleKeep:
    """The newest `capacity` candles (oldest first when iterated), ~40 bytes each.

    Hot paths append to `recent` themselves and call `fold()` when it reaches `FOLD` (a method call
    per bar costs more than the list append); `append` does both for everyone else. Open times are
    stored as doubles: exact for any millisecond time below 2**53.
    """

    __slots__ = ("_flat", "capacity", "recent")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.recent: list[KeptCandle] = []
        self._flat = array("d")

    def append(self, candle: KeptCandle) -> None:
        """Keep one candle (the oldest beyond the capacity are dropped)."""
        recent = self.recent
        recent.append(candle)
        if len(recent) >= FOLD:
            self.fold()

    def fold(self) -> None:
        """Move the collected tuples into the array, cutting the oldest beyond the capacity."""
        flat = self._flat
        flat.extend(chain.from_iterable(self.recent))
        self.recent.clear()  # in place: hot paths hold a reference to this list
        excess = len(flat) - _FIELDS * self.capacity
        if excess >= _FIELDS * _TRIM_SLACK:
            del flat[:excess]

    def clear(self) -> None:
        """Forget every candle."""
        self.recent.clear()
        del self._flat[:]

    def __len__(self) -> int:
        return min(self.capacity, len(self._flat) // _FIELDS + len(self.recent))

    def __iter__(self) -> Iterator[KeptCandle]:
        flat, recent = self._flat, self.recent
        in_flat = len(flat) // _FIELDS
        skip = max(0, in_flat + len(recent) - self.capacity)
        for i in range(min(skip, in_flat) * _FIELDS, len(flat), _FIELDS):
            yield int(flat[i]), flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4]
        yield from recent[max(0, skip - in_flat):]
