"""The match result: what one finished match produced. Pure: no I/O.

The game server builds a :class:`MatchResult` when a match ends and appends it once to the
Redis stream ``elysium:results`` (fields ``match_id`` and ``result``, see
:func:`MatchResult.entry` and docs/results.md); the matchmaker's ratings and commerce's
rewards read it back with :meth:`MatchResult.parse` or :meth:`MatchResult.from_entry`, the
one strict parser, and rank it with :attr:`MatchResult.sides`, the one standings rule:

- **Sides.** A match with ``teams`` > 0 is played by teams: each team that has a listed
  player is one side, scoring the sum of its players' scores, even when only one team is
  left at the end. A free-for-all (``teams`` = 0) makes every player a side of their own.
- **Placements** are competition ranks over the sides' scores: a side's placement is one
  more than the number of sides that scored strictly more, so equal scores tie (1, 1, 3).
  A player's placement is their side's.
- **Winners** (:meth:`MatchResult.winners`): the players of the one side placed first,
  provided it scored; nobody wins a tie for first or a match where nobody scored.

Before this module the two consumers disagreed on the sides: commerce inferred teams from
the distinct ``team`` values (so a team match with one team left was read as a free-for-all
and only its best player won), while the matchmaker used the declared ``teams`` count. The
declared count is what the game mode played by, so it is the rule here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

FIELD_MATCH_ID = "match_id"  # stream entry field: the match id (the writer's idempotency key)
FIELD_RESULT = "result"  # stream entry field: the result as compact JSON

MAX_PLAYERS = 1000
MAX_TEAMS = 16  # as many as a room can be made with (gameserver.spec)
MAX_STATS = 32
MAX_ID = 8192  # ids come from join tokens, which are at most this long (elysium.tokens)
MAX_NAME = 64
MAX_INT = 2**53  # exact in every JSON reader
MAX_SEED = 2**63 - 1  # as a room spec allows (gameserver.spec)
_STAT_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")

_ROW_FIELDS = ("player_id", "seat", "name", "team", "score", "time_played_s", "placement")
_TOP_FIELDS = ("match_id", "mode", "seed", "server_id", "reason", "ticks", "duration_s", "started_at_us",
               "ended_at_us", "teams", "players")


class ResultError(ValueError):
    """A value that is not a valid match result; ``field`` names the bad field (``players[1].score``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class PlayerRow:
    """One player still in the match at its end.

    ``stats`` are the mode's own counters (the arena's ``kills`` and ``deaths``); on the
    wire they sit beside the fixed fields of the row. ``placement`` is set by
    :meth:`MatchResult.create` (0 until then).
    """

    player_id: str
    seat: int
    name: str
    team: int
    score: int
    time_played_s: float
    stats: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    placement: int = 0

    def stat(self, name: str) -> int:
        """A mode counter, 0 when the mode does not keep it."""
        return self.stats.get(name, 0)

    def to_json(self) -> dict[str, object]:
        return {"player_id": self.player_id, "seat": self.seat, "name": self.name, "team": self.team,
                "score": self.score, **self.stats, "time_played_s": self.time_played_s,
                "placement": self.placement}


@dataclass(frozen=True, slots=True)
class Side:
    """A team (``team`` its number) or, in a free-for-all, one player (``team`` None)."""

    team: int | None
    players: tuple[PlayerRow, ...]
    score: int
    placement: int


def standings(teams: int, players: Iterable[PlayerRow]) -> tuple[Side, ...]:
    """The sides of a match, best first (ties by team number, then seat). See the module doc."""
    rows = list(players)
    groups: list[tuple[int | None, tuple[PlayerRow, ...]]]
    if teams:
        by_team: dict[int, list[PlayerRow]] = {}
        for row in rows:
            by_team.setdefault(row.team, []).append(row)
        groups = [(team, tuple(by_team[team])) for team in sorted(by_team)]
    else:
        groups = [(None, (row,)) for row in sorted(rows, key=lambda r: r.seat)]
    totals = [sum(row.score for row in group) for _, group in groups]
    sides = [Side(team, group, total, 1 + sum(other > total for other in totals))
             for (team, group), total in zip(groups, totals, strict=True)]
    return tuple(sorted(sides, key=lambda s: s.placement))


@dataclass(frozen=True, slots=True)
class MatchResult:
    """One finished match. Construct with :meth:`create` (placements filled in) or :meth:`parse`."""

    match_id: str
    mode: str
    seed: int
    server_id: str
    reason: str  # score, time, shutdown, abandoned (or a mode's own reason)
    ticks: int
    duration_s: float
    started_at_us: int
    ended_at_us: int
    teams: int  # 0: free for all; otherwise the number of teams
    players: tuple[PlayerRow, ...]  # as the producer ordered them, best first

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def create(cls, *, match_id: str, mode: str, seed: int, server_id: str, reason: str, ticks: int,
               duration_s: float, started_at_us: int, ended_at_us: int, teams: int,
               players: Sequence[PlayerRow]) -> MatchResult:
        """A result whose rows' placements are set from the standings (whatever they held)."""
        placed = {row.player_id: side.placement for side in standings(teams, players) for row in side.players}
        rows = tuple(replace(row, stats=MappingProxyType(dict(row.stats)), placement=placed[row.player_id])
                     for row in players)
        return cls(match_id=match_id, mode=mode, seed=seed, server_id=server_id, reason=reason, ticks=ticks,
                   duration_s=duration_s, started_at_us=started_at_us, ended_at_us=ended_at_us, teams=teams,
                   players=rows)

    # --- standings -------------------------------------------------------------------

    @property
    def sides(self) -> tuple[Side, ...]:
        return standings(self.teams, self.players)

    def winners(self) -> frozenset[str]:
        """The players of the single side placed first, if it scored; none on a tie or a scoreless match."""
        sides = self.sides
        first = [s for s in sides if s.placement == 1]
        if len(first) != 1 or first[0].score <= 0:
            return frozenset()
        return frozenset(row.player_id for row in first[0].players)

    # --- wire ------------------------------------------------------------------------

    def to_json(self) -> dict[str, object]:
        return {"match_id": self.match_id, "mode": self.mode, "seed": self.seed, "server_id": self.server_id,
                "reason": self.reason, "ticks": self.ticks, "duration_s": self.duration_s,
                "started_at_us": self.started_at_us, "ended_at_us": self.ended_at_us, "teams": self.teams,
                "players": [row.to_json() for row in self.players]}

    def encode(self) -> bytes:
        """The stream's ``result`` field: compact JSON."""
        return json.dumps(self.to_json(), separators=(",", ":"), allow_nan=False).encode()

    def entry(self) -> dict[str, bytes]:
        """The results-stream entry's fields."""
        return {FIELD_MATCH_ID: self.match_id.encode(), FIELD_RESULT: self.encode()}

    @classmethod
    def parse(cls, raw: str | bytes | bytearray | Mapping[str, object]) -> MatchResult:
        """Read a result from its JSON text (or the decoded object), checking every field.

        A row without ``placement`` (written before rows carried one) is placed from the
        standings; a row whose ``placement`` disagrees with them is refused.
        """
        if isinstance(raw, (str, bytes, bytearray)):
            try:
                raw = json.loads(raw, parse_constant=_no_constant)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ResultError(FIELD_RESULT, f"not JSON ({exc})") from None
        return _parse(raw)

    @classmethod
    def from_entry(cls, fields: Mapping[bytes, bytes]) -> MatchResult:
        """Read a results-stream entry (its fields as Redis returns them)."""
        data = fields.get(FIELD_RESULT.encode())
        if data is None:
            raise ResultError(FIELD_RESULT, "missing from the entry")
        result = cls.parse(data)
        key = fields.get(FIELD_MATCH_ID.encode())
        if key != result.match_id.encode():
            raise ResultError(FIELD_MATCH_ID, "the entry's match_id differs from the result's")
        return result


# --- checking --------------------------------------------------------------------------


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def _int(value: object, where: str, lo: int = -MAX_INT, hi: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResultError(where, "must be a whole number")
    if not lo <= value <= hi:
        raise ResultError(where, f"must be between {lo} and {hi}")
    return value


def _seconds(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ResultError(where, "must be a number")
    if not math.isfinite(value) or not 0 <= value <= MAX_INT:
        raise ResultError(where, "must be a finite number of seconds, not negative")
    return float(value)


def _str(value: object, where: str, lo: int, hi: int) -> str:
    if not isinstance(value, str):
        raise ResultError(where, "must be a string")
    if not lo <= len(value) <= hi:
        raise ResultError(where, f"must be {lo} to {hi} characters")
    return value


def _parse(raw: object) -> MatchResult:
    if not isinstance(raw, Mapping):
        raise ResultError(FIELD_RESULT, "must be an object")
    for name in raw:
        if name not in _TOP_FIELDS:
            raise ResultError(str(name), "unknown field")
    for name in _TOP_FIELDS:
        if name not in raw:
            raise ResultError(name, "missing")
    players = raw["players"]
    if not isinstance(players, list):
        raise ResultError("players", "must be a list")
    if len(players) > MAX_PLAYERS:
        raise ResultError("players", f"at most {MAX_PLAYERS}")
    rows = [_parse_row(p, f"players[{i}]") for i, p in enumerate(players)]
    teams = _int(raw["teams"], "teams", 0, MAX_TEAMS)
    placed = {row.player_id: side.placement for side in standings(teams, rows) for row in side.players}
    fixed = []
    for i, row in enumerate(rows):
        if row.placement == 0:
            row = replace(row, placement=placed[row.player_id])
        elif row.placement != placed[row.player_id]:
            # A duplicate id is reported as such by the checks that follow, not as a placement.
            if sum(r.player_id == row.player_id for r in rows) == 1:
                raise ResultError(f"players[{i}].placement", f"must be {placed[row.player_id]} by the standings")
        fixed.append(row)
    return MatchResult(
        match_id=_str(raw["match_id"], "match_id", 1, MAX_ID), mode=_str(raw["mode"], "mode", 1, 64),
        seed=_int(raw["seed"], "seed", 0, MAX_SEED), server_id=_str(raw["server_id"], "server_id", 1, MAX_ID),
        reason=_str(raw["reason"], "reason", 1, 32), ticks=_int(raw["ticks"], "ticks", 0),
        duration_s=_seconds(raw["duration_s"], "duration_s"),
        started_at_us=_int(raw["started_at_us"], "started_at_us", 0),
        ended_at_us=_int(raw["ended_at_us"], "ended_at_us", 0), teams=teams, players=tuple(fixed))


def _parse_row(raw: object, where: str) -> PlayerRow:
    if not isinstance(raw, Mapping):
        raise ResultError(where, "must be an object")
    for name in _ROW_FIELDS[:-1]:
        if name not in raw:
            raise ResultError(f"{where}.{name}", "missing")
    stats: dict[str, int] = {}
    for name, value in raw.items():
        if name in _ROW_FIELDS:
            continue
        if not isinstance(name, str) or not _STAT_NAME.fullmatch(name):
            raise ResultError(f"{where}.{name}", "unknown field (a stat is a lower-case name)")
        stats[name] = _int(value, f"{where}.{name}")
    if len(stats) > MAX_STATS:
        raise ResultError(where, f"at most {MAX_STATS} stats")
    placement = _int(raw["placement"], f"{where}.placement", 1, MAX_PLAYERS) if "placement" in raw else 0
    return PlayerRow(
        player_id=_str(raw["player_id"], f"{where}.player_id", 1, MAX_ID),
        seat=_int(raw["seat"], f"{where}.seat", 0, MAX_PLAYERS), name=_str(raw["name"], f"{where}.name", 0, MAX_NAME),
        team=_int(raw["team"], f"{where}.team", 0, MAX_TEAMS), score=_int(raw["score"], f"{where}.score"),
        time_played_s=_seconds(raw["time_played_s"], f"{where}.time_played_s"),
        stats=MappingProxyType(stats), placement=placement)


def _check(result: MatchResult) -> None:
    """The rules between fields, for results built here and parsed alike."""
    if not _REASON.fullmatch(result.reason):
        raise ResultError("reason", "must be a lower-case word")
    if not 0 <= result.teams <= MAX_TEAMS:
        raise ResultError("teams", f"must be between 0 and {MAX_TEAMS}")
    if len(result.players) > MAX_PLAYERS:
        raise ResultError("players", f"at most {MAX_PLAYERS}")
    ids: set[str] = set()
    seats: set[int] = set()
    for i, row in enumerate(result.players):
        where = f"players[{i}]"
        if row.player_id in ids:
            raise ResultError(f"{where}.player_id", f"{row.player_id} appears twice")
        if row.seat in seats:
            raise ResultError(f"{where}.seat", f"seat {row.seat} appears twice")
        ids.add(row.player_id)
        seats.add(row.seat)
        if not 0 <= row.team < max(result.teams, 1):
            raise ResultError(f"{where}.team", "must be 0 in a free-for-all" if not result.teams
                              else f"must be below teams ({result.teams})")
        for name, value in row.stats.items():
            if name in _ROW_FIELDS or not _STAT_NAME.fullmatch(name):
                raise ResultError(f"{where}.{name}", "is not a stat name")
            if isinstance(value, bool) or not isinstance(value, int):
                raise ResultError(f"{where}.{name}", "must be a whole number")
    placed = {row.player_id: side.placement for side in standings(result.teams, result.players)
              for row in side.players}
    for i, row in enumerate(result.players):
        if row.placement != placed[row.player_id]:
            raise ResultError(f"players[{i}].placement", f"must be {placed[row.player_id]} by the standings")
