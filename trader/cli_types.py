"""Value types for the `python -m trader` commands' options (argparse `type=`), shared so that every
command checks a number or a date the same way.

Each factory returns the converter for one option. A bad value raises `argparse.ArgumentTypeError`,
whose text argparse prints after the option's name (`argument --keep: must be >= 0, got -1`), so
each command keeps its own words for what it expected.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime


def whole_number(expected: str, low: int, high: int | None = None, *, bound: str) -> Callable[[str], int]:
    """An int from `low` to `high` (no upper limit when None). Text that is not a whole number is
    refused with `expected {expected}, got '...'`; a number out of range with `{bound}, got N`."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{bound}, got {value}")
        return value

    return convert


def utc_time_ms(expected: str, *layouts: str) -> Callable[[str], int]:
    """A UTC time written in one of the `strptime` `layouts`, as epoch milliseconds; anything else is
    refused with `expected {expected}, got '...'`."""

    def convert(text: str) -> int:
        for layout in layouts:
            try:
                return int(datetime.strptime(text, layout).replace(tzinfo=UTC).timestamp() * 1000)
            except ValueError:
                continue
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")

    return convert


__all__ = ["utc_time_ms", "whole_number"]
