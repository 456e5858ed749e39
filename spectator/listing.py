"""``GET /v1/matches``: live matches and finished ones still watchable, plus viewer counts.

The matches and their descriptions come from the feed reader (:mod:`elysium.feeds`).

Every relay publishes how many watchers it has per match in ``elysium:viewers:{match_id}``
(one field per relay, ``count:ms``, ignored once stale), so any replica can list the
total.
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from elysium import keys
from elysium.feeds import MatchFeedReader, MatchInfo

VIEWERS_STALE_MS = 10_000
MAX_LIST_LIMIT = 200  # matches one GET /v1/matches lists at most
LIVE_STATES = ("waiting", "running")
# A game server describes a room it has let go of as "disposed"; watchers and the listing see
# the documented states only (waiting, running, finished).
_PUBLIC_STATES = {"disposed": "finished"}


def public_state(state: str | None) -> str | None:
    """The documented state for a room state written by a game server."""
    return _PUBLIC_STATES.get(state, state) if state is not None else None


def viewers_key(match_id: str) -> str:
    return f"{keys.PREFIX}viewers:{match_id}"


async def publish_viewers(client: aioredis.Redis, relay_id: str, counts: dict[str, int], ttl_s: int = 30) -> None:
    if not counts:
        return
    now_ms = int(time.time() * 1000)
    async with client.pipeline(transaction=False) as pipe:
        for match_id, count in counts.items():
            key = viewers_key(match_id)
            pipe.hset(key, relay_id, f"{count}:{now_ms}")
            pipe.expire(key, ttl_s)
        await pipe.execute()


def _viewers(raw: dict[bytes, bytes], now_ms: int) -> int:
    total = 0
    for value in raw.values():
        count, _, ts = value.partition(b":")
        try:
            if now_ms - int(ts) <= VIEWERS_STALE_MS:
                total += int(count)
        except ValueError:
            continue
    return total


def summarize(match_id: str, info: MatchInfo, viewers: int, now_ms: int, live: bool) -> dict[str, Any]:
    players = list(info.players)
    started_us = info.started_at_us or 0
    updated_ms = info.updated_at_ms or now_ms
    end_ms = now_ms if live else updated_ms
    scores: dict[int, int] = {}
    for p in players:
        scores[int(p.get("team") or 0)] = scores.get(int(p.get("team") or 0), 0) + int(p.get("score") or 0)
    return {
        "match_id": match_id,
        "mode": info.mode,
        "state": public_state(info.state),
        "players": players,
        "score": [[team, total] for team, total in sorted(scores.items())],
        "top_score": max((int(p.get("score") or 0) for p in players), default=0),
        "tick": info.tick,
        "elapsed_s": round(max(0.0, end_ms / 1000 - started_us / 1e6), 1) if started_us else 0.0,
        "viewers": viewers,
        "end_reason": info.end_reason,
        "watch": f"/v1/watch/{match_id}",
    }


async def list_matches(feeds: MatchFeedReader, client: aioredis.Redis, limit: int) -> dict[str, Any]:
    listed = await feeds.matches(limit)
    matches = [*listed.live, *listed.finished]
    async with client.pipeline(transaction=False) as pipe:
        for match in matches:
            pipe.hgetall(viewers_key(match.match_id))
        counts = await pipe.execute()
    now_ms = int(time.time() * 1000)
    live: list[dict[str, Any]] = []
    replays: list[dict[str, Any]] = []
    for n, (match, raw_viewers) in enumerate(zip(matches, counts)):
        is_live = n < len(listed.live) and match.info.state in LIVE_STATES
        summary = summarize(match.match_id, match.info, _viewers(raw_viewers, now_ms), now_ms, is_live)
        if is_live:
            live.append(summary)
        elif match.has_feed:
            summary["watch"] += "?from=start"
            replays.append(summary)
    return {"live": live, "replays": replays}
