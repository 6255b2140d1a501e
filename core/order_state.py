"""The order state machine: states, the transition table, and the one door for every change.

States (`OrderState`):

    PENDING_NEW ──▶ SENT ──▶ NEW ──▶ PARTIALLY_FILLED ──▶ FILLED
         │           │  ▲      │            │
         │           ▼  │      ▼            ▼
         │         UNKNOWN   PENDING_CANCEL ──▶ CANCELED / EXPIRED
         │           │
         │           └──────────────────────▶ LOST
         └──────────────────────────────────▶ CANCELED / EXPIRED / REJECTED / LOST

- PENDING_NEW: written to the database, not (known to be) sent yet.
- SENT: a send was attempted; the venue has not confirmed it (in flight, or a retryable failure).
- UNKNOWN: a send's outcome is unknown (timeout, 5xx): resolved by querying the client id.
- NEW / PARTIALLY_FILLED: open on the venue. PENDING_CANCEL: a cancel is on its way.
- LOST: the venue cannot find the order although its request can no longer arrive (its
  recvWindow has passed), or it no longer knows an order it once reported open. Never a silent
  CANCELED: a LOST order is shown and alerted, because what happened to it is not known from us.
- FILLED, CANCELED, EXPIRED, REJECTED, LOST are terminal: nothing leaves them (but the venue may
  still correct them, see `correct`).

Venue events arrive duplicated and out of order (user stream and REST answers race each other), so
`apply` never moves an order backwards: a late NEW after PARTIALLY_FILLED, or any non-terminal
status after a terminal one, is stale and ignored. Only a move the venue can never make (FILLED then
CANCELED, NEW then REJECTED) raises InvalidTransition: that means our view of the order is wrong.

Three doors, all table-driven; nothing else changes an order's state:

- `transition(state, target)`: a deliberate local move (send, unknown outcome, cancel request,
  a local terminal decision), checked against `TRANSITIONS`;
- `apply(state, venue_status)`: what the venue reported, tolerant of duplicates and stale events;
- `correct(state, venue_state)`: the venue contradicts our view (it is the truth): the moves in
  `CORRECTIONS`, taken only after `apply` raised InvalidTransition, and always logged loudly.

Fill accounting per order lives with the order path (`executor/orders/progress.py`).
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition
from core.events import VenueOrderStatus


class OrderState(StrEnum):
    """The local state of one order (the `state` column of `orders`)."""

    PENDING_NEW = "PENDING_NEW"
    SENT = "SENT"
    UNKNOWN = "UNKNOWN"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    LOST = "LOST"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_unconfirmed(self) -> bool:
        """Written locally but not (yet) confirmed by the venue: resolve by client id."""
        return self in UNCONFIRMED_STATES


TERMINAL_STATES = frozenset(
    {OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED, OrderState.REJECTED, OrderState.LOST}
)
UNCONFIRMED_STATES = frozenset({OrderState.PENDING_NEW, OrderState.SENT, OrderState.UNKNOWN})
OPEN_STATES = frozenset({OrderState.NEW, OrderState.PARTIALLY_FILLED, OrderState.PENDING_CANCEL})
# Every state that reconciliation must check against the venue.
LIVE_STATES = UNCONFIRMED_STATES | OPEN_STATES

_S = OrderState
_ENDS = frozenset({_S.FILLED, _S.CANCELED, _S.EXPIRED})
_VENUE_STATES = frozenset({_S.NEW, _S.PARTIALLY_FILLED}) | _ENDS | {_S.REJECTED}

# The explicit transition table: state -> states it may move to. Same-state moves are always
# allowed (duplicates). Terminal states have no way out.
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    # PENDING_NEW -> REJECTED: refused locally or by the venue; -> LOST: never reached the venue
    # (reconcile). Venue states directly: the user stream can beat the REST response.
    _S.PENDING_NEW: frozenset({_S.SENT, _S.UNKNOWN, _S.LOST}) | _VENUE_STATES,
    _S.SENT: frozenset({_S.UNKNOWN, _S.LOST}) | _VENUE_STATES,
    # UNKNOWN -> SENT: the query said the venue never saw it, so the same client id is resent.
    _S.UNKNOWN: frozenset({_S.SENT, _S.LOST}) | _VENUE_STATES,
    # An open order the venue no longer knows (Binance drops old orders without fills) is LOST.
    _S.NEW: frozenset({_S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.LOST}) | _ENDS,
    _S.PARTIALLY_FILLED: frozenset({_S.PENDING_CANCEL, _S.LOST}) | _ENDS,
    # PENDING_CANCEL -> NEW / PARTIALLY_FILLED: the cancel request failed and the order is open.
    _S.PENDING_CANCEL: frozenset({_S.NEW, _S.PARTIALLY_FILLED, _S.LOST}) | _ENDS,
    _S.FILLED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.LOST: frozenset(),
}

# How far along an order is; a venue report never moves an order to a lower rank.
_RANK: dict[OrderState, int] = {
    _S.PENDING_NEW: 0,
    _S.SENT: 1,
    _S.UNKNOWN: 1,
    _S.NEW: 2,
    _S.PARTIALLY_FILLED: 3,
    _S.PENDING_CANCEL: 4,
    _S.FILLED: 5,
    _S.CANCELED: 5,
    _S.EXPIRED: 5,
    _S.REJECTED: 5,
    _S.LOST: 5,
}

_FROM_VENUE: dict[VenueOrderStatus, OrderState] = {
    VenueOrderStatus.NEW: _S.NEW,
    VenueOrderStatus.PARTIALLY_FILLED: _S.PARTIALLY_FILLED,
    VenueOrderStatus.FILLED: _S.FILLED,
    VenueOrderStatus.CANCELED: _S.CANCELED,
    VenueOrderStatus.REJECTED: _S.REJECTED,
    VenueOrderStatus.EXPIRED: _S.EXPIRED,
    VenueOrderStatus.EXPIRED_IN_MATCH: _S.EXPIRED,
}


def state_of(venue_status: VenueOrderStatus) -> OrderState:
    """The local state that a venue status stands for."""
    return _FROM_VENUE[venue_status]


def transition(state: OrderState, target: OrderState) -> OrderState:
    """A deliberate local move (send, unknown outcome, cancel request); raises if not allowed."""
    if target is state or target in TRANSITIONS[state]:
        return target
    raise InvalidTransition(f"{state} -> {target}")


def apply(state: OrderState, venue_status: VenueOrderStatus) -> OrderState:
    """The state after the venue reported `venue_status`, tolerant of duplicates and stale events.

    Returns `state` unchanged for a duplicate or a late (lower-ranked) status, and for any
    non-terminal status after a terminal state. Raises InvalidTransition when the venue reports a
    move it can never make (a different terminal state, or REJECTED for an accepted order).
    """
    target = _FROM_VENUE[venue_status]
    if target is state:
        return state
    if state.is_terminal:
        if target.is_terminal:
            raise InvalidTransition(f"{state} -> {target}: an order ends only once")
        return state
    if not target.is_terminal and _RANK[target] <= _RANK[state]:
        return state
    if target not in TRANSITIONS[state]:
        raise InvalidTransition(f"{state} -> {target}")
    return target


# When the venue contradicts a terminal view (we hold FILLED, it says CANCELED; we hold NEW, it says
# REJECTED), the venue wins: every state may be corrected to any state the venue can report. These
# moves are not part of the normal life of an order, so they have their own table and function.
CORRECTIONS: dict[OrderState, frozenset[OrderState]] = {state: _VENUE_STATES for state in OrderState}

TERMINAL_STATE_NAMES = frozenset(state.value for state in TERMINAL_STATES)
"""The terminal states' names, as `OrderUpdate.state` carries them."""


def correct(state: OrderState, venue_state: OrderState) -> OrderState:
    """The venue's state after it contradicted ours (see CORRECTIONS); raises if it is not one."""
    if venue_state is state or venue_state in CORRECTIONS[state]:
        return venue_state
    raise InvalidTransition(f"{state} -> {venue_state}: not a state the venue reports")
