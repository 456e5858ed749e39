"""Input schemas: the fields a mode's ``input`` rows carry, and the one strict decoder. No I/O.

A mode declares its input as an :class:`InputSchema`, a tuple of fields. On the wire an
input row is a msgpack array ``[seq, field_1, ..., field_n]`` in the declared order (the
arena's ``[seq, move_x, move_y, aim, fire]`` is such a row). The game server decodes
every row against the room's schema before the mode sees it: a value of the wrong type or
outside its bounds is a ``bad_field`` protocol error naming the field, and the whole
message is dropped. A mode receives rows of its schema's row type (a named tuple, ``seq``
first), whose values are within the declared bounds.

The decoder of a schema is generated once from the declaration (a small function with the
bounds as constants), so checking a row costs what a hand-written check costs.
"""

from __future__ import annotations

import keyword
import math
import re
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Union

from elysium.ws.envelope import BAD_FIELD, MAX_ID, ProtocolViolation

FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_FIELDS: Final = 16  # fields of an input row (beside seq)
MAX_CHOICES: Final = 256  # labels of an enum field
MAX_MOVES: Final = 1 << 20  # ids of a discrete move field
MAX_SEQ: Final = MAX_ID

Value = Union[int, float, bool]


class SchemaError(ValueError):
    """A declaration (input field, option, column) that is not acceptable."""


@dataclass(frozen=True, slots=True)
class Field:
    """One value of an input row.

    ``hold``: when a tick comes and the seat sent nothing new, the server repeats the last
    input with this field kept (True) or set back to its default (False).
    ``latch``: when several inputs wait at a tick and the older ones are merged away, a
    non-default value of this field in a dropped input is carried into the applied one
    (a shot, a jump or a move is not lost to network jitter).
    """

    name: str
    hold: bool = True
    latch: bool = False

    kind: ClassVar[str] = ""

    @property
    def default_value(self) -> Value:
        raise NotImplementedError

    def check(self) -> None:
        if not FIELD_NAME.fullmatch(self.name) or keyword.iskeyword(self.name) or self.name == "seq":
            raise SchemaError(f"input field name {self.name!r} must be 1-32 of a-z, 0-9, _ (not seq)")

    def fast_test(self, var: str) -> str:
        """A Python expression true when ``var`` is this field's exact wire form, within bounds."""
        raise NotImplementedError

    def decode(self, value: Any) -> Value:
        """The lenient exact decoder (ints for floats, 0/1 for booleans); raises ProtocolViolation."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind, "default": self.default_value, "hold": self.hold,
                "latch": self.latch}


def _bad(name: str, problem: str) -> ProtocolViolation:
    return ProtocolViolation(BAD_FIELD, f"{name} {problem}")


@dataclass(frozen=True, slots=True)
class IntField(Field):
    lo: int = 0
    hi: int = 0
    default: int = 0
    kind: ClassVar[str] = "int"

    @property
    def default_value(self) -> Value:
        return self.default

    def check(self) -> None:
        Field.check(self)
        if not (-MAX_ID <= self.lo <= self.default <= self.hi <= MAX_ID):
            raise SchemaError(f"int field {self.name}: need {-MAX_ID} <= lo <= default <= hi <= {MAX_ID}")

    def fast_test(self, var: str) -> str:
        return f"type({var}) is int and {self.lo!r} <= {var} <= {self.hi!r}"

    def decode(self, value: Any) -> Value:
        if type(value) is not int or not self.lo <= value <= self.hi:
            raise _bad(self.name, f"must be an integer between {self.lo} and {self.hi}")
        return value

    def to_json(self) -> dict[str, Any]:
        return {**Field.to_json(self), "min": self.lo, "max": self.hi}


@dataclass(frozen=True, slots=True)
class FloatField(Field):
    lo: float = 0.0
    hi: float = 0.0
    default: float = 0.0
    kind: ClassVar[str] = "float"

    @property
    def default_value(self) -> Value:
        return float(self.default)

    def check(self) -> None:
        Field.check(self)
        if not all(math.isfinite(v) for v in (self.lo, self.hi, self.default)) or not (
                self.lo <= self.default <= self.hi):
            raise SchemaError(f"float field {self.name}: need finite lo <= default <= hi")

    def fast_test(self, var: str) -> str:
        # NaN fails both comparisons.
        return f"type({var}) is float and {float(self.lo)!r} <= {var} <= {float(self.hi)!r}"

    def decode(self, value: Any) -> Value:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(self.name, "must be a number")
        f = float(value)
        if not math.isfinite(f) or not self.lo <= f <= self.hi:
            raise _bad(self.name, f"must be between {self.lo:g} and {self.hi:g}")
        return f

    def to_json(self) -> dict[str, Any]:
        return {**Field.to_json(self), "min": float(self.lo), "max": float(self.hi)}


@dataclass(frozen=True, slots=True)
class BoolField(Field):
    default: bool = False
    kind: ClassVar[str] = "bool"

    @property
    def default_value(self) -> Value:
        return self.default

    def fast_test(self, var: str) -> str:
        return f"type({var}) is bool"

    def decode(self, value: Any) -> Value:
        if isinstance(value, bool):
            return value
        if type(value) is int and value in (0, 1):
            return bool(value)
        raise _bad(self.name, "must be a boolean")


@dataclass(frozen=True, slots=True)
class EnumField(Field):
    """One of a few named choices, sent as the choice's index (0-based) in ``choices``."""

    choices: tuple[str, ...] = ()
    default: int = 0
    kind: ClassVar[str] = "enum"

    @property
    def default_value(self) -> Value:
        return self.default

    def check(self) -> None:
        Field.check(self)
        if not 1 <= len(self.choices) <= MAX_CHOICES or len(set(self.choices)) != len(self.choices):
            raise SchemaError(f"enum field {self.name}: 1 to {MAX_CHOICES} distinct choices")
        if not all(isinstance(c, str) and FIELD_NAME.fullmatch(c) for c in self.choices):
            raise SchemaError(f"enum field {self.name}: choices are names of a-z, 0-9, _")
        if not 0 <= self.default < len(self.choices):
            raise SchemaError(f"enum field {self.name}: default is an index into choices")

    def fast_test(self, var: str) -> str:
        return f"type({var}) is int and 0 <= {var} <= {len(self.choices) - 1}"

    def decode(self, value: Any) -> Value:
        if type(value) is not int or not 0 <= value < len(self.choices):
            raise _bad(self.name, f"must be an index 0..{len(self.choices) - 1} into {', '.join(self.choices)}")
        return value

    def to_json(self) -> dict[str, Any]:
        return {**Field.to_json(self), "choices": list(self.choices)}


