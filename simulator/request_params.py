"""A REST request's integer parameters, read as Binance does: -1102 when one is malformed."""

from __future__ import annotations

from simulator.errors import SimError
from simulator.order_rules import MSG_MANDATORY

Params = dict[str, str]


def opt_int(params: Params, name: str) -> int | None:
    """The integer parameter `name`, or None when it was not sent (or sent empty)."""
    text = params.get(name, "").strip()
    if not text:
        return None
    if not text.lstrip("-").isdigit():
        raise SimError(-1102, MSG_MANDATORY.format(name))
    return int(text)


def int_param(params: Params, name: str, default: int | None) -> int:
    """The integer parameter `name`, else `default`; -1102 when missing and there is no default."""
    value = opt_int(params, name)
    if value is None:
        if default is None:
            raise SimError(-1102, MSG_MANDATORY.format(name))
        return default
    return value
