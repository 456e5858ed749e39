"""End to end: players queue, get matched onto a real game server, play to the end, ratings move, and the
match is in both players' history and on the leaderboard."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from gameserver.client import GameClient
from matchmaker.modes import ModeConfig
from tests.gameserver.conftest import SERVER_ID, cleanup_servers, server_factory  # noqa: F401
from tests.matchmaker.test_matching import _next_event

DUEL = ModeConfig("duel", min_players=2, max_players=2, score_limit=2, time_limit_s=20.0, start_timeout_s=10.0)


async def play(client: GameClient, rival_seat: int, shoot: bool) -> None:
    reader = asyncio.create_task(_read_until_end(client))
    try:
        while client.result is None and not reader.done():
            me = client.replica.players.get(client.welcome["player"])
            them = client.replica.players.get(rival_seat)
            if shoot and me and them:
                dx, dy = them[0] - me[0], them[1] - me[1]
                dist = math.hypot(dx, dy) or 1.0
                speed = 1.0 if dist > 300 else 0.0
                await client.send_input(dx / dist * speed, dy / dist * speed, math.atan2(dy, dx), True)
            await asyncio.sleep(0.05)
    finally:
        await reader


async def _read_until_end(client: GameClient) -> None:
    while client.result is None:
        await client.recv(timeout=15)


async def test_players_queue_play_and_their_ratings_move(server_factory: Any, cleanup_servers: Any,  # noqa: F811
                                                         mm_factory: Any, auth: Any) -> None:
    game = await server_factory()
    mm = await mm_factory(run_loops=True, modes=[DUEL])
    tickets = {}
    for player in ("alice", "bob"):
        resp = await mm.post("/v1/tickets", json={"mode": "duel", "regions": {"local": 15}}, headers=auth(player))
        assert resp.status == 201
        tickets[player] = (await resp.json())["id"]
    # Alice follows her ticket's event stream; Bob polls.
    stream = await mm.get(f"/v1/tickets/{tickets['alice']}/events", headers=auth("alice"))
    event, alice_view = await _next_event(stream)
    if event == "queued":  # the matching loop may have been quicker than the stream
        event, alice_view = await _next_event(stream)
    assert event == "matched"
    bob_view: dict[str, Any] = {}
    for _ in range(100):
        bob_view = await (await mm.get(f"/v1/tickets/{tickets['bob']}", headers=auth("bob"))).json()
        if bob_view["status"] == "matched":
            break
        await asyncio.sleep(0.05)
    assert bob_view["status"] == "matched"
    a_match, b_match = alice_view["match"], bob_view["match"]
    assert a_match["match_id"] == b_match["match_id"] and a_match["match_id"].startswith("duel.")
    assert a_match["server_id"] == SERVER_ID == game.server_id
    assert a_match["address"] == game.public_url

    alice, bob = GameClient(a_match["address"]), GameClient(b_match["address"])
    wa = await alice.join(a_match["join_token"])
    wb = await bob.join(b_match["join_token"])
    assert wa["t"] == "welcome" and wb["t"] == "welcome", (wa, wb)
    assert wa["match"] == a_match["match_id"] and wa["seats"] == 2
    await asyncio.wait_for(asyncio.gather(play(alice, wb["player"], True), play(bob, wa["player"], False)), 60)
    assert alice.result is not None and alice.result == bob.result
    # Only alice shoots; the room's seed (random per match) decides the map, and on some maps
    # she cannot reach bob before the time limit: then the match is a draw.
    best, worst = alice.result["results"][0], alice.result["results"][-1]
    decisive = best["score"] > worst["score"]
    await alice.close()
    await bob.close()

    ratings: dict[str, Any] = {}
    for _ in range(300):
        ratings = {p: (await (await mm.get("/v1/players/me/ratings", headers=auth(p))).json())["ratings"]["duel"]
                   for p in ("alice", "bob")}
        if ratings["alice"]["matches"] and ratings["bob"]["matches"]:
            break
        await asyncio.sleep(0.1)
    assert ratings["alice"]["matches"] == 1 and ratings["bob"]["matches"] == 1
    if decisive:
        assert best["player_id"] == "alice"
        assert ratings["alice"]["mu"] > 25.0 > ratings["bob"]["mu"]
    else:
        assert ratings["alice"]["mu"] == ratings["bob"]["mu"]
    assert ratings["alice"]["sigma"] < 25.0 / 3 and ratings["bob"]["sigma"] < 25.0 / 3  # both are surer now
    # Both see the match in their history, as the game server reported it, and their ranks.
    match_id = a_match["match_id"]
    for player in ("alice", "bob"):
        history = await (await mm.get("/v1/players/me/matches", headers=auth(player))).json()
        assert [m["match_id"] for m in history["items"]] == [match_id] and history["next"] is None
        stored = history["items"][0]
        assert {p["player_id"]: p["score"] for p in stored["players"]} == {
            r["player_id"]: r["score"] for r in alice.result["results"]}
        assert stored["winners"] == (["alice"] if decisive else [])
        # Alice leads, by rating when she won, and by player id on a draw's equal ratings.
        me = await (await mm.get("/v1/leaderboards/duel/me", headers=auth(player))).json()
        assert (me["total"], me["rank"]) == (2, 1 if player == "alice" else 2)
        assert [e["player"] for e in me["items"]] == ["alice", "bob"]
    metrics = await (await mm.get("/metrics")).text()
    assert "elysium_matchmaker_ratings_applied_total 1.0" in metrics
    assert "elysium_matchmaker_matches_total 1.0" in metrics
    # One match formed, its longest-waiting ticket's wait observed under its mode.
    assert 'elysium_matchmaker_match_wait_seconds_count{mode="duel"} 1.0' in metrics
