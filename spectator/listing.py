"""``GET /v1/matches``: live matches and finished ones still watchable, plus viewer counts.

Every relay publishes how many watchers it has per match in ``elysium:viewers:{match_id}``
(one field per relay, ``count:ms``, ignored once stale), so any replica can list the
total.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

import redis.asyncio as aioredis

from elysium import keys

VIEWERS_STALE_MS = 10_000
LIVE_STATES = ("waiting", "running")


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


def decode_info(raw: dict[bytes, bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            out[key.decode()] = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            continue
    return out


def summarize(match_id: str, info: dict[str, Any], viewers: int, now_ms: int, live: bool) -> dict[str, Any]:
    raw_players = info.get("players")
    players: list[Any] = raw_players if isinstance(raw_players, list) else []
    started_us = info.get("started_at_us") or 0
    updated_ms = info.get("updated_at_ms") or now_ms
    end_ms = now_ms if live else updated_ms
    scores: dict[int, int] = {}
    for p in players:
        if isinstance(p, dict):
            scores[int(p.get("team") or 0)] = scores.get(int(p.get("team") or 0), 0) + int(p.get("score") or 0)
    return {
        "match_id": match_id,
        "mode": info.get("mode"),
        "state": info.get("state"),
        "players": players,
        "score": [[team, total] for team, total in sorted(scores.items())],
        "top_score": max((int(p.get("score") or 0) for p in players if isinstance(p, dict)), default=0),
        "tick": info.get("tick"),
        "elapsed_s": round(max(0.0, end_ms / 1000 - started_us / 1e6), 1) if started_us else 0.0,
        "viewers": viewers,
        "end_reason": info.get("end_reason"),
        "watch": f"/v1/watch/{match_id}",
    }


async def list_matches(client: aioredis.Redis, limit: int) -> dict[str, Any]:
    live_ids = cast(list[bytes], await client.zrevrange(keys.MATCHES_LIVE, 0, limit - 1))
    done_ids = cast(list[bytes], await client.zrevrange(keys.MATCHES_DONE, 0, limit - 1))
    ids = [i.decode() for i in live_ids] + [i.decode() for i in done_ids]
    async with client.pipeline(transaction=False) as pipe:
        for match_id in ids:
            pipe.hgetall(keys.match_info(match_id))
            pipe.hgetall(viewers_key(match_id))
            pipe.exists(keys.match_feed(match_id))
        replies = await pipe.execute()
    now_ms = int(time.time() * 1000)
    live: list[dict[str, Any]] = []
    replays: list[dict[str, Any]] = []
    for n, match_id in enumerate(ids):
        raw_info, raw_viewers, has_feed = replies[3 * n: 3 * n + 3]
        if not raw_info:
            continue
        info = decode_info(raw_info)
        is_live = n < len(live_ids) and info.get("state") in LIVE_STATES
        summary = summarize(match_id, info, _viewers(raw_viewers, now_ms), now_ms, is_live)
        if is_live:
            live.append(summary)
        elif has_feed:
            summary["watch"] += "?from=start"
            replays.append(summary)
    return {"live": live, "replays": replays}


async def latest_live(client: aioredis.Redis) -> str | None:
    newest = cast(list[bytes], await client.zrevrange(keys.MATCHES_LIVE, 0, 0))
    return newest[0].decode() if newest else None
