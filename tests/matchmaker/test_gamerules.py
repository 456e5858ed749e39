"""The custom games' rules without Redis or sockets: settings against a mode's declaration,
seating, states."""

from __future__ import annotations

import pytest

from elysium.modes import ChoiceOption, IntOption, ModeDeclaration
from matchmaker.gamerules import GameSettingError, accepts, lobby_entry, seat_roster, settle, state_of
from matchmaker.modes import ModeConfig

ARENA = ModeConfig("arena", min_players=2, max_players=4, score_limit=3).validate()
TEAMS = ModeConfig("squads", teams=2, team_size=3, min_players=2, max_players=6).validate()
DECLARED = ModeDeclaration("arena", 1, (1, 1000), (0, 16), (1, 60), (
    IntOption("score_limit", lo=1, hi=100, default=10),
    ChoiceOption("map", choices=("dunes", "docks"), default="dunes"),
))


def test_the_queue_modes_settings_are_the_base_and_the_host_overrides_declared_options() -> None:
    assert settle(ARENA, DECLARED, 3, {}) == {"score_limit": 3, "map": "dunes"}
    assert settle(ARENA, DECLARED, 4, {"score_limit": 50}, "docks") == {"score_limit": 50, "map": "docks"}
    assert settle(ARENA, None, 2, {}) == {}  # an older server declares nothing: the queue mode's own apply


@pytest.mark.parametrize("seats, given, map_name, field", [
    (1, {}, None, "seats"), (5, {}, None, "seats"),
    (3, {"gravity": 1}, None, "options.gravity"), (3, {"score_limit": 101}, None, "options.score_limit"),
    (3, {"score_limit": True}, None, "options.score_limit"), (3, {}, "moon", "map"),
    (3, {"map": "docks"}, "docks", "map"),
])
def test_settings_outside_the_declaration_name_the_field(seats: int, given: dict[str, object], map_name: str | None,
                                                         field: str) -> None:
    with pytest.raises(GameSettingError) as err:
        settle(ARENA, DECLARED, seats, given, map_name)
    assert err.value.field == field
    assert err.value.option == (None if field == "seats" else field.removeprefix("options."))


def test_without_a_declaration_no_option_is_known() -> None:
    with pytest.raises(GameSettingError, match="its options: none"):
        settle(ARENA, None, 3, {"score_limit": 5})


def test_a_server_accepts_the_game_only_within_its_declaration() -> None:
    options = settle(ARENA, DECLARED, 3, {"score_limit": 50})
    assert accepts(DECLARED, ARENA, 3, options) and accepts(None, ARENA, 3, options)
    small = ModeDeclaration("arena", 1, (1, 2), (0, 16), (1, 60), DECLARED.options)
    assert not accepts(small, ARENA, 3, options)


def test_members_are_dealt_round_the_teams_in_seating_order() -> None:
    assert seat_roster(["a", "b", "c"], 0) == [("a", 0), ("b", 0), ("c", 0)]
    roster = seat_roster(["a", "b", "c", "d", "e"], TEAMS.teams)
    assert roster == [("a", 0), ("b", 1), ("c", 0), ("d", 1), ("e", 0)]


def test_states_and_lobby_order() -> None:
    assert [state_of(s, False) for s in ("hosted", "forming", "matched", "cancelled")] == [
        "open", "starting", "started", "ended"]
    assert state_of("hosted", True) == "locked"
    assert lobby_entry(5, "ABCDEF") < lobby_entry(40, "AAAAAA")  # lexical order is age order
