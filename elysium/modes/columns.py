"""The replicated state a mode declares: player columns and object columns, in wire units. No I/O.

Every tick the engine diffs the mode's :class:`~elysium.modes.api.Snapshot` against the
last one and sends what changed (docs/protocol.md, ``delta``). A player row is split in
two: the **motion** columns (declared first, ``motion=True``: the ones that change nearly
every step, such as a position) and the **status** columns (the rest, which change rarely).
Every value is an integer on the wire: a column's ``scale`` says how many wire units make
one of its ``unit`` (100 for centimetres of a position kept in metres), so a client turns
a wire value back into the mode's unit by dividing by ``scale``.

Object rows are immutable while the object lives: column 0 is the object's id, ids only
grow within a match, and a delta lists objects that appeared (``o+``) and ids that went
away (``o-``). An object whose data changes is retired and re-added with a new id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from elysium.modes.schema import FIELD_NAME, SchemaError

MAX_COLUMNS: Final = 32


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    scale: int = 1  # wire units per ``unit``
    unit: str = ""  # what one wire unit / scale is (m, rad, s); empty for counts and flags
    motion: bool = False  # player columns only: changes nearly every step

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "scale": self.scale}
        if self.unit:
            out["unit"] = self.unit
        return out


@dataclass(frozen=True, slots=True)
class Columns:
    """A mode's replicated state: ``player`` columns (motion ones first) and ``object`` columns."""

    player: tuple[Column, ...]
    object: tuple[Column, ...] = (Column("id"),)

    @property
    def motion(self) -> int:
        return sum(1 for c in self.player if c.motion)

    @property
    def player_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.player)

    @property
    def object_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.object)

    def check(self) -> None:
        for kind, cols in (("player", self.player), ("object", self.object)):
            if not 1 <= len(cols) <= MAX_COLUMNS:
                raise SchemaError(f"{kind} columns: 1 to {MAX_COLUMNS}")
            names = [c.name for c in cols]
            if len(set(names)) != len(names):
                raise SchemaError(f"{kind} column names must be distinct")
            for c in cols:
                if not FIELD_NAME.fullmatch(c.name):
                    raise SchemaError(f"{kind} column name {c.name!r} must be 1-32 of a-z, 0-9, _")
                if type(c.scale) is not int or not 1 <= c.scale <= 1_000_000:
                    raise SchemaError(f"{kind} column {c.name}: scale is an integer 1..1000000")
        motion = [c.motion for c in self.player]
        if motion != sorted(motion, reverse=True):
            raise SchemaError("motion player columns come first")
        if any(c.motion for c in self.object):
            raise SchemaError("object columns are never motion columns (object rows do not change)")
        if self.object[0].name != "id":
            raise SchemaError("object column 0 is the object id, named id")

    def to_json(self) -> dict[str, Any]:
        """``welcome.columns`` (and a watcher's ``hello.columns``): the v1 keys ``player``,
        ``motion`` and ``object`` (names), plus each column's scale and unit."""
        return {"player": list(self.player_names), "motion": self.motion, "object": list(self.object_names),
                "player_units": [c.to_json() for c in self.player],
                "object_units": [c.to_json() for c in self.object]}


def player_columns(motion: Sequence[Column], status: Sequence[Column]) -> tuple[Column, ...]:
    """Motion columns (marked as such) followed by status columns."""
    return (*(Column(c.name, c.scale, c.unit, True) for c in motion),
            *(Column(c.name, c.scale, c.unit, False) for c in status))
