"""The shipped exchangeInfo document (data/exchange_info.json) and synthetic symbols built on it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from core.instruments import Instrument, parse_instrument

# The entry cloned for a SYNTHETIC symbol that the document does not list (a 4-decimal alt).
TEMPLATE_SYMBOL = "WLDUSDT"


def load_exchange_info(path: Path) -> dict[str, Any]:
    """The exchangeInfo document as Binance sends it."""
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def with_synthetic_symbols(doc: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """A copy of `doc` where every name in `names` missing from it is a clone of the template entry."""
    out = copy.deepcopy(doc)
    known = {s["symbol"] for s in out["symbols"]}
    template = next(s for s in out["symbols"] if s["symbol"] == TEMPLATE_SYMBOL)
    for name in names:
        if name in known:
            continue
        entry = copy.deepcopy(template)
        base = name.removesuffix("USDT")
        entry.update(symbol=name, pair=name, baseAsset=base)
        out["symbols"].append(entry)
        known.add(name)
    return out


def instruments_of(doc: dict[str, Any]) -> dict[str, Instrument]:
    """Instrument rules by symbol, parsed with the daemon's own parser."""
    return {s["symbol"]: parse_instrument(s) for s in doc["symbols"]}
