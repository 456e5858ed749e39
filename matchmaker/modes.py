"""Queue modes: how many players a match takes, in how many teams, and how patient a ticket is.

Pure data and validation; no I/O. A queue mode names a game mode the game servers run
(``game_mode``) and the room settings the join tokens carry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from elysium.modes import ModeDeclaration, RoomSettingError

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")


class ModeError(ValueError):
    """A mode definition is not acceptable."""


@dataclass(frozen=True, slots=True)
class ModeConfig:
    name: str
    game_mode: str = "arena"
    teams: int = 0  # 0: free for all
    team_size: int = 1  # players per team when teams > 0
    min_players: int = 2
    max_players: int = 10
    gap_base: float = 3.0  # acceptable rating gap (mu units) for a fresh ticket
    gap_widen_per_s: float = 0.5  # how fast that gap grows with the anchor's wait
    gap_max: float = 25.0
    max_wait_s: float = 60.0  # after this, smaller or unbalanced matches are accepted
    region_widen_after_s: float = 10.0  # after this, any listed region, not only the nearest
    score_limit: int = 10
    time_limit_s: float = 120.0
    start_timeout_s: float = 30.0
    # The game mode's own options (its declaration's, as the game servers advertise them).
    options: dict[str, Any] = field(default_factory=dict)

    def room_settings(self) -> dict[str, Any]:
        """What the room claim says about the game mode besides the players (see matcher.room_claim)."""
        out: dict[str, Any] = {"score_limit": self.score_limit, "time_limit_s": self.time_limit_s}
        if self.options:
            out["options"] = dict(self.options)
        return out

    def misfit(self, declaration: ModeDeclaration) -> str | None:
        """Why a game server that runs ``declaration`` cannot host this queue mode's matches
        (seats from min_players to max_players, its teams and options), or None when it can."""
        try:
            for seats in {self.min_players, self.max_players}:
                declaration.check_room(seats=seats, teams=self.teams,
                                       options=declaration.room_options(self.room_settings()))
        except RoomSettingError as exc:
            return str(exc)
        return None

    def gap(self, waited_s: float) -> float:
        """The rating gap an anchor that waited ``waited_s`` accepts (infinite past max_wait_s)."""
        if waited_s >= self.max_wait_s:
            return float("inf")
        return min(self.gap_max, self.gap_base + self.gap_widen_per_s * max(0.0, waited_s))

    @property
    def largest_party(self) -> int:
        return self.team_size if self.teams else self.max_players

    def validate(self) -> ModeConfig:
        if not NAME_RE.match(self.name):
            raise ModeError(f"mode name {self.name!r} must be 1-24 of a-z, 0-9, '-' starting with a letter")
        if not 0 <= self.teams <= 16 or self.teams == 1:
            raise ModeError(f"{self.name}: teams must be 0 (free for all) or 2..16")
        if self.teams:
            if not 1 <= self.team_size <= 50:
                raise ModeError(f"{self.name}: team_size must be 1..50")
            if self.max_players != self.teams * self.team_size:
                raise ModeError(f"{self.name}: max_players must equal teams * team_size")
        if not 1 <= self.min_players <= self.max_players <= 100:
            raise ModeError(f"{self.name}: need 1 <= min_players <= max_players <= 100")
        for name in ("gap_base", "gap_widen_per_s", "gap_max", "max_wait_s", "region_widen_after_s"):
            if not getattr(self, name) >= 0:
                raise ModeError(f"{self.name}: {name} must be 0 or more")
        if not 1 <= self.score_limit <= 1000 or not 1 <= self.time_limit_s <= 3600:
            raise ModeError(f"{self.name}: score_limit 1..1000 and time_limit_s 1..3600")
        if not 1 <= self.start_timeout_s <= 600:
            raise ModeError(f"{self.name}: start_timeout_s must be 1..600")
        if not isinstance(self.options, dict) or len(self.options) > 32 or not all(
                isinstance(k, str) for k in self.options):
            raise ModeError(f"{self.name}: options must be an object of at most 32 option names")
        return self


DEFAULT_MODES: tuple[ModeConfig, ...] = (
    ModeConfig("arena", teams=0, min_players=2, max_players=10),
    ModeConfig("duel", teams=0, min_players=2, max_players=2, score_limit=5, time_limit_s=90.0),
    ModeConfig("team-arena", teams=2, team_size=4, min_players=4, max_players=8, score_limit=20),
    # King of the hill: two teams of up to 8; the score is points from holding the hill.
    ModeConfig("koth", game_mode="koth", teams=2, team_size=8, min_players=4, max_players=16, score_limit=100,
               time_limit_s=300.0),
    # Turn-based, hidden hands (docs/modes-cards.md): 2 to 4 at a table, first to 8 points after a round.
    ModeConfig("cards", game_mode="cards", teams=0, min_players=2, max_players=4, score_limit=8,
               time_limit_s=900.0, max_wait_s=30.0),
)


def parse_modes(data: Any) -> dict[str, ModeConfig]:
    """Modes from JSON data: a list of objects with the fields of :class:`ModeConfig`."""
    if not isinstance(data, list) or not data:
        raise ModeError("modes must be a non-empty JSON list of objects")
    known = {f.name for f in fields(ModeConfig)}
    out: dict[str, ModeConfig] = {}
    for item in data:
        if not isinstance(item, dict):
            raise ModeError("every mode must be a JSON object")
        unknown = set(item) - known
        if unknown:
            raise ModeError(f"unknown mode fields: {', '.join(sorted(unknown))}")
        try:
            mode = ModeConfig(**item).validate()
        except TypeError as exc:
            raise ModeError(str(exc)) from None
        if mode.name in out:
            raise ModeError(f"mode {mode.name!r} is defined twice")
        out[mode.name] = mode
    return out


def load_modes(text: str | None) -> dict[str, ModeConfig]:
    if not text:
        return {m.name: m.validate() for m in DEFAULT_MODES}
    try:
        return parse_modes(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ModeError(f"modes file is not JSON: {exc}") from None


def as_modes(modes: Mapping[str, ModeConfig] | list[ModeConfig] | None) -> dict[str, ModeConfig]:
    if modes is None:
        return load_modes(None)
    items = list(modes.values()) if isinstance(modes, Mapping) else list(modes)
    return {m.name: m.validate() for m in items}
