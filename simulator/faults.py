"""Fault injection: the failures a real Binance connection shows, on demand.

A fault is written `name[=value][,option=value...]` (the `--fault` CLI flag, repeatable), passed to
`FaultPlan.add(name, value, **options)` from Python, or POSTed as JSON to `/_sim/faults`
(`{"name": ..., "value": ..., <options>}`, a list of those, or `{"spec": "name=value,..."}`).
Every time a fault acts it is counted; `FaultPlan.report()` (GET /_sim/faults) shows what fired.

The plan only decides; the server acts (closing sockets, answering 5xx, ...), so this module has no
I/O and every decision is testable on its own.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import SimError

__all__ = ["FAULTS", "Fault", "FaultError", "FaultPlan"]

# name -> (what the positional value means, its default, allowed options)
FAULTS: dict[str, tuple[str, str | None, frozenset[str]]] = {
    "ws_drop": ("close every WebSocket now, abnormally (no close frame)", None, frozenset()),
    "ws_drop_every": ("close every WebSocket every N wall seconds", None, frozenset()),
    "ws_stall": ("open stream sockets go silent, no close, no ping, for N s (0 = until cleared)", "0",
                 frozenset()),
    "user_drop": ("drop the next N user-data events", "1", frozenset({"event"})),
    "user_dup": ("send each of the next N user-data events twice", "1", frozenset({"event"})),
    "user_reorder": ("deliver each of the next N user-data events after the one that follows it", "1",
                     frozenset({"event"})),
    "kline_gap": ("send no kline message for N simulated minutes from now (closed candles too)", "1",
                  frozenset()),
    "rest_error": ("answer 5xx on ENDPOINT (e.g. order); when=before: not executed, when=after: executed",
                   None, frozenset({"when", "status", "count", "method"})),
    "rest_delay": ("on ENDPOINT, execute then wait seconds=S before answering (a client timeout)", None,
                   frozenset({"seconds", "count", "method"})),
    "force_429": ("answer the next N REST requests with 429 and Retry-After", "1", frozenset()),
    "force_418": ("ban the IP now for N seconds (418 on every REST request)", "60", frozenset()),
    "clock_skew": ("server time (/fapi/v1/time and the timestamp check) = wall clock + N ms", None,
                   frozenset()),
    "listen_key_expire": ("expire the current listenKey now (listenKeyExpired is pushed)", None,
                          frozenset()),
    "reject_orders": ("reject the next N new orders with code=C (default -2019) and msg=", "1",
                      frozenset({"code", "msg"})),
}

# Faults the server carries out at once (and then forgets) instead of consulting on each event.
IMMEDIATE = frozenset({"ws_drop", "ws_stall", "listen_key_expire", "force_418"})

_REJECT_MESSAGES = {
    -2019: "Margin is insufficient.",
    -2022: "ReduceOnly Order is rejected.",
    -4164: "Order's notional must be no smaller than 5 (unless you choose reduce only).",
    -1008: "Server is currently overloaded with other requests. Please try again in a few minutes.",
}


class FaultError(ValueError):
    """A fault spec that names no fault or has a bad value; the message says which and how."""


@dataclass(slots=True)
class Fault:
    """One injected fault; `remaining` counts down for faults that act N times."""

    name: str
    value: str | None
    options: dict[str, str] = field(default_factory=dict)
    remaining: int | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """JSON form for the control endpoint."""
        return {"name": self.name, "value": self.value, "remaining": self.remaining, **self.options}

    def number(self, option: str | None = None, default: float = 0.0) -> float:
        """The value (or an option) as a number."""
        raw = self.value if option is None else self.options.get(option)
        return default if raw is None else float(raw)


def parse_spec(spec: str) -> tuple[str, str | None, dict[str, str]]:
    """`rest_error=order,when=after` -> ("rest_error", "order", {"when": "after"})."""
    head, *rest = spec.strip().split(",")
    name, _, value = head.partition("=")
    options: dict[str, str] = {}
    for item in rest:
        key, sep, val = item.partition("=")
        if not sep:
            raise FaultError(f"fault {spec!r}: option {item!r} must be key=value")
        options[key.strip()] = val.strip()
    return name.strip(), (value.strip() or None), options


class FaultPlan:
    """The faults in force, and a record of every time one acted."""

    def __init__(self, specs: list[str] | tuple[str, ...] = ()) -> None:
        self._active: list[Fault] = []
        self.fired: Counter[str] = Counter()
        self.log: list[dict[str, Any]] = []
        for spec in specs:
            self.add_spec(spec)

    # --- adding -----------------------------------------------------------------------------

    def add_spec(self, spec: str) -> Fault:
        """Add a fault written `name[=value][,option=value...]`."""
        name, value, options = parse_spec(spec)
        return self.add(name, value, **options)

    def add(self, name: str, value: str | float | None = None, **options: str | float) -> Fault:
        """Add a fault; raises FaultError naming the problem for an unknown name or a bad value."""
        if name not in FAULTS:
            raise FaultError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        meaning, default, allowed = FAULTS[name]
        unknown = set(options) - allowed
        if unknown:
            raise FaultError(f"fault {name}: unknown option(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        text = default if value is None else str(value)
        fault = Fault(name, text, {k: str(v) for k, v in options.items()})
        self._validate(fault, meaning)
        if name in ("rest_error", "rest_delay"):
            fault.remaining = int(fault.options.get("count", "1"))
        elif name in ("user_drop", "user_dup", "user_reorder", "force_429", "reject_orders"):
            fault.remaining = int(fault.number())
        if name in ("clock_skew", "ws_drop_every"):  # one of each at a time: the newest wins
            self._active = [f for f in self._active if f.name != name]
        self._active.append(fault)
        if name == "clock_skew":
            self.record(name, f"{fault.value} ms")
        return fault

    @staticmethod
    def _validate(fault: Fault, meaning: str) -> None:
        try:
            if fault.name in ("rest_error", "rest_delay"):
                if not fault.value:
                    raise ValueError("an endpoint is required, e.g. order")
                if fault.options.get("when", "before") not in ("before", "after"):
                    raise ValueError("when must be before or after")
                int(fault.options.get("count", "1"))
                int(fault.options.get("status", "503"))
                fault.number("seconds", 0)
            elif fault.name == "reject_orders":
                int(fault.options.get("code", "-2019"))
                int(fault.number())
            elif fault.name not in ("ws_drop", "listen_key_expire"):
                if fault.value is None:
                    raise ValueError("a value is required")
                fault.number()
        except ValueError as exc:
            raise FaultError(f"fault {fault.name}: {exc} ({fault.name}: {meaning})") from None

    def clear(self) -> None:
        """Remove every fault (the record of what fired stays)."""
        self._active.clear()

    def record(self, name: str, detail: str = "") -> None:
        """Count one action of a fault."""
        self.fired[name] += 1
        self.log.append({"name": name, "wall_ms": time.time_ns() // 1_000_000, "detail": detail})
        del self.log[:-1000]

    def report(self) -> dict[str, Any]:
        """What is in force and what fired (the body of GET /_sim/faults)."""
        return {
            "active": [f.describe() for f in self._active],
            "fired": dict(self.fired),
            "log": list(self.log),
        }

    def _first(self, name: str) -> Fault | None:
        return next((f for f in self._active if f.name == name), None)

    def _use(self, fault: Fault, detail: str = "") -> None:
        self.record(fault.name, detail)
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._active.remove(fault)

    # --- decisions the server asks for ------------------------------------------------------

    def take_immediate(self) -> list[Fault]:
        """Faults to carry out now (ws_drop, ws_stall, listen_key_expire, force_418); the server
        records them when done."""
        now = [f for f in self._active if f.name in IMMEDIATE]
        self._active = [f for f in self._active if f.name not in IMMEDIATE]
        return now

    def ws_drop_due(self, wall_ms: int) -> bool:
        """True when the periodic ws_drop_every fault says: close every socket now."""
        fault = self._first("ws_drop_every")
        if fault is None:
            return False
        period_ms = int(fault.number() * 1000)
        due = fault.state.setdefault("next", wall_ms + period_ms)
        if wall_ms < due:
            return False
        fault.state["next"] = wall_ms + period_ms
        self.record(fault.name)
        return True

    def skew_ms(self) -> int:
        """Current clock skew of the server's time (0 without the fault)."""
        fault = self._first("clock_skew")
        return int(fault.number()) if fault else 0

    def take_force_429(self) -> bool:
        """True if this request must be answered 429."""
        fault = self._first("force_429")
        if fault is None:
            return False
        self._use(fault)
        return True

    def take_rest_fault(self, method: str, endpoint: str) -> Fault | None:
        """The rest_error / rest_delay fault for this request, if any (consumed)."""
        for fault in self._active:
            if (
                fault.name in ("rest_error", "rest_delay")
                and fault.value in (endpoint, f"/{endpoint}")
                and fault.options.get("method", method).upper() == method
            ):
                self._use(fault, f"{method} {endpoint}")
                return fault
        return None

    def take_order_rejection(self) -> SimError | None:
        """The rejection for this new order, if reject_orders is in force."""
        fault = self._first("reject_orders")
        if fault is None:
            return None
        code = int(fault.options.get("code", "-2019"))
        msg = fault.options.get("msg") or _REJECT_MESSAGES.get(code, "Order rejected (simulated fault).")
        self._use(fault, str(code))
        return SimError(code, msg)

    def skip_market(self, stream: str, sim_ms: int) -> bool:
        """True if this market message falls in a kline gap."""
        fault = self._first("kline_gap")
        if fault is None or "@kline" not in stream:
            return False
        start = fault.state.setdefault("start", sim_ms)
        if sim_ms >= start + int(fault.number() * 60_000):
            self._active.remove(fault)
            return False
        self.record(fault.name, stream)
        return True

    def filter_user(self, events: list[dict[str, Any]], wall_ms: int) -> list[dict[str, Any]]:
        """Apply user_drop / user_dup / user_reorder to a batch of user-data events, in order.

        A held-back (reordered) event is released after the next event, or after one second of
        wall time if none follows: late, never lost.
        """
        out: list[dict[str, Any]] = []
        reorder = self._first("user_reorder")
        held = reorder.state.get("held") if reorder else None
        for event in events:
            drop = self._matching("user_drop", event)
            if drop is not None:
                self._use(drop, str(event.get("e")))
                continue
            dup = self._matching("user_dup", event)
            if dup is not None:
                self._use(dup, str(event.get("e")))
                out += [event, event]
            elif held is not None:
                out += [event, held[1]]
                held = None
            else:
                swap = self._matching("user_reorder", event)
                if swap is None:
                    out.append(event)
                    continue
                held = (wall_ms, event)
                reorder = swap
                self._use(swap, str(event.get("e")))
        if held is not None and wall_ms - held[0] >= 1000:
            out.append(held[1])
            held = None
        if reorder is not None:
            reorder.state["held"] = held
            if held is not None and reorder not in self._active:
                self._active.append(reorder)  # keep it until its held event is out
            elif held is None and reorder.remaining is not None and reorder.remaining <= 0:
                self._active = [f for f in self._active if f is not reorder]
        return out

    def _matching(self, name: str, event: dict[str, Any]) -> Fault | None:
        for fault in self._active:
            if fault.name == name and (fault.remaining or 0) > 0:
                wanted = fault.options.get("event")
                if wanted is None or wanted == event.get("e"):
                    return fault
        return None
