"""The re-priced copy of an order gets a deterministic, valid, distinct client id."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.client_ids import CLIENT_ID_PATTERN, REPRICE_SUFFIX, reprice_client_id

_IDS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-", min_size=1, max_size=36
)


@given(_IDS)
def test_reprice_id_is_valid_deterministic_and_different(cid: str) -> None:
    new = reprice_client_id(cid)
    assert CLIENT_ID_PATTERN.match(new)
    assert new == reprice_client_id(cid)
    assert new != cid
    assert new.endswith(REPRICE_SUFFIX)


def test_long_ids_that_share_a_prefix_get_different_reprice_ids() -> None:
    a = "x" * 30 + "aaaaaa"
    b = "x" * 30 + "bbbbbb"
    assert reprice_client_id(a) != reprice_client_id(b)
    assert len(reprice_client_id(a)) == 36


def test_the_risk_gate_ids_keep_their_readable_form() -> None:
    cid = "tr-" + "a" * 26
    assert reprice_client_id(cid) == cid + ".r1"