@dataclass(frozen=True, slots=True)
class MoveField(Field):
    """A discrete move: an id 0..count-1 whose meaning is the mode's rules, or -1 for no move.

    Never held (a move is made once) and always latched (a move bunched up behind a newer
    input is not lost). The server checks only the bounds; whether a move is legal now is
    the mode's rule to apply (``StepOutcome.events`` can tell the player why it was not).
    """

    count: int = 1
    hold: bool = False
    latch: bool = True
    kind: ClassVar[str] = "move"

    @property
    def default_value(self) -> Value:
        return -1

    def check(self) -> None:
        Field.check(self)
        if not 1 <= self.count <= MAX_MOVES:
            raise SchemaError(f"move field {self.name}: count must be 1..{MAX_MOVES}")
        if self.hold or not self.latch:
            raise SchemaError(f"move field {self.name}: a move is never held and always latched")

    def fast_test(self, var: str) -> str:
        return f"type({var}) is int and -1 <= {var} <= {self.count - 1}"

    def decode(self, value: Any) -> Value:
        if type(value) is not int or not -1 <= value < self.count:
            raise _bad(self.name, f"must be a move id 0..{self.count - 1}, or -1 for none")
        return value

    def to_json(self) -> dict[str, Any]:
        return {**Field.to_json(self), "min": -1, "max": self.count - 1}


RowDecoder = Callable[[Any], tuple[Any, ...]]


