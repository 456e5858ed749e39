"""Options with bounds and the declaration a heartbeat carries."""

from __future__ import annotations

from typing import Any

import pytest

from elysium.modes import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    ModeDeclaration,
    OptionError,
    RoomSettingError,
    SchemaError,
    declare,
)
from elysium.modes.options import check_options, resolve
from gameserver.modes.arena import Arena

OPTIONS = (IntOption("rounds", lo=1, hi=9, default=3), FloatOption("turn_s", lo=5.0, hi=60.0, default=20.0),
           BoolOption("jokers"), ChoiceOption("deck", choices=("short", "full"), default="full"))


def test_resolve_fills_defaults_and_checks_every_bound() -> None:
    assert resolve(OPTIONS, {}) == {"rounds": 3, "turn_s": 20.0, "jokers": False, "deck": "full"}
    assert resolve(OPTIONS, {"rounds": 9, "turn_s": 5, "jokers": True, "deck": "short"}) == {
        "rounds": 9, "turn_s": 5.0, "jokers": True, "deck": "short"}
    assert resolve(OPTIONS, {"rounds": 1.0})["rounds"] == 1  # JSON may carry 1.0


@pytest.mark.parametrize(("given", "name"), [
    ({"rounds": 0}, "rounds"), ({"rounds": 10}, "rounds"), ({"rounds": 2.5}, "rounds"), ({"rounds": True}, "rounds"),
    ({"turn_s": 4.9}, "turn_s"), ({"turn_s": float("nan")}, "turn_s"), ({"turn_s": "5"}, "turn_s"),
    ({"jokers": 1}, "jokers"), ({"deck": "tiny"}, "deck"), ({"colour": "red"}, "colour"),
])
def test_a_value_outside_its_declaration_is_refused_naming_it(given: dict[str, Any], name: str) -> None:
    with pytest.raises(OptionError) as err:
        resolve(OPTIONS, given)
    assert err.value.name == name and str(err.value).startswith(f"options.{name} ")


@pytest.mark.parametrize("options", [
    (IntOption("seats", lo=1, hi=2, default=1),),  # an engine setting's name
    (IntOption("a", lo=1, hi=2, default=3),),
    (IntOption("a", lo=1, hi=2, default=1), BoolOption("a")),
    (ChoiceOption("a", choices=(), default=""),),
])
def test_a_wrong_option_declaration_is_refused(options: tuple[Any, ...]) -> None:
    with pytest.raises(SchemaError):
        check_options(options)


def test_the_declaration_round_trips_through_its_wire_form() -> None:
    decl = declare(Arena)
    again = ModeDeclaration.parse("arena", decl.to_json())
    assert again == decl and decl.api_version == 1 and decl.seats == (1, 1000)
    mixed = ModeDeclaration("cards", 1, (2, 4), (0, 0), (1, 10), OPTIONS)
    assert ModeDeclaration.parse("cards", mixed.to_json()) == mixed


@pytest.mark.parametrize("raw", [
    None, {"api": 0, "seats": [1, 2], "teams": [0, 0], "tick_hz": [1, 60]},
    {"api": 1, "seats": [2, 1], "teams": [0, 0], "tick_hz": [1, 60]},
    {"api": 1, "seats": [1, 2], "teams": [0, 0], "tick_hz": [1, 60], "options": [{"name": "x", "type": "int"}]},
    {"api": 1, "seats": [1, 2], "teams": [0, 0], "tick_hz": [1, 60], "options": [{"name": "x", "type": "blob"}]},
])
def test_a_malformed_declaration_is_refused(raw: Any) -> None:
    with pytest.raises(SchemaError):
        ModeDeclaration.parse("x", raw)


def test_check_room_names_the_setting_out_of_bounds() -> None:
    decl = ModeDeclaration("cards", 1, (2, 4), (0, 0), (1, 10), OPTIONS)
    assert decl.check_room(seats=4, teams=0, tick_hz=10)["deck"] == "full"
    for kwargs, field in (({"seats": 5, "teams": 0}, "seats"), ({"seats": 2, "teams": 2}, "teams"),
                          ({"seats": 2, "teams": 0, "tick_hz": 20}, "tick_hz"),
                          ({"seats": 2, "teams": 0, "options": {"rounds": 99}}, "options.rounds")):
        with pytest.raises(RoomSettingError) as err:
            decl.check_room(**kwargs)
        assert err.value.field == field
