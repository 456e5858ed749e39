"""What a room is, as the join token describes it: the ``room`` claim parsed and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NewType

from elysium.errors import CodedError
from elysium.modes import ModeDeclaration, OptionValue, RoomSettingError, declare
from gameserver import protocol as p
from gameserver.modes import DEFAULT_MODE, MODES

DEFAULT_MIN_PLAYERS = 2  # players a room waits for when its claim names neither min_players nor a roster

MatchId = NewType("MatchId", str)
PlayerId = NewType("PlayerId", str)


class JoinRefused(CodedError):
    """A join cannot be granted; ``code`` is one of the protocol's error codes."""


@dataclass(frozen=True, slots=True)
class RoomSpec:
    match_id: MatchId
    mode: str
    seats: int
    tick_hz: int
    seed: int
    teams: int = 0
    roster: tuple[PlayerId, ...] | None = None  # None: anyone with a token for this match
    team_of: tuple[tuple[PlayerId, int], ...] = ()
    min_players: int = DEFAULT_MIN_PLAYERS
    start_timeout_s: float = 30.0
    # The mode's options, checked against its declaration (empty: the mode's defaults).
    options: Mapping[str, OptionValue] = field(default_factory=lambda: MappingProxyType({}))

    def team(self, player: PlayerId, seat: int) -> int:
        for pid, team in self.team_of:
            if pid == player:
                return team
        return seat % self.teams if self.teams else 0


BUILTIN_DECLARATIONS: Mapping[str, ModeDeclaration] = MappingProxyType({name: declare(m) for name, m in MODES.items()})


def spec_from_claims(match_id: str, room: Any, *, default_tick_hz: int, max_seats: int,
                     modes: Mapping[str, ModeDeclaration] = BUILTIN_DECLARATIONS) -> RoomSpec:
    """Build a room from the ``room`` claim of a join token (see docs/tokens.md).

    ``modes`` are the declarations of the modes the server hosts (default: the built-in
    ones). The room's seats, teams and tick rate must lie within its mode's bounds, and its
    options within the mode's declared options: given in ``room.options``, or (as protocol
    v1 claims carry the arena's ``score_limit`` and ``time_limit_s``) at the top level.
    """
    if not isinstance(room, dict):
        raise JoinRefused(p.TOKEN_REJECTED, "token carries no room description")

    def num(name: str, default: Any, lo: float, hi: float, kind: type = int) -> Any:
        value = room.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise JoinRefused(p.TOKEN_REJECTED, f"room.{name} must be between {lo:g} and {hi:g}")
        return kind(value)

    mode = room.get("mode", DEFAULT_MODE)
    if not isinstance(mode, str) or mode not in modes:
        raise JoinRefused(p.TOKEN_REJECTED, f"unknown mode {str(mode)[:32]!r}")
    declaration = modes[mode]
    seats = num("seats", 10, 1, max_seats)
    teams = num("teams", 0, 0, 16)
    tick_hz = num("tick_hz", default_tick_hz, 1, 60)
    try:
        options = declaration.check_room(seats=seats, teams=teams, tick_hz=tick_hz,
                                         options=declaration.room_options(room))
    except RoomSettingError as exc:
        raise JoinRefused(p.TOKEN_REJECTED, f"room.{exc.field} {exc.problem}") from None
    roster_raw = room.get("roster")
    roster: tuple[PlayerId, ...] | None = None
    team_of: list[tuple[PlayerId, int]] = []
    if roster_raw is not None:
        if not isinstance(roster_raw, list) or not 1 <= len(roster_raw) <= seats:
            raise JoinRefused(p.TOKEN_REJECTED, "room.roster must list 1 to seats players")
        members = []
        for entry in roster_raw:
            # Either "player-id" or ["player-id", team].
            if isinstance(entry, str):
                members.append(PlayerId(entry))
            elif (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                  and isinstance(entry[1], int) and 0 <= entry[1] < max(teams, 1)):
                members.append(PlayerId(entry[0]))
                team_of.append((PlayerId(entry[0]), entry[1]))
            else:
                raise JoinRefused(p.TOKEN_REJECTED, "room.roster entries are ids or [id, team]")
        roster = tuple(members)
    default_min_players = len(roster) if roster else DEFAULT_MIN_PLAYERS
    if "min_players" not in room and default_min_players > seats:
        raise JoinRefused(p.TOKEN_REJECTED, f"room.min_players defaults to {default_min_players}, more than "
                                            f"room.seats ({seats}): give min_players (1 to {seats})")
    return RoomSpec(
        match_id=MatchId(match_id),
        mode=mode,
        seats=seats,
        tick_hz=tick_hz,
        seed=num("seed", 0, 0, 2**63 - 1),
        teams=teams,
        roster=roster,
        team_of=tuple(team_of),
        min_players=num("min_players", default_min_players, 1, seats),
        start_timeout_s=num("start_timeout_s", 30.0, 1.0, 600.0, float),
        options=MappingProxyType(options),
    )
