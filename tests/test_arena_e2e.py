"""The arena end to end, across the real services: commerce (accounts, friends, profiles), the
matchmaker with its loops (custom games, results, history, leaderboards), a game server and a
spectator relay (chat), on one Redis and the embedded MongoDB.

Alice and Bob become friends; they talk on the social socket; Alice hosts a ranked custom game
and Bob joins it by its code; they chat in the game's channel, play the duel to its end on the
game server (Bob sees Alice in the match meanwhile); then both find the match in their history
and their new ranks on the leaderboard, and Alice's public profile shows them.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from elysium import chat
from gameserver.bots import play
from gameserver.client import GameClient
from matchmaker.modes import ModeConfig
from spectator import social_protocol as sp
from spectator.social_client import SocialClient
from tests.commerce.conftest import client_for, make_settings, register  # noqa: F401 (fixtures)
from tests.gameserver.conftest import cleanup_servers, server_factory  # noqa: F401 (fixtures)
from tests.matchmaker.conftest import mm_factory, mm_settings, services  # noqa: F401 (fixtures)
from tests.spectator.conftest import relay_factory  # noqa: F401 (fixtures)
from tests.waiting import until

DUEL = ModeConfig("duel", min_players=2, max_players=2, score_limit=3, time_limit_s=6.0, start_timeout_s=10.0)


async def social(relay: Any, who: dict[str, Any]) -> SocialClient:
    client = SocialClient(f"ws://127.0.0.1:{relay.port}{sp.SOCIAL_PATH}")
    ready = await client.hello(who["access_token"])
    assert ready["t"] == "ready" and ready["player"] == who["account_id"], ready
    return client


async def test_friends_host_join_by_code_play_chat_and_rank(
        server_factory: Any, cleanup_servers: Any, mm_factory: Any, relay_factory: Any,  # noqa: F811
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> None:  # noqa: F811
    game_server = await server_factory()
    relay = await relay_factory(player_public_key_file=str(keys_dir / "player.pub"))
    relay_url = f"ws://127.0.0.1:{relay.port}"
    mm = await mm_factory(run_loops=True, modes=[DUEL], spectator_public_url=relay_url)
    commerce = await client_for(make_settings(mongo_url, f"{mongo_db_name}_arena", redis_url, keys_dir,
                                              matchmaker_url=str(mm.make_url("")).rstrip("/")))
    alice, bob = await register(commerce), await register(commerce)
    a_id, b_id = alice["account_id"], bob["account_id"]

    # Friends: Alice asks, Bob sees the request and accepts.
    asked = await commerce.post("/v1/me/friends/requests", json={"player_id": b_id}, headers=alice["headers"])
    assert asked.status == 201, await asked.text()
    requests = await (await commerce.get("/v1/me/friends/requests", headers=bob["headers"])).json()
    assert [r["id"] for r in requests["incoming"]] == [a_id], requests
    accepted = await commerce.post(f"/v1/me/friends/requests/{a_id}/accept", headers=bob["headers"])
    assert accepted.status == 204, await accepted.text()
    for me, friend in ((alice, b_id), (bob, a_id)):
        friends = (await (await commerce.get("/v1/me/friends", headers=me["headers"])).json())["friends"]
        assert [f["id"] for f in friends] == [friend], friends

    # They talk: a direct message between friends, over the relay's social socket.
    a_chat, b_chat = await social(relay, alice), await social(relay, bob)
    try:
        async def told() -> bool:
            return bool((await a_chat.dm(b_id, "up for a duel?"))["t"] == "ack")  # the friendship reached the relay

        await until(told, what="a direct message between friends")
        assert (await b_chat.expect("msg"))["text"] == "up for a duel?"

        # Alice hosts a ranked game; Bob finds it by its code and takes the other seat.
        await until(lambda: services(mm).registry.live(), what="the game server's heartbeat")
        hosted = await mm.post("/v1/games", json={"mode": "duel", "region": "local", "seats": 2, "ranked": True,
                                                  "password": "just us"}, headers=alice["headers"])
        game = await hosted.json()
        assert hosted.status == 201, game
        code = game["code"]
        seen = await (await mm.get(f"/v1/games/{code}", headers=bob["headers"])).json()
        assert seen["host"] == a_id and seen["players"] == 1 and seen["ranked"] is True
        joined = await mm.post(f"/v1/games/{code}/join", json={"password": "just us"}, headers=bob["headers"])
        assert joined.status == 200, await joined.text()

        # The game's channel: both seated, both hear each other.
        channel = chat.game_channel(code)
        for c in (a_chat, b_chat):
            assert (await c.subscribe(channel))["t"] == "history"
        assert (await b_chat.say(channel, "ready when you are"))["t"] == "ack"
        assert (await a_chat.expect("msg"))["text"] == "ready when you are"

        started = await mm.post(f"/v1/games/{code}/start", headers=alice["headers"])
        assert started.status == 200, await started.text()
        match_id = (await started.json())["match"]["match_id"]
        assert match_id.startswith(f"duel.custom-{code}.")
        tickets = [await (await mm.get(f"/v1/tickets/{game['ticket']}", headers=who["headers"])).json()
                   for who in (alice, bob)]
        players = [GameClient(t["match"]["address"]) for t in tickets]
        for client, ticket in zip(players, tickets, strict=True):
            welcome = await client.join(ticket["match"]["join_token"])
            assert welcome["t"] == "welcome" and welcome["match"] == match_id, welcome
        stop = asyncio.Event()
        playing = asyncio.gather(*(play(c, random.Random(i), stop) for i, c in enumerate(players)))

        # Meanwhile Bob sees Alice in the match, with a link to watch it; and they chat on.
        async def alice_in_match() -> dict[str, Any] | None:
            friends = (await (await commerce.get("/v1/me/friends", headers=bob["headers"])).json())["friends"]
            presence: dict[str, Any] = friends[0]["presence"]
            return presence if presence["state"] == "in_match" else None

        presence = await until(alice_in_match, what="alice's presence in the match")
        assert presence["match_id"] == match_id and presence["watch"] == f"/v1/watch/{match_id}"
        assert (await a_chat.say(channel, "good luck"))["t"] == "ack"
        assert await b_chat.texts_until("good luck") == ["ready when you are", "good luck"]  # his own, then hers

        await asyncio.wait_for(playing, 30)
        result = players[0].result
        assert result is not None and players[1].result == result
        assert {row["player_id"] for row in result["results"]} == {a_id, b_id}
        stop.set()
        for client in players:
            await client.close()
    finally:
        await a_chat.close()
        await b_chat.close()

    # Both find the match in their history, rated, with a replay link to the relay.
    for who in (alice, bob):
        async def recorded(who: dict[str, Any] = who) -> dict[str, Any] | None:
            page = await (await mm.get("/v1/players/me/matches", headers=who["headers"])).json()
            return page["items"][0] if page["items"] else None

        match = await until(recorded, timeout_s=20, what=f"the match in {who['username']}'s history")
        assert match["match_id"] == match_id and match["custom"] == code and match["rated"] is True
        assert sorted(p["player_id"] for p in match["players"]) == sorted([a_id, b_id])
        assert all(p["rating_after"] is not None for p in match["players"])
        assert match["replay"]["status"] == "available" and match["replay"]["url"] == f"{relay_url}/v1/watch/{match_id}"

    # Their new ranks on the leaderboard: both ranked, in the order of their ratings.
    board = await (await mm.get("/v1/leaderboards/duel?by=rating", headers=alice["headers"])).json()
    assert board["total"] == 2 and sorted(e["player"] for e in board["items"]) == sorted([a_id, b_id])
    ordinals = {e["player"]: e["ordinal"] for e in board["items"]}
    for who in (alice, bob):
        mine = await (await mm.get("/v1/leaderboards/duel/me", headers=who["headers"])).json()
        assert mine["rank"] in (1, 2) and mine["player"] == who["account_id"]
        rated = next(p for p in match["players"] if p["player_id"] == who["account_id"])
        assert ordinals[who["account_id"]] == round(rated["rating_after"]["ordinal"], 4)
    assert {(await (await mm.get("/v1/leaderboards/duel/me", headers=w["headers"])).json())["rank"]
            for w in (alice, bob)} == {1, 2}

    # Alice's public profile, as Bob reads it from commerce: her duel rating and the match.
    profile = await (await commerce.get(f"/v1/players/{a_id}", headers=bob["headers"])).json()
    assert profile["id"] == a_id and profile["unavailable"] == []
    assert match_id in [m["match_id"] for m in profile["recent_matches"]], profile
    assert "duel" in {r["mode"] for r in profile["ratings"]}, profile
