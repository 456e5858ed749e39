"""Leaderboard order and page cursors. Pure: no I/O.

A leaderboard ranks the players of one queue mode and season, best first:

- ``rating``: by the conservative OpenSkill ordinal (mu - 3 sigma) of the player's rating
  after their last match of the season, highest first; equal ordinals by player id
  (ascending, byte order).
- ``wins``: by matches won in the season, most first; then by fewer matches played (the
  same wins in fewer matches is the better record); then by player id.

:func:`score` maps a standing to one number whose *ascending* order is that order, so a
Redis sorted set, which orders equal scores by member, ranks exactly as :func:`sort_spec`
sorts in MongoDB. Cursors are opaque to clients: URL-safe base64 of a small JSON object,
read back strictly (:func:`read_cursor` raises :class:`CursorError`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any
from collections.abc import Mapping, Sequence

BY = ("rating", "wins")
MATCHES_SPAN = 2**24  # matches played fit below this; wins are counted in steps of it
MAX_CURSOR = 512


class CursorError(ValueError):
    """A cursor this service did not give out (or one for another listing)."""


def score(by: str, ordinal: float, wins: int, matches: int) -> float:
    """The sorted-set score of a standing: lower is better, ties broken by the member (player id)."""
    if by == "rating":
        return -ordinal + 0.0  # + 0.0 turns -0.0 into 0.0, so one ordinal has one score
    if by == "wins":
        return float(-wins * MATCHES_SPAN + min(matches, MATCHES_SPAN - 1))
    raise ValueError(f"unknown leaderboard {by!r}")


def scores(standing: Mapping[str, Any]) -> dict[str, float]:
    """Both scores of a ``season_ratings`` document."""
    ordinal = float(standing["ordinal"])
    wins, matches = int(standing["wins"]), int(standing["matches"])
    return {by: score(by, ordinal, wins, matches) for by in BY}


def sort_spec(by: str) -> list[tuple[str, int]]:
    """The MongoDB sort giving the same order as :func:`score` on ``season_ratings``."""
    if by == "rating":
        return [("ordinal", -1), ("player_id", 1)]
    if by == "wins":
        return [("wins", -1), ("matches", 1), ("player_id", 1)]
    raise ValueError(f"unknown leaderboard {by!r}")


def ordered(by: str, standings: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``standings`` in leaderboard order (the reference the index is tested against)."""
    return sorted(standings, key=lambda d: (scores(d)[by], str(d["player_id"]).encode()))


def make_cursor(fields: Mapping[str, object]) -> str:
    raw = json.dumps(dict(fields), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(cursor: str, shape: Mapping[str, type]) -> dict[str, object]:
    """The fields of ``cursor``, which must hold exactly the names of ``shape`` with those types."""
    if not 1 <= len(cursor) <= MAX_CURSOR:
        raise CursorError("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
    except (binascii.Error, ValueError):
        raise CursorError("cursor is not one this service gave out") from None
    if not isinstance(fields, dict) or set(fields) != set(shape):
        raise CursorError("cursor is not one this service gave out")
    for name, kind in shape.items():
        value = fields[name]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise CursorError("cursor is not one this service gave out")
        if isinstance(value, float) and not math.isfinite(value):
            raise CursorError("cursor is not one this service gave out")
        if isinstance(value, int) and value < 0:
            raise CursorError("cursor is not one this service gave out")
    return fields
