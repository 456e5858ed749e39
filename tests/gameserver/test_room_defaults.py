"""The defaults a room claim falls back to, and the refusals they lead to, say what they are."""

from __future__ import annotations

import pytest

from gameserver import protocol as p
from gameserver.spec import DEFAULT_MIN_PLAYERS, JoinRefused, RoomSpec, spec_from_claims


def spec(room: dict[str, object]) -> RoomSpec:
    return spec_from_claims("m1", room, default_tick_hz=20, max_seats=100)


def test_rooms_wait_for_two_players_unless_told() -> None:
    assert DEFAULT_MIN_PLAYERS == 2
    assert spec({"seats": 4}).min_players == 2
    assert spec({"seats": 4, "roster": ["a", "b", "c"]}).min_players == 3
    assert spec({"seats": 1, "min_players": 1}).min_players == 1


def test_one_seat_alone_is_refused_with_the_default_named() -> None:
    with pytest.raises(JoinRefused) as info:
        spec({"seats": 1})
    assert info.value.code == p.TOKEN_REJECTED
    assert "min_players defaults to 2" in str(info.value) and "room.seats (1)" in str(info.value)
    with pytest.raises(JoinRefused, match=r"room.min_players must be between 1 and 1"):
        spec({"seats": 1, "min_players": 2})