class InputSchema:
    """The input rows of a mode: ``[seq, *fields]``, decoded into ``row_type`` instances.

    ``row_type`` is a named tuple class whose fields are ``seq`` and the declared names, in
    order; by default one is made, or a mode passes its own (typed) one.
    """

    def __init__(self, fields: Sequence[Field], row_type: type[tuple[Any, ...]] | None = None) -> None:
        self.fields: tuple[Field, ...] = tuple(fields)
        if not 1 <= len(self.fields) <= MAX_FIELDS:
            raise SchemaError(f"an input schema has 1 to {MAX_FIELDS} fields")
        for f in self.fields:
            f.check()
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise SchemaError("input field names must be distinct")
        row: type[tuple[Any, ...]] = namedtuple("InputRow", ["seq", *names]) if row_type is None else row_type  # noqa: PYI024
        if getattr(row, "_fields", None) != ("seq", *names):
            raise SchemaError(f"row_type's fields must be seq, {', '.join(names)}")
        self.row_type = row
        self.width = len(self.fields) + 1
        self.idle: tuple[Any, ...] = tuple.__new__(row, (0, *(f.default_value for f in self.fields)))
        self._latched = tuple(i + 1 for i, f in enumerate(self.fields) if f.latch)
        self._reset = tuple((i + 1, f.default_value) for i, f in enumerate(self.fields) if not f.hold)
        self.decode_row: RowDecoder = self._compile()
        self.repeat: Callable[[tuple[Any, ...]], tuple[Any, ...]] = self._compile_repeat()

    # --- decoding ----------------------------------------------------------------------

    def _compile(self) -> RowDecoder:
        """``decode_row(row)``: the row type for a valid row, or ProtocolViolation."""
        names = [f"v{i}" for i in range(len(self.fields))]
        tests = " and ".join(f.fast_test(v) for f, v in zip(self.fields, names))
        source = (
            "def decode_row(row):\n"
            f"    if type(row) is list and len(row) == {self.width}:\n"
            f"        seq, {', '.join(names)}, = row\n"
            f"        if type(seq) is int and 0 <= seq <= {MAX_SEQ} and {tests}:\n"
            "            return _new(_row, row)\n"
            "    return _checked(row)\n"
        )
        scope: dict[str, Any] = {"_new": tuple.__new__, "_row": self.row_type, "_checked": self._decode_checked}
        exec(source, scope)  # noqa: S102 - generated from the declaration's numbers only
        decoder: RowDecoder = scope["decode_row"]
        return decoder

    def _decode_checked(self, row: Any) -> tuple[Any, ...]:
        if not isinstance(row, list) or len(row) != self.width:
            raise ProtocolViolation(BAD_FIELD, f"each input must be [{', '.join(self.names)}]")
        seq = row[0]
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise _bad("seq", f"must be an integer between 0 and {MAX_SEQ}")
        values = [f.decode(v) for f, v in zip(self.fields, row[1:])]
        return tuple.__new__(self.row_type, (seq, *values))

    def decode_rows(self, rows: Any, max_rows: int) -> tuple[tuple[Any, ...], ...]:
        if type(rows) is not list or not 1 <= len(rows) <= max_rows:
            raise ProtocolViolation(BAD_FIELD, f"i must be a list of 1 to {max_rows} inputs")
        decode = self.decode_row
        return (decode(rows[0]),) if len(rows) == 1 else tuple(map(decode, rows))

    # --- what the server does with decoded rows ---------------------------------------

    def _compile_repeat(self) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        if not self._reset:
            return lambda row: row
        parts = []
        reset = dict(self._reset)
        for i in range(self.width):
            parts.append(repr(reset[i]) if i in reset else f"row[{i}]")
        source = f"def repeat(row):\n    return _new(_row, ({', '.join(parts)},))\n"
        scope: dict[str, Any] = {"_new": tuple.__new__, "_row": self.row_type}
        exec(source, scope)  # noqa: S102 - generated from the declaration's defaults only
        repeat: Callable[[tuple[Any, ...]], tuple[Any, ...]] = scope["repeat"]
        return repeat

    def carry(self, dropped: Sequence[tuple[Any, ...]], kept: tuple[Any, ...]) -> tuple[Any, ...]:
        """``kept`` with each latched field that is at its default taken from the newest
        dropped input where it is not (``dropped`` oldest first)."""
        if not self._latched or not dropped:
            return kept
        values = list(kept)
        changed = False
        for i in self._latched:
            default = self.idle[i]
            if values[i] == default:
                for old in reversed(dropped):
                    if old[i] != default:
                        values[i] = old[i]
                        changed = True
                        break
        return tuple.__new__(self.row_type, values) if changed else kept

    # --- description -------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return ("seq", *(f.name for f in self.fields))

    def to_json(self) -> dict[str, Any]:
        """The schema as ``welcome.input`` carries it (docs/protocol.md)."""
        return {"row": list(self.names), "fields": [f.to_json() for f in self.fields]}

    def __repr__(self) -> str:
        return f"InputSchema({', '.join(self.names[1:])})"
