"""Client order ids: deterministic, unique per intent, Binance's pattern and length."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.client_ids import CLIENT_ID_PATTERN, client_order_id_for

BINANCE = r"^[.A-Z:/a-z0-9_-]{1,36}$"


def test_the_pattern_is_binances() -> None:
    assert CLIENT_ID_PATTERN.pattern == BINANCE


@given(st.text(min_size=0, max_size=300), st.integers(min_value=0, max_value=10_000))
def test_every_id_matches_the_pattern_and_leaves_room_for_a_reprice_suffix(
    signal_id: str, attempt: int
) -> None:
    cid = client_order_id_for(signal_id, attempt)
    assert CLIENT_ID_PATTERN.fullmatch(cid), cid
    assert len(cid) <= 33  # the order manager appends ".r1" to a re-priced copy


def test_the_same_signal_gives_the_same_id_in_every_process() -> None:
    # Fixed values, not f(x) == f(x): an id drawn from the process (hash(), a random salt, the
    # time) would still equal itself within one run but not after a restart, which must resend
    # under the same id for the venue to refuse the duplicate.
    signal_id = "vwap:WLDUSDT:1700000000000:OPEN_LONG"
    assert client_order_id_for(signal_id) == "tr-lltxilhtiydmjq7eydqf2554vx"
    assert client_order_id_for(signal_id, 1) == "tr-ynpirx2i4kcor2usmraxohzzpv"
    assert client_order_id_for("a") == client_order_id_for("a", 0) == "tr-zklycewkdo64v6wcggzzui64jw"


@given(st.text(max_size=200))
def test_each_attempt_of_a_signal_has_its_own_id(signal_id: str) -> None:
    assert client_order_id_for(signal_id, 1) != client_order_id_for(signal_id, 2)


@given(st.text(max_size=100), st.text(max_size=100))
def test_different_signals_give_different_ids(a: str, b: str) -> None:
    if a != b:
        assert client_order_id_for(a) != client_order_id_for(b)


def test_attempts_differ_from_each_other_and_from_the_first() -> None:
    ids = {client_order_id_for("WLDUSDT:vwap:OPEN_LONG:1709550000000", n) for n in range(50)}
    assert len(ids) == 50


def test_ids_that_differ_only_in_case_or_similar_text_stay_apart() -> None:
    # Signal ids are built from symbol, strategy, action and time; near-identical ones must not collide.
    base = "WLDUSDT:vwap:OPEN_LONG:"
    ids = {client_order_id_for(f"{base}{t}") for t in range(1_709_550_000_000, 1_709_550_000_000 + 5_000)}
    assert len(ids) == 5_000


def test_a_negative_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="attempt"):
        client_order_id_for("x", -1)
