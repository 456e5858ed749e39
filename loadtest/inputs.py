"""The two messages of the hot path, without building Python objects for them.

* :func:`encode_input` writes a player's ``input`` message (one row) with one
  ``struct.pack``: the same msgpack a ``packb`` of ``{"t": "input", "i": [[seq, mx, my, aim,
  fire]]}`` gives, except that ``seq`` is always a uint32 (msgpack lets an encoder pick any
  width that holds the value; ``tests/loadtest/test_inputs.py`` checks the server decodes it).
* :class:`SchemaInputs` writes the ``input`` of any other mode from the input schema its
  ``welcome`` carries (docs/protocol.md, ``welcome.input``): the behaviour's movement, aim and
  fire go to the fields of those names, every other field gets a value within its declared
  bounds from the player's own random generator. So the tester plays any mode, the ones it has
  never seen included, without knowing its rules (a move the rules refuse is answered to that
  player alone and changes nothing).
* :func:`delta_header` reads a delta's tick number ``n`` and timestamp ``ts`` from its first
  bytes. Elysium's game server writes every delta as a map whose first keys are ``t``, ``n``
  and ``ts`` (``gameserver/room.py``), with ``ts`` a uint64 (a wall clock in µs needs more than
  32 bits). The protocol does not promise that order, so anything else returns None and the
  caller decodes the whole message: another server only costs more, it is never misread.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

import msgpack

from loadtest.behaviour import Move, SmallRng

DELTA_HEAD = b"t\xa5delta"  # bytes 2..8 of a delta: the key "t" and the value "delta" (byte 0: the map, 1: "t"'s header)
_N_KEY = b"\xa1n"
_TS_KEY = b"\xa2ts\xcf"
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_INPUT = struct.Struct(">14sIBdBdBdB")
_INPUT_HEAD = b"\x82\xa1t\xa5input\xa1i\x91\x95\xce"  # {"t": "input", "i": [[ then seq as uint32


def encode_input(seq: int, move: Move) -> bytes:
    """The msgpack of one ``input`` message: ``{"t": "input", "i": [[seq, mx, my, aim, fire]]}``."""
    return _INPUT.pack(_INPUT_HEAD, seq, 0xCB, move[0], 0xCB, move[1], 0xCB, move[2], 0xC3 if move[3] else 0xC2)


ARENA_ROW = ("seq", "move_x", "move_y", "aim", "fire")  # the row :func:`encode_input` writes


class SchemaError(ValueError):
    """A welcome's input schema the tester cannot read (a server outside docs/protocol.md)."""


ValueOf = Callable[[Move], Any]


class SchemaInputs:
    """Encodes inputs for the schema of one welcome; None from :meth:`of` for the arena's row."""

    __slots__ = ("values",)

    def __init__(self, values: list[ValueOf]) -> None:
        self.values = values

    @classmethod
    def of(cls, schema: Mapping[str, Any] | None, rng: SmallRng) -> SchemaInputs | None:
        """The encoder for ``welcome.input``; None when it is the arena's row (the fast path)."""
        if schema is None or tuple(schema.get("row") or ()) == ARENA_ROW:
            return None
        fields = schema.get("fields")
        if not isinstance(fields, list) or not fields:
            raise SchemaError("welcome.input has no fields")
        return cls([_value_of(f, rng) for f in fields])

    def encode(self, seq: int, move: Move) -> bytes:
        row = [seq, *(value(move) for value in self.values)]
        data: bytes = msgpack.packb({"t": "input", "i": [row]})
        return data


def _value_of(field: Mapping[str, Any], rng: SmallRng) -> ValueOf:
    name, kind = field.get("name"), field.get("type")
    if kind == "float":
        lo, hi = float(field["min"]), float(field["max"])
        if name in ("move_x", "move_y", "aim"):
            axis = ("move_x", "move_y", "aim").index(name)
            return lambda move: min(hi, max(lo, move[axis]))
        return lambda move: rng.uniform(lo, hi)
    if kind == "bool":
        if name == "fire" or field.get("latch"):
            return lambda move: move[3]  # a one-off action, when the behaviour fires
        return lambda move: rng.random() < 0.25
    if kind in ("int", "move"):
        lo_i, hi_i = int(field["min"]), int(field["max"])
        return lambda move: rng.randint(lo_i, hi_i)
    if kind == "enum":
        choices = list(field.get("choices") or ())
        if not choices:
            raise SchemaError(f"enum field {name!r} has no choices")
        return lambda move: choices[min(len(choices) - 1, int(rng.random() * len(choices)))]
    raise SchemaError(f"field {name!r} has type {kind!r}, which docs/protocol.md does not define")



def delta_header(data: bytes) -> tuple[int, int] | None:
    """``(n, ts)`` of a delta from its first bytes, or None when it is not laid out as expected."""
    if data[0] & 0xF0 != 0x80 or data[1] != 0xA1 or data[2:9] != DELTA_HEAD or data[9:11] != _N_KEY:
        return None
    b = data[11]
    if b < 0x80:
        n, pos = b, 12
    elif b == 0xCC:
        n, pos = data[12], 13
    elif b == 0xCD:
        n, pos = _U16.unpack_from(data, 12)[0], 14
    elif b == 0xCE:
        n, pos = _U32.unpack_from(data, 12)[0], 16
    else:
        return None
    if data[pos:pos + 4] != _TS_KEY or len(data) < pos + 12:
        return None
    return n, _U64.unpack_from(data, pos + 4)[0]
