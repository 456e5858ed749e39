"""End to end: a hosted custom game starts on a real game server, and its members, told by the
ticket's event stream (the host) or by reading the ticket (the guest), join with their tokens."""

from __future__ import annotations

from typing import Any

from gameserver.client import GameClient
from matchmaker.modes import ModeConfig
from tests.gameserver.conftest import SERVER_ID, cleanup_servers, server_factory  # noqa: F401
from tests.matchmaker.conftest import services
from tests.matchmaker.test_matching import _next_event
from tests.waiting import until

DUEL = ModeConfig("duel", min_players=2, max_players=2, score_limit=2, time_limit_s=20.0, start_timeout_s=10.0)


async def test_a_hosted_game_starts_on_a_game_server_and_both_members_join(  # noqa: F811
        server_factory: Any, cleanup_servers: Any, mm_factory: Any, auth: Any) -> None:
    game_server = await server_factory()
    mm = await mm_factory(modes=[DUEL])
    await until(lambda: services(mm).registry.live(), what="the game server's heartbeat")
    hosted = await mm.post("/v1/games", json={"mode": "duel", "region": "local", "seats": 2,
                                              "password": "friends", "options": {"time_limit_s": 30}},
                           headers=auth("alice"))
    game = await hosted.json()
    assert hosted.status == 201, game
    code, ticket = game["code"], game["ticket"]
    stream = await mm.get(f"/v1/tickets/{ticket}/events", headers=auth("alice"))
    event, first = await _next_event(stream)
    assert event == "hosted" and first["game"] == code
    joined = await mm.post(f"/v1/games/{code}/join", json={"password": "friends"}, headers=auth("bob"))
    assert joined.status == 200, await joined.json()
    started = await mm.post(f"/v1/games/{code}/start", headers=auth("alice"))
    assert started.status == 200, await started.json()
    match_id = (await started.json())["match"]["match_id"]

    event, alice_view = await _next_event(stream)  # the push matched players already receive
    assert event == "matched"
    stream.close()
    bob_view = await (await mm.get(f"/v1/tickets/{ticket}", headers=auth("bob"))).json()
    for view in (alice_view, bob_view):
        assert view["match"]["match_id"] == match_id and view["match"]["server_id"] == SERVER_ID
        assert view["match"]["address"] == game_server.public_url
    alice, bob = GameClient(alice_view["match"]["address"]), GameClient(bob_view["match"]["address"])
    try:
        wa = await alice.join(alice_view["match"]["join_token"])
        wb = await bob.join(bob_view["match"]["join_token"])
        assert wa["t"] == "welcome" and wb["t"] == "welcome", (wa, wb)
        assert wa["match"] == wb["match"] == match_id and wa["seats"] == 2
        assert wa["player"] != wb["player"]
        assert wa["map"]["time_limit_s"] == 30.0  # the host's option reached the room
    finally:
        await alice.close()
        await bob.close()
