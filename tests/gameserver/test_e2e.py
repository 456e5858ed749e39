"""Real websocket clients play a short match against a real server and Redis."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import redis.asyncio as aioredis

from elysium import keys, redisreply
from elysium.results import MatchResult
from gameserver.client import GameClient
from gameserver.server import GameServer
from tests.gameserver.conftest import url


async def test_two_players_play_a_match_to_its_end(game_server: GameServer, mint: Any, redis_url: str) -> None:
    a, b = GameClient(url(game_server)), GameClient(url(game_server))
    wa = await a.join(mint("alice", "duel", seats=2, score_limit=2, time_limit_s=30, seed=7))
    wb = await b.join(mint("bob", "duel", seats=2, score_limit=2, time_limit_s=30, seed=7))
    assert wa["t"] == "welcome" and wb["t"] == "welcome"
    assert {wa["player"], wb["player"]} == {0, 1}
    assert wa["v"] == 1 and wa["tick_hz"] == 20 and wa["mode"] == "arena"

    async def reader(c: GameClient) -> None:
        while c.result is None:
            await c.recv(timeout=10)

    async def shooter(c: GameClient, target_seat: int) -> None:
        # Walk towards the rival and shoot at it every tick until the match ends.
        while c.result is None:
            me = c.replica.players.get(c.welcome["player"])
            them = c.replica.players.get(target_seat)
            if me and them:
                dx, dy = them[0] - me[0], them[1] - me[1]
                dist = math.hypot(dx, dy) or 1.0
                aim = math.atan2(dy, dx)
                speed = 1.0 if dist > 300 else 0.0
                await c.send_input(dx / dist * speed, dy / dist * speed, aim, True)
            await asyncio.sleep(0.05)

    readers = [asyncio.create_task(reader(a)), asyncio.create_task(reader(b))]
    shooting = asyncio.create_task(shooter(a, wb["player"]))
    await asyncio.wait_for(asyncio.gather(*readers), 30)
    shooting.cancel()

    assert a.result is not None and b.result is not None
    assert a.result == b.result
    results = a.result["results"]
    winner = results[0]
    assert winner["player_id"] == "alice" and winner["score"] == 2 and winner["kills"] == 2
    loser = next(r for r in results if r["player_id"] == "bob")
    assert loser["deaths"] == 2
    assert a.result["reason"] == "score"
    # Both replicas agree with each other and the acked sequence reached alice's last inputs.
    assert a.replica.players == b.replica.players
    assert a.replica.acks[wa["player"]] > 0

    client = aioredis.from_url(redis_url)
    try:
        for _ in range(50):
            entries = redisreply.stream_entries(await client.xrange(keys.RESULTS_STREAM))
            if entries:
                break
            await asyncio.sleep(0.1)
        assert len(entries) == 1
        fields = entries[0][1]
        assert fields[b"match_id"] == b"duel"
        result = MatchResult.from_entry(fields)
        assert result.mode == "arena" and result.seed == 7 and result.reason == "score"
        assert [p.player_id for p in result.players] == ["alice", "bob"]
        assert [p.placement for p in result.players] == [1, 2] and result.winners() == {"alice"}
        assert result.players[0].time_played_s > 0 and result.players[0].stat("kills") >= 1
        assert result.duration_s > 0
        # The end event lists the same rows, without their placements (protocol v1).
        assert results == [{k: v for k, v in row.to_json().items() if k != "placement"} for row in result.players]
        assert await client.xlen(keys.match_feed("duel")) > 10
    finally:
        await client.aclose()
    await a.close()
    await b.close()


async def test_players_joining_a_waiting_room_each_get_a_keyframe_holding_every_seat(game_server: GameServer,
                                                                                     mint: Any) -> None:
    clients = [GameClient(url(game_server)) for _ in range(3)]
    room = {"seats": 3, "min_players": 3, "time_limit_s": 30, "seed": 3}
    try:
        for k, (c, name) in enumerate(zip(clients, ("alice", "bob", "carol"))):
            welcome = await c.join(mint(name, "waiting", **room))
            assert welcome["t"] == "welcome"
            # The keyframe just read holds every seated player, this joiner included.
            assert sorted(c.replica.players) == sorted(x.welcome["player"] for x in clients[:k + 1])
            if k < 2:
                assert welcome["state"] == "waiting"
        for c in clients:  # the match starts; its first delta lists every player
            await c.expect("delta")
            while c.replica.tick < 1:
                await c.recv()
            assert c.replica.tick == 1 and len(c.replica.players) == 3
        assert clients[0].replica.players == clients[1].replica.players == clients[2].replica.players
    finally:
        for c in clients:
            await c.close()
