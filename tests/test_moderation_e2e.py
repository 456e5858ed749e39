"""A ban across the real services: commerce (the admin API), the matchmaker with its matching
loop, and a game server, on one Redis and the embedded MongoDB.

Carol holds a ticket; Alice plays a match against Bob. An operator bans both: Carol's ticket
is gone, Alice is kicked from the running match, both accounts' tokens are refused by
commerce and the matchmaker, neither can log in, and the moderation log shows both bans.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from elysium.ws import frames, play
from gameserver.client import GameClient
from matchmaker import keys as mm_keys
from matchmaker.modes import ModeConfig
from tests.commerce.conftest import admin_headers, admin_token, client_for, make_settings, register  # noqa: F401
from tests.gameserver.conftest import cleanup_servers, server_factory  # noqa: F401
from tests.matchmaker.conftest import mm_factory, mm_settings  # noqa: F401
from tests.waiting import until

DUEL = ModeConfig("duel", min_players=2, max_players=2, score_limit=50, time_limit_s=60.0, start_timeout_s=10.0)
ARENA = ModeConfig("arena", min_players=3, max_players=4, score_limit=50, time_limit_s=60.0)
REGIONS = {"local": 15}


async def matched(mm: Any, ticket_id: str, headers: dict[str, str]) -> dict[str, Any]:
    async def view() -> dict[str, Any] | None:
        body: dict[str, Any] = await (await mm.get(f"/v1/tickets/{ticket_id}", headers=headers)).json()
        return body if body["status"] == "matched" else None

    return await until(view, timeout_s=20, interval_s=0.05, what="the ticket matched")


async def test_banning_a_player_in_a_match_and_one_in_a_queue(
        server_factory: Any, cleanup_servers: Any, mm_factory: Any, client_for: Any,  # noqa: F811
        mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path, admin_token: str) -> None:  # noqa: F811
    commerce = await client_for(make_settings(mongo_url, f"{mongo_db_name}_c", redis_url, keys_dir))
    game = await server_factory()
    mm = await mm_factory(run_loops=True, modes=[DUEL, ARENA])
    alice, bob, carol = [await register(commerce) for _ in range(3)]
    await until(lambda: game.bans.ready.is_set(), what="the game server's moderation watch")

    # Alice and Bob are matched into a duel and join it on the game server.
    duel = {}
    for who in (alice, bob):
        resp = await mm.post("/v1/tickets", json={"mode": "duel", "regions": REGIONS}, headers=who["headers"])
        assert resp.status == 201, await resp.text()
        duel[who["account_id"]] = (await resp.json())["id"]
    views = [await matched(mm, duel[w["account_id"]], w["headers"]) for w in (alice, bob)]
    a_game, b_game = GameClient(views[0]["match"]["address"]), GameClient(views[1]["match"]["address"])
    assert (await a_game.join(views[0]["match"]["join_token"]))["t"] == "welcome"
    assert (await b_game.join(views[1]["match"]["join_token"]))["t"] == "welcome"
    room = game.rooms[views[0]["match"]["match_id"]]
    await until(lambda: room.state.value == "running", what="the duel running")

    # Carol waits in a queue that needs three players.
    resp = await mm.post("/v1/tickets", json={"mode": "arena", "regions": REGIONS}, headers=carol["headers"])
    assert resp.status == 201, await resp.text()
    carol_ticket = (await resp.json())["id"]

    # The operator bans both.
    for who, reason in ((carol, "botting in the queue"), (alice, "aimbot")):
        ban = await commerce.post(f"/v1/admin/accounts/{who['account_id']}/ban", json={"reason": reason},
                                  headers=admin_headers(admin_token, f"ban-{who['account_id']}"))
        assert ban.status == 201, await ban.text()

    # Alice is kicked from the running match: an error, then a close; Bob plays on.
    error = await a_game.expect("error", timeout=5)
    assert error["code"] == play.BANNED
    try:
        while True:
            await a_game.recv(timeout=5)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == frames.CLOSE_POLICY
    assert alice["account_id"] not in room.by_player and bob["account_id"] in room.by_player

    # Carol's ticket is gone from the queue.
    client = aioredis.from_url(redis_url)
    try:
        async def ticket_gone() -> bool:
            return await client.hget(mm_keys.ticket(carol_ticket), "status") == b"cancelled"

        await until(ticket_gone, what="carol's ticket cancelled")
        assert await client.hget(mm_keys.ticket(carol_ticket), "reason") == b"banned"
        assert await client.zscore(mm_keys.queue("arena"), carol_ticket) is None
    finally:
        await client.aclose()

    # Their tokens are refused by commerce and the matchmaker, and they cannot log in.
    for who in (alice, carol):
        for service, path in ((commerce, "/v1/me"), (mm, "/v1/players/me/ratings")):
            resp = await service.get(path, headers=who["headers"])
            assert resp.status == 403 and (await resp.json())["code"] == "account-banned", path
        login = await commerce.post("/v1/sessions", json={"username": who["username"],
                                                          "password": "correct horse battery"})
        assert login.status == 403 and (await login.json())["code"] == "account-banned"
    assert (await commerce.get("/v1/me", headers=bob["headers"])).status == 200

    # The log shows both bans, newest first, with who, what, when and why.
    log = await (await commerce.get("/v1/admin/moderation/log", headers=admin_headers(admin_token))).json()
    assert [(e["account_id"], e["action"], e["reason"]) for e in log["entries"]] == [
        (alice["account_id"], "ban", "aimbot"), (carol["account_id"], "ban", "botting in the queue")]
    assert all(e["by"] == "ops" and e["at"] for e in log["entries"])
    await b_game.close()
