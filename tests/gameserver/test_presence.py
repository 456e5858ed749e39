"""In-match presence through a real game server: seats taken, left, and the match's end."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

import redis.asyncio as aioredis

from elysium import keys, presence
from elysium.presence import Presence, State
from elysium.ws import envelope
from gameserver.client import GameClient
from tests.gameserver.conftest import url
from tests.waiting import until


async def _where(redis: aioredis.Redis, player: str) -> Presence:
    return await presence.read(redis, player)


async def test_seats_show_in_the_match_until_left_or_ended(game_server: Any, mint: Any) -> None:
    redis = game_server.redis
    a, b = GameClient(url(game_server)), GameClient(url(game_server))
    await a.join(mint("alice", "pm", seats=2))
    await b.join(mint("bob", "pm", seats=2))
    for player in ("alice", "bob"):
        seen = await until(partial(_in_match, redis, player, "pm"), what=f"{player} shown in the match")
        assert seen.watch == "/v1/watch/pm"
    assert 0 < await redis.ttl(keys.presence("alice", "in_match")) <= game_server.settings.presence_ttl_s

    await a.send(envelope.encode_leave())
    await until(lambda: _offline(redis, "alice"), what="alice shown out of the match")
    assert (await _where(redis, "bob")).state == State.IN_MATCH

    loop = asyncio.get_running_loop()
    game_server.rooms["pm"].abort("shutdown", loop.time(), time.time_ns() // 1000)
    await until(lambda: _offline(redis, "bob"), what="bob shown out of the ended match")
    for c in (a, b):
        await c.close()


async def _in_match(redis: aioredis.Redis, player: str, match_id: str) -> Presence | None:
    seen = await _where(redis, player)
    return seen if seen.state == State.IN_MATCH and seen.match_id == match_id else None


async def _offline(redis: aioredis.Redis, player: str) -> bool:
    return (await _where(redis, player)) == presence.OFFLINE
