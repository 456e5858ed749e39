"""Input schemas: the one strict decoder, its generated fast path, and what the engine does with rows."""

from __future__ import annotations

import math
from typing import Any

import pytest

from elysium.modes import (
    BoolField,
    EnumField,
    FloatField,
    InputSchema,
    IntField,
    MoveField,
    SchemaError,
)
from elysium.ws.envelope import BAD_FIELD, ProtocolViolation

SCHEMA = InputSchema((
    IntField("power", lo=-3, hi=5, default=1),
    FloatField("turn", lo=-0.5, hi=0.5),
    BoolField("jump", hold=False, latch=True),
    EnumField("stance", choices=("stand", "crouch", "prone")),
    MoveField("card", count=52),
))


def decode(row: Any) -> tuple[Any, ...]:
    return SCHEMA.decode_row(row)


def test_a_valid_row_decodes_into_the_row_type_with_names() -> None:
    row = decode([7, 5, 0.5, True, 2, 51])
    assert row == (7, 5, 0.5, True, 2, 51)
    assert row.seq == 7 and row.power == 5 and row.card == 51  # type: ignore[attr-defined]
    assert type(row) is SCHEMA.row_type


@pytest.mark.parametrize("row", [
    [0, -3, -0.5, False, 0, -1],  # every field at its low bound
    [2**32 - 1, 5, 0.5, True, 2, 51],  # and at its high bound
    [1, 0, 0, 1, 0, 0],  # an integer for a float, 0/1 for a boolean (the lenient path)
])
def test_rows_at_every_bound_are_accepted(row: list[Any]) -> None:
    out = decode(row)
    assert out[0] == row[0] and type(out[2]) is float and type(out[3]) is bool


@pytest.mark.parametrize(("row", "names"), [
    ([1, 6, 0.0, False, 0, -1], "power"),
    ([1, -4, 0.0, False, 0, -1], "power"),
    ([1, 1.0, 0.0, False, 0, -1], "power"),
    ([1, True, 0.0, False, 0, -1], "power"),
    ([1, 0, 0.51, False, 0, -1], "turn"),
    ([1, 0, math.nan, False, 0, -1], "turn"),
    ([1, 0, math.inf, False, 0, -1], "turn"),
    ([1, 0, "0", False, 0, -1], "turn"),
    ([1, 0, 0.0, 2, 0, -1], "jump"),
    ([1, 0, 0.0, None, 0, -1], "jump"),
    ([1, 0, 0.0, False, 3, -1], "stance"),
    ([1, 0, 0.0, False, -1, -1], "stance"),
    ([1, 0, 0.0, False, 0, 52], "card"),
    ([1, 0, 0.0, False, 0, -2], "card"),
    ([-1, 0, 0.0, False, 0, -1], "seq"),
    ([2**32, 0, 0.0, False, 0, -1], "seq"),
    ([1, 0, 0.0, False, 0], "each input"),
    ({"seq": 1}, "each input"),
])
def test_a_bad_value_is_a_bad_field_naming_it(row: Any, names: str) -> None:
    with pytest.raises(ProtocolViolation) as err:
        decode(row)
    assert err.value.code == BAD_FIELD and err.value.message.startswith(names)


def test_rows_of_a_message_are_one_to_max() -> None:
    assert len(SCHEMA.decode_rows([[1, 0, 0.0, False, 0, -1]] * 3, 16)) == 3
    for rows in ([], [[1, 0, 0.0, False, 0, -1]] * 17, "x", None):
        with pytest.raises(ProtocolViolation):
            SCHEMA.decode_rows(rows, 16)


def test_repeat_keeps_held_fields_and_resets_the_others() -> None:
    row = decode([9, 4, 0.25, True, 1, 12])
    assert SCHEMA.repeat(row) == (9, 4, 0.25, False, 1, -1)  # jump is not held; a move never is


def test_carry_keeps_the_newest_latched_value_of_dropped_inputs() -> None:
    old = [decode([1, 0, 0.0, True, 0, 5]), decode([2, 0, 0.0, False, 0, 7])]
    kept = decode([3, 2, 0.1, False, 1, -1])
    assert SCHEMA.carry(old, kept) == (3, 2, 0.1, True, 1, 7)
    already = decode([3, 2, 0.1, False, 1, 9])
    assert SCHEMA.carry(old, already)[5] == 9  # the applied input's own move wins


def test_the_wire_description_lists_every_field_with_its_bounds() -> None:
    doc = SCHEMA.to_json()
    assert doc["row"] == ["seq", "power", "turn", "jump", "stance", "card"]
    by_name = {f["name"]: f for f in doc["fields"]}
    assert by_name["power"] == {"name": "power", "type": "int", "default": 1, "hold": True, "latch": False,
                                "min": -3, "max": 5}
    assert by_name["stance"]["choices"] == ["stand", "crouch", "prone"]
    assert by_name["card"] == {"name": "card", "type": "move", "default": -1, "hold": False, "latch": True,
                               "min": -1, "max": 51}


@pytest.mark.parametrize("fields", [
    (),
    (IntField("seq", lo=0, hi=1),),
    (IntField("a", lo=0, hi=1), IntField("a", lo=0, hi=1)),
    (IntField("Bad", lo=0, hi=1),),
    (IntField("import", lo=0, hi=1),),
    (IntField("a", lo=2, hi=1),),
    (IntField("a", lo=0, hi=1, default=5),),
    (FloatField("a", lo=0.0, hi=math.inf),),
    (EnumField("a", choices=()),),
    (EnumField("a", choices=("x", "x")),),
    (MoveField("a", count=0),),
    (MoveField("a", count=3, hold=True),),
])
def test_a_wrong_declaration_is_refused(fields: tuple[Any, ...]) -> None:
    with pytest.raises(SchemaError):
        InputSchema(fields)
