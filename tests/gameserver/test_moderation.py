"""A ban reaches the game server: a banned player in a running match gets an ``error``
``banned`` and a close within moments, their seat is freed for good, and a banned player's
join is refused. Bans are published as commerce publishes them (``elysium.moderation``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from elysium import moderation, redisclient
from elysium.moderation import ModerationEvent
from elysium.ws import frames, play
from gameserver import protocol as p
from gameserver.client import GameClient
from gameserver.room import MatchId, PlayerId
from gameserver.server import GameServer
from tests.gameserver.conftest import url
from tests.gameserver.rawclient import RawClient
from tests.waiting import until


def ban(player: str) -> ModerationEvent:
    return ModerationEvent("ban", player, None, f"mod_{player}", int(time.time() * 1000))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = redisclient.connect(redis_url)
    yield client
    await client.aclose()


async def watching(server: GameServer) -> None:
    await until(lambda: server.bans.ready.is_set(), what="the moderation watch loaded")


async def test_a_banned_player_in_a_running_match_is_kicked(game_server: GameServer, mint: Any,
                                                            redis: aioredis.Redis) -> None:
    await watching(game_server)
    cheat, fair = GameClient(url(game_server)), GameClient(url(game_server))
    welcome = await cheat.join(mint("cheat", "m-ban", seats=2))
    resume = welcome["resume"]
    await fair.join(mint("fair", "m-ban", seats=2))
    room = game_server.rooms[MatchId("m-ban")]
    await until(lambda: room.state.value == "running", what="the match running")
    await moderation.publish(redis, ban("cheat"))

    error = await cheat.expect("error", timeout=5)
    assert error["code"] == play.BANNED == "banned"
    with pytest.raises(ConnectionClosed) as closed:
        await cheat.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == frames.CLOSE_POLICY
    assert "cheat" not in room.by_player and "fair" in room.by_player

    async def fair_told() -> bool:
        await fair.recv(timeout=2)
        return any(e["k"] == "leave" and e.get("reason") == "banned" for e in fair.events)

    await until(fair_told, what="the other player seeing the leave")
    back = GameClient(url(game_server))
    refused = await back.join(resume=resume)  # the seat is gone, not held
    assert refused["t"] == "error" and refused["code"] == p.RESUME_REJECTED
    await asyncio.gather(fair.close(), back.close())


async def test_a_dropped_banned_player_loses_the_held_seat(game_server: GameServer, mint: Any,
                                                           redis: aioredis.Redis) -> None:
    await watching(game_server)
    away, other = GameClient(url(game_server)), GameClient(url(game_server))
    await away.join(mint("away", "m-drop", seats=2))
    await other.join(mint("other", "m-drop", seats=2))
    await away.close()
    room = game_server.rooms[MatchId("m-drop")]
    await until(lambda: not room.by_player[PlayerId("away")].connected, what="the seat held without a connection")
    await moderation.publish(redis, ban("away"))
    await until(lambda: "away" not in room.by_player, what="the held seat freed")
    await other.close()


async def test_a_banned_players_join_is_refused(game_server: GameServer, mint: Any, redis: aioredis.Redis) -> None:
    await watching(game_server)
    await moderation.publish(redis, ban("outlaw"))
    await until(lambda: game_server.bans.banned("outlaw"), what="the ban seen")
    c = await RawClient.open(game_server.port)
    try:
        c.send(play.encode_join(token=mint("outlaw", "m-new")))
        error = await c.recv_msg("error")
        assert error["code"] == p.BANNED
        assert await c.close_code() == frames.CLOSE_POLICY
    finally:
        c.close()
    assert "m-new" not in game_server.rooms  # nothing was created


async def test_a_join_asks_redis_when_the_watch_has_not_seen_the_ban(game_server: GameServer, mint: Any,
                                                                     redis: aioredis.Redis) -> None:
    await watching(game_server)
    await moderation.set_state(redis, "ban", "quiet", None, True)  # no event: the watch cannot know
    assert not game_server.bans.banned("quiet")
    c = await RawClient.open(game_server.port)
    try:
        c.send(play.encode_join(token=mint("quiet", "m-quiet")))
        assert (await c.recv_msg("error"))["code"] == p.BANNED
    finally:
        c.close()


async def test_a_ban_found_by_a_resync_kicks_too(game_server: GameServer, mint: Any) -> None:
    """After a lost connection the watch reloads and hands over everyone banned (``on_resync``)."""
    await watching(game_server)
    a, b = GameClient(url(game_server)), GameClient(url(game_server))
    await a.join(mint("ra", "m-resync", seats=2))
    await b.join(mint("rb", "m-resync", seats=2))
    await game_server.bans.on_resync(frozenset({"ra", "nobody-here"}))
    assert (await a.expect("error"))["code"] == p.BANNED
    assert "ra" not in game_server.rooms[MatchId("m-resync")].by_player
    await asyncio.gather(a.close(), b.close())


async def test_removals_are_counted(game_server: GameServer, mint: Any, redis: aioredis.Redis) -> None:
    await watching(game_server)
    a = GameClient(url(game_server))
    await a.join(mint("counted", "m-count", seats=2))
    await moderation.publish(redis, ban("counted"))
    await a.expect("error")
    metrics = game_server.http_get("/metrics")[1].decode()
    assert 'elysium_gameserver_players_removed_total{reason="banned"} 1.0' in metrics
    await a.close()
