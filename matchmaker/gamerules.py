"""Custom games' rules: what a host may ask of a mode, and how a started game seats its
members. Pure: plain data in, plain data out; the Redis adapter is ``games.py`` and the
HTTP edge ``gameapi.py``.

A custom game starts from its queue mode's settings (``ModeConfig.room_settings``) and the
host overrides any option the game mode declares, within the declared bounds. The
declaration is the one game servers advertise in their heartbeats, the same that
``ModeConfig.misfit`` checks queue modes against; ``map`` is the mode's ``map`` option.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from elysium.modes import ModeDeclaration, OptionValue, RoomSettingError
from matchmaker.modes import ModeConfig

STATES = ("open", "locked", "starting", "started", "ended")

class GameSettingError(ValueError):
    """A custom game's setting the mode does not allow; ``field`` is ``seats``, ``map`` or
    ``options.<name>``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem

    @property
    def option(self) -> str | None:
        """The option's name when the setting is an option (``map`` is the ``map`` option)."""
        if self.field == "map":
            return "map"
        return self.field.removeprefix("options.") if self.field.startswith("options.") else None


def settle(mode: ModeConfig, declaration: ModeDeclaration | None, seats: int, given: Mapping[str, Any],
           map_name: str | None = None) -> dict[str, OptionValue]:
    """Every option of the game, resolved: the queue mode's values under the host's ``given``
    ones. Raises :class:`GameSettingError` naming the first setting that does not fit."""
    if not mode.min_players <= seats <= mode.max_players:
        raise GameSettingError("seats", f"must be between {mode.min_players} and {mode.max_players} "
                                        f"for mode {mode.name}")
    chosen = dict(given)
    if map_name is not None:
        if "map" in chosen:
            raise GameSettingError("map", "is given twice (as map and as options.map)")
        chosen["map"] = map_name
    declared = {o.name for o in declaration.options} if declaration is not None else set()
    for name in chosen:
        if name not in declared:
            field = "map" if name == "map" and map_name is not None else f"options.{str(name)[:32]}"
            known = ", ".join(sorted(declared)) or "none"
            raise GameSettingError(field, f"is not an option of mode {mode.name} (its options: {known})")
    if declaration is None:
        return {}
    try:
        base = declaration.room_options(mode.room_settings())
        return declaration.check_room(seats=seats, teams=mode.teams, options={**base, **chosen})
    except RoomSettingError as exc:
        field = "map" if exc.field == "options.map" and map_name is not None else exc.field
        raise GameSettingError(field, exc.problem) from None


def accepts(declaration: ModeDeclaration | None, mode: ModeConfig, seats: int,
            options: Mapping[str, OptionValue]) -> bool:
    """Whether a game server advertising ``declaration`` can host the started game (a server
    that advertises none, an older one, is taken at its word, as for queued matches)."""
    if declaration is None:
        return True
    try:
        declaration.check_room(seats=seats, teams=mode.teams, options=options)
    except RoomSettingError:
        return False
    return True


def seat_roster(members: Sequence[str], teams: int) -> list[tuple[str, int]]:
    """(player, team) in seat order; with teams, members are dealt round the teams in the
    order they sat down, so no team has more than one player over another."""
    return [(player, i % teams if teams else 0) for i, player in enumerate(members)]


def state_of(status: str, locked: bool) -> str:
    """The game's public state from its ticket's status."""
    if status == "hosted":
        return "locked" if locked else "open"
    return {"forming": "starting", "matched": "started"}.get(status, "ended")


def lobby_entry(created_ms: int, code: str) -> str:
    """The game's member in its lobby sorted set: lexical order is age order."""
    return f"{created_ms:013d}.{code}"
