"""A mode's declaration as data: what a heartbeat advertises and a matchmaker checks against. No I/O.

The game server builds a :class:`ModeDeclaration` from each mode it hosts
(:func:`declare`) and advertises them in its registry heartbeat (``mode_info``, keyed by
mode name); the matchmaker parses them back with :meth:`ModeDeclaration.parse`, the one
strict parser, and checks a queue mode's settings with :meth:`ModeDeclaration.check_room`,
the same check the game server runs on a join token's room claim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from elysium.modes.options import Option, OptionError, OptionValue, option_from_json, resolve
from elysium.modes.schema import SchemaError

if TYPE_CHECKING:
    from elysium.modes.api import GameMode

MODE_NAME: Final = re.compile(r"[a-z][a-z0-9-]{0,23}")


class RoomSettingError(ValueError):
    """Room settings outside a mode's declaration; ``field`` names the setting (``options.x``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ModeDeclaration:
    name: str
    api_version: int
    seats: tuple[int, int]
    teams: tuple[int, int]
    tick_hz: tuple[int, int]
    options: tuple[Option, ...] = ()

    def check_room(self, *, seats: int, teams: int, tick_hz: int | None = None,
                   options: Mapping[str, Any] | None = None) -> dict[str, OptionValue]:
        """Check a room's settings; return every option's value (defaults filled in)."""
        for field, value, (lo, hi) in (("seats", seats, self.seats), ("teams", teams, self.teams)):
            if not lo <= value <= hi:
                raise RoomSettingError(field, f"must be between {lo} and {hi} for mode {self.name}")
        if tick_hz is not None and not self.tick_hz[0] <= tick_hz <= self.tick_hz[1]:
            raise RoomSettingError("tick_hz", f"must be between {self.tick_hz[0]} and {self.tick_hz[1]} "
                                              f"for mode {self.name}")
        try:
            return resolve(self.options, options or {})
        except OptionError as exc:
            raise RoomSettingError(f"options.{exc.name}", exc.problem) from None

    def room_options(self, room: Mapping[str, Any]) -> dict[str, Any]:
        """The options a ``room`` claim gives: its ``options`` map, over the declared options
        given at the claim's top level (as protocol v1 claims carry the arena's ``score_limit``
        and ``time_limit_s``). Raises :class:`RoomSettingError` for a malformed map."""
        extra = room.get("options", {})
        if not isinstance(extra, Mapping) or len(extra) > 32:
            raise RoomSettingError("options", "must be a map of option names to values")
        given = {o.name: room[o.name] for o in self.options if o.name in room}
        given.update(extra)
        return given

    def to_json(self) -> dict[str, Any]:
        return {"api": self.api_version, "seats": list(self.seats), "teams": list(self.teams),
                "tick_hz": list(self.tick_hz), "options": [o.to_json() for o in self.options]}

    @classmethod
    def parse(cls, name: str, raw: Any) -> ModeDeclaration:
        """The strict parser of :meth:`to_json`; raises :class:`~elysium.modes.schema.SchemaError`."""
        if not isinstance(name, str) or not MODE_NAME.fullmatch(name):
            raise SchemaError("a mode name is 1-24 of a-z, 0-9, '-' starting with a letter")
        if not isinstance(raw, dict):
            raise SchemaError(f"mode {name}: the declaration is an object")
        api = raw.get("api")
        if type(api) is not int or api < 1:
            raise SchemaError(f"mode {name}: api is a positive integer")
        ranges = [_range(raw.get(key), f"mode {name}: {key}") for key in ("seats", "teams", "tick_hz")]
        options = raw.get("options", [])
        if not isinstance(options, list):
            raise SchemaError(f"mode {name}: options is a list")
        return cls(name, api, ranges[0], ranges[1], ranges[2], tuple(option_from_json(o) for o in options))


def _range(raw: Any, where: str) -> tuple[int, int]:
    if (not isinstance(raw, list) or len(raw) != 2 or not all(type(v) is int for v in raw)
            or not 0 <= raw[0] <= raw[1]):
        raise SchemaError(f"{where} is [low, high], integers")
    return raw[0], raw[1]


def declare(mode: type[GameMode[Any]]) -> ModeDeclaration:
    """The declaration of a mode class (its class-level data)."""
    return ModeDeclaration(mode.name, mode.api_version, tuple(mode.seat_range), tuple(mode.team_range),  # type: ignore[arg-type]
                           tuple(mode.tick_hz_range), tuple(mode.options))  # type: ignore[arg-type]
