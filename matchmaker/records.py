"""Match history records: the stored document of one finished match and its public view. Pure.

A record is written once per match, in the transaction that rates it (``ratings.py``), to
the MongoDB collection ``matches`` with ``_id`` the match id (``docs/matchmaker.md``,
"Match history"). The replay link is not stored: it is worked out at every read from the
relay's public URL and the feed retention, so a link reads ``expired`` once the game
server's feed is gone instead of pointing at nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from elysium import matchids
from elysium.results import MatchResult
from matchmaker.skill import Rating

UNDECIDED_REASONS = frozenset({"shutdown"})  # cut short by a server's drain: it names a leader, not a winner


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """Where replays are watched: the relay's public base URL ('' for none) and how long feeds live."""

    base_url: str
    retention_s: int


def winners(result: MatchResult) -> frozenset[str]:
    """Who won for the history and the wins leaderboard (the kernel's winners, none after a drain)."""
    return frozenset() if result.reason in UNDECIDED_REASONS else result.winners()


def _rating(r: Rating | None) -> dict[str, float] | None:
    return None if r is None else {"mu": r.mu, "sigma": r.sigma, "ordinal": r.ordinal}


def match_document(mode: str, season: str, result: MatchResult, before: Mapping[str, Rating],
                   after: Mapping[str, Rating], recorded_ms: int, *, rated: bool = True) -> dict[str, Any]:
    """The ``matches`` document of one result; ``before``/``after`` hold the ratings it changed.
    ``rated`` is False for a custom game's match (recorded, never rated)."""
    won = winners(result)
    players = [{"player_id": row.player_id, "name": row.name, "seat": row.seat, "team": row.team,
                "score": row.score, "placement": row.placement, "time_played_s": row.time_played_s,
                "stats": dict(row.stats), "won": row.player_id in won,
                "rating_before": _rating(before.get(row.player_id, Rating()) if row.player_id in after else None),
                "rating_after": _rating(after.get(row.player_id))}
               for row in result.players]
    sides = [{"team": side.team, "score": side.score, "placement": side.placement,
              "players": [row.player_id for row in side.players]} for side in result.sides] if result.teams else []
    return {"_id": result.match_id, "mode": mode, "game_mode": result.mode, "season": season,
            "reason": result.reason, "teams": result.teams, "sides": sides, "ticks": result.ticks,
            "duration_s": result.duration_s, "started_at_us": result.started_at_us,
            "ended_at_us": result.ended_at_us, "server_id": result.server_id,
            "player_ids": [row.player_id for row in result.players], "winners": sorted(won),
            "players": players, "rated": rated, "custom": _custom_code(result.match_id), "recorded_ms": recorded_ms}


def _custom_code(match_id: str) -> str | None:
    parsed = matchids.parse_custom_match_id(match_id)
    return None if parsed is None else parsed.code


def replay_link(match_id: str, ended_at_us: int, source: ReplaySource, now_ms: int) -> dict[str, Any]:
    """``{"status", "url", "expires_at_ms"}``: ``available`` while the feed is retained, then ``expired``;
    ``unavailable`` when no relay URL is configured."""
    expires = ended_at_us // 1000 + source.retention_s * 1000
    if not source.base_url:
        return {"status": "unavailable", "url": None, "expires_at_ms": expires}
    if now_ms >= expires:
        return {"status": "expired", "url": None, "expires_at_ms": expires}
    url = f"{source.base_url.rstrip('/')}/v1/watch/{quote(match_id, safe='')}"
    return {"status": "available", "url": url, "expires_at_ms": expires}


def match_view(doc: Mapping[str, Any], source: ReplaySource, now_ms: int) -> dict[str, Any]:
    """The public JSON of a stored match."""
    return {"match_id": doc["_id"], "mode": doc["mode"], "game_mode": doc["game_mode"], "season": doc["season"],
            "reason": doc["reason"], "teams": doc["teams"], "sides": doc["sides"], "winners": doc["winners"],
            "duration_s": doc["duration_s"], "ticks": doc["ticks"],
            "started_at_ms": doc["started_at_us"] // 1000, "ended_at_ms": doc["ended_at_us"] // 1000,
            "players": doc["players"], "rated": doc.get("rated", True), "custom": doc.get("custom"),
            "replay": replay_link(doc["_id"], doc["ended_at_us"], source, now_ms)}
