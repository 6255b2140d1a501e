"""Deterministic client order ids: one order intent, one id, across restarts and replays.

Binance accepts `newClientOrderId` matching ^[.A-Z:/a-z0-9_-]{1,36}$ and refuses a second open
order with the same id, so an id derived only from the signal id makes a replayed signal map to the
order that already exists instead of a second one.

The id is `tr-` followed by the first 130 bits of SHA-256 of the signal id, in lower-case base32
(26 characters): 29 characters in total, which leaves room for the `.r1` suffix of the one
re-priced copy of an order (`reprice_client_id`). 130 bits make a collision between two different
intents practically impossible.
"""

from __future__ import annotations

import base64
import hashlib
import re

# Binance's newClientOrderId pattern (-4015 otherwise).
CLIENT_ID_PATTERN = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
REPRICE_SUFFIX = ".r1"
PREFIX = "tr-"
_DIGEST_CHARS = 26  # 26 base32 characters = 130 bits


def client_order_id_for(signal_id: str, attempt: int = 0) -> str:
    """The client order id of the order for `signal_id`.

    `attempt` > 0 gives a different, equally deterministic id for a deliberate new order for the
    same intent (for example after the first one was rejected); attempt 0 is the id the risk gate
    uses.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    # The attempt is appended only when non-zero, so attempt 0 depends on the signal id alone.
    material = signal_id if attempt == 0 else f"{signal_id}\x00{attempt}"
    digest = hashlib.sha256(material.encode("utf-8")).digest()
    encoded = base64.b32encode(digest).decode("ascii").lower()
    return PREFIX + encoded[:_DIGEST_CHARS]


def reprice_client_id(client_order_id: str) -> str:
    """The deterministic client id of the one re-priced copy of an order (36 characters at most)."""
    if len(client_order_id) + len(REPRICE_SUFFIX) <= 36:
        return client_order_id + REPRICE_SUFFIX
    digest = hashlib.sha256(client_order_id.encode()).hexdigest()[:8]
    return f"{client_order_id[:24]}.{digest}{REPRICE_SUFFIX}"


__all__ = ["CLIENT_ID_PATTERN", "PREFIX", "REPRICE_SUFFIX", "client_order_id_for", "reprice_client_id"]
