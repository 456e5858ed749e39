"""Custom games over HTTP against real Redis: hosting, the lobby browser, seats, passwords,
hosting handed on, kicks, locks, starting onto a game server, and the race for the last seat."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from elysium import redisreply, tokens
from elysium.modes import declare
from gameserver.modes.arena import Arena
from matchmaker import keys
from matchmaker.codes import CODE_RE
from tests.matchmaker.conftest import fake_server, services

MAP_OPTION = {"name": "map", "type": "choice", "choices": ["arena-1", "arena-2"], "default": "arena-1"}
ARENA = declare(Arena).to_json()
ARENA_WITH_MAPS = {"arena": {**ARENA, "options": [*ARENA["options"], MAP_OPTION]}}


@pytest.fixture
def join_claims(keys_dir: Path) -> Callable[[str], dict[str, Any]]:
    verifier = tokens.Verifier(tokens.load_public_key(path=str(keys_dir / "join.pub")))
    return lambda token: verifier.verify(token, tokens.JOIN_AUDIENCE)


async def server(rclient: aioredis.Redis, server_id: str = "gs-a", **kw: Any) -> None:
    await fake_server(rclient, server_id, mode_info=ARENA_WITH_MAPS, **kw)


async def host(mm: Any, auth: Any, player: str = "alice", *, expect: int = 201, **body: Any) -> dict[str, Any]:
    resp = await mm.post("/v1/games", json={"mode": "arena", "region": "local", "seats": 3, **body},
                         headers=auth(player))
    data: dict[str, Any] = await resp.json()
    assert resp.status == expect, data
    return data


async def join(mm: Any, auth: Any, code: str, player: str, *, expect: int = 200, **body: Any) -> dict[str, Any]:
    resp = await mm.post(f"/v1/games/{code}/join", json=body, headers=auth(player))
    data: dict[str, Any] = await resp.json()
    assert resp.status == expect, data
    return data


async def act(mm: Any, auth: Any, code: str, what: str, player: str, *, expect: int = 200,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = await mm.post(f"/v1/games/{code}/{what}", json=body or {}, headers=auth(player))
    data: dict[str, Any] = await resp.json()
    assert resp.status == expect, data
    return data


async def view(mm: Any, auth: Any, code: str, player: str = "alice", *, expect: int = 200) -> dict[str, Any]:
    resp = await mm.get(f"/v1/games/{code}", headers=auth(player))
    data: dict[str, Any] = await resp.json()
    assert resp.status == expect, data
    return data


async def game_keys(rclient: aioredis.Redis) -> list[str]:
    found = [*await rclient.keys(keys.PREFIX + "game:*"), *await rclient.keys(keys.PREFIX + "lobby:*"),
             *await rclient.keys(keys.PREFIX + "player:*"), *await rclient.keys(keys.PREFIX + "ticket:*")]
    return sorted(redisreply.texts(found))


async def test_a_hosted_game_has_a_code_members_a_host_and_options(mm: Any, auth: Any,
                                                                   rclient: aioredis.Redis) -> None:
    await server(rclient)
    game = await host(mm, auth, password="hunter2", map="arena-2", options={"score_limit": 7})
    assert CODE_RE.match(game["code"])
    assert game["host"] == "alice" and game["state"] == "open" and game["seats"] == 3 and game["players"] == 1
    assert game["password"] is True and "hunter2" not in json.dumps(game)
    # The queue mode's own settings (score_limit 2, time_limit_s 20) under the host's choices.
    assert game["options"] == {"score_limit": 7, "time_limit_s": 20.0, "map": "arena-2"} and game["ranked"] is False
    assert [m["id"] for m in game["members"]] == ["alice"] and game["ticket"]
    stored = redisreply.text_map(await rclient.hgetall(keys.ticket(game["ticket"])))
    assert stored["password"].startswith("$argon2id$")  # hashed, never the password
    seen = await view(mm, auth, game["code"], "bob")
    assert seen["members"] == game["members"] and "ticket" not in seen  # only members see the ticket
    assert (await mm.get(f"/v1/games/{game['code']}")).status == 401


@pytest.mark.parametrize("body, status, kind, option", [
    ({"mode": "nope"}, 422, "unknown-mode", None),
    ({"seats": 1}, 422, "invalid-seats", None),
    ({"seats": 5}, 422, "invalid-seats", None),
    ({"options": {"gravity": 2}}, 422, "invalid-option", "gravity"),
    ({"options": {"score_limit": 0}}, 422, "invalid-option", "score_limit"),
    ({"options": {"time_limit_s": "long"}}, 422, "invalid-option", "time_limit_s"),
    ({"map": "moon"}, 422, "invalid-option", "map"),
    ({"map": "arena-1", "options": {"map": "arena-2"}}, 422, "invalid-option", "map"),
    ({"seats": "3"}, 400, "invalid-request", None),
    ({"seats": True}, 400, "invalid-request", None),
    ({"public": "yes"}, 400, "invalid-request", None),
    ({"password": ""}, 400, "invalid-request", None),
    ({"password": "x" * 65}, 400, "invalid-request", None),
    ({"options": [1]}, 400, "invalid-request", None),
    ({"region": "Not A Region"}, 400, "invalid-request", None),
    ({"colour": "red"}, 400, "invalid-request", None),
    ({"ranked": "yes"}, 400, "invalid-request", None),
    ({"ranked": True, "options": {"score_limit": 7}}, 422, "invalid-option", "score_limit"),
    ({"ranked": True, "map": "arena-2"}, 422, "invalid-option", "map"),
])
async def test_bad_hosting_requests_are_refused_and_change_nothing(mm: Any, auth: Any, rclient: aioredis.Redis,
                                                                   body: dict[str, Any], status: int, kind: str,
                                                                   option: str | None) -> None:
    await server(rclient)
    before = await game_keys(rclient)
    problem = await host(mm, auth, expect=status, **body)
    assert problem["type"].endswith(kind), problem
    assert problem.get("option") == option
    assert await game_keys(rclient) == before
    await host(mm, auth)  # the player was left free to host


async def test_hosting_needs_a_server_that_declares_the_mode(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    problem = await host(mm, auth, expect=409)
    assert problem["type"].endswith("no-server")
    await fake_server(rclient, "gs-cards", modes=("cards",))
    assert (await host(mm, auth, expect=409))["type"].endswith("no-server")
    await server(rclient, "gs-eu", region="eu")
    assert (await host(mm, auth, expect=409))["type"].endswith("no-server")  # not in the region asked for
    assert await game_keys(rclient) == []


async def test_joining_checks_the_password_and_the_seats(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await server(rclient)
    code = (await host(mm, auth, password="hunter2", seats=2))["code"]
    assert (await join(mm, auth, code, "bob", expect=403))["type"].endswith("wrong-password")
    assert (await join(mm, auth, code, "bob", expect=403, password="hunter3"))["type"].endswith("wrong-password")
    assert (await join(mm, auth, code, "bob", expect=400, password=7))["type"].endswith("invalid-request")
    assert (await view(mm, auth, code))["players"] == 1  # refusals changed nothing
    joined = await join(mm, auth, code, "bob", password="hunter2")
    assert [m["id"] for m in joined["members"]] == ["alice", "bob"] and joined["ticket"]
    assert (await join(mm, auth, code, "bob"))["players"] == 2  # joining again is a no-op
    full = await join(mm, auth, code, "carol", expect=409, password="hunter2")
    assert full["type"].endswith("game-full") and full["seats"] == 2


async def test_unknown_codes_are_not_found(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await server(rclient)
    for code in ("ZZZZZZ", "abc", "0O1I00"):
        assert (await view(mm, auth, code, expect=404))["type"].endswith("game-not-found")
        for what in ("join", "leave", "lock", "unlock", "start"):
            assert (await act(mm, auth, code, what, "alice", expect=404))["type"].endswith("game-not-found")
        assert (await act(mm, auth, code, "kick", "alice", expect=404,
                          body={"player": "bob"}))["type"].endswith("game-not-found")


async def test_a_player_sits_in_one_game_or_one_queue(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await server(rclient)
    first = (await host(mm, auth))["code"]
    busy = await host(mm, auth, expect=409)
    assert busy["type"].endswith("already-in-game") and busy["game"] == first
    second = (await host(mm, auth, "bob"))["code"]
    assert (await join(mm, auth, second, "alice", expect=409))["game"] == first
    # Queued players cannot sit in a game, and seated players cannot queue.
    queued = await mm.post("/v1/tickets", json={"mode": "arena", "regions": {"local": 5}}, headers=auth("carol"))
    assert queued.status == 201
    assert (await join(mm, auth, second, "carol", expect=409))["type"].endswith("player-already-queued")
    assert (await host(mm, auth, "carol", expect=409))["type"].endswith("player-already-queued")
    refused = await mm.post("/v1/tickets", json={"mode": "arena", "regions": {"local": 5}}, headers=auth("alice"))
    assert refused.status == 409 and (await refused.json())["type"].endswith("already-in-game")
    # The game's ticket is left by leaving the game, not by cancelling the ticket.
    ticket = (await view(mm, auth, first))["ticket"]
    cancel = await mm.delete(f"/v1/tickets/{ticket}", headers=auth("alice"))
    assert cancel.status == 409 and (await cancel.json())["type"].endswith("custom-game-ticket")
    mine = await (await mm.get(f"/v1/tickets/{ticket}", headers=auth("alice"))).json()
    assert mine["status"] == "hosted" and mine["game"] == first and "match" not in mine


async def test_hosting_passes_to_the_longest_seated_and_empty_games_end(mm: Any, auth: Any,
                                                                         rclient: aioredis.Redis) -> None:
    await server(rclient)
    code = (await host(mm, auth, seats=4))["code"]
    for player in ("bob", "carol", "dave"):
        await join(mm, auth, code, player)
    assert (await act(mm, auth, code, "leave", "erin", expect=403))["type"].endswith("not-game-member")
    left = await act(mm, auth, code, "leave", "alice")
    assert left == {"left": "alice", "host": "bob", "ended": False}
    assert (await view(mm, auth, code))["host"] == "bob"
    await act(mm, auth, code, "leave", "carol")
    assert (await act(mm, auth, code, "leave", "bob"))["host"] == "dave"
    await host(mm, auth)  # alice is free again
    ticket = (await view(mm, auth, code, "dave"))["ticket"]
    assert await act(mm, auth, code, "leave", "dave") == {"left": "dave", "host": None, "ended": True}
    await view(mm, auth, code, expect=404)
    assert not await rclient.exists(keys.game(code), keys.player("dave"))
    gone = await (await mm.get(f"/v1/tickets/{ticket}", headers=auth("dave"))).json()
    assert gone["status"] == "cancelled" and gone["reason"] == "game_empty"


async def test_only_the_host_kicks_locks_and_starts(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await server(rclient)
    code = (await host(mm, auth, seats=4))["code"]
    await join(mm, auth, code, "bob")
    await join(mm, auth, code, "carol")
    for what, body in (("kick", {"player": "carol"}), ("lock", None), ("unlock", None), ("start", None)):
        assert (await act(mm, auth, code, what, "bob", expect=403, body=body))["type"].endswith("not-game-host")
    assert (await act(mm, auth, code, "kick", "alice", expect=409, body={"player": "alice"}))["type"].endswith(
        "cannot-kick-host")
    assert (await act(mm, auth, code, "kick", "alice", expect=400, body={"who": "bob"}))["type"].endswith(
        "invalid-request")
    assert (await act(mm, auth, code, "kick", "alice", expect=404, body={"player": "zed"}))["type"].endswith(
        "member-not-found")
    ticket = (await view(mm, auth, code))["ticket"]
    assert (await act(mm, auth, code, "kick", "alice", body={"player": "carol"}))["left"] == "carol"
    assert [m["id"] for m in (await view(mm, auth, code))["members"]] == ["alice", "bob"]
    assert (await mm.get(f"/v1/tickets/{ticket}", headers=auth("carol"))).status == 403
    await host(mm, auth, "carol")  # the kicked player is free
    # Locked: nobody new sits down; unlocked: they do.
    assert (await act(mm, auth, code, "lock", "alice"))["state"] == "locked"
    assert (await join(mm, auth, code, "dave", expect=409))["type"].endswith("game-locked")
    assert (await act(mm, auth, code, "unlock", "alice"))["state"] == "open"
    await join(mm, auth, code, "dave")


async def test_the_lobby_lists_public_games_with_free_seats_page_by_page(mm: Any, auth: Any,
                                                                          rclient: aioredis.Redis) -> None:
    await server(rclient)
    await server(rclient, "gs-eu", region="eu")
    codes = [(await host(mm, auth, f"host{i}", public=True, seats=2))["code"] for i in range(5)]
    await host(mm, auth, "secret")  # private: never listed
    await host(mm, auth, "elsewhere", public=True, region="eu")
    await join(mm, auth, codes[1], "filler")  # full: not listed
    await act(mm, auth, codes[3], "lock", "host3")  # locked: not listed
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        query = f"/v1/games?mode=arena&region=local&limit=1{'&cursor=' + cursor if cursor else ''}"
        resp = await mm.get(query, headers=auth("browser"))
        page = await resp.json()
        assert resp.status == 200, page
        seen += [g["code"] for g in page["items"]]
        pages += 1
        if page["next"] is None:
            break
        cursor = page["next"]
    assert seen == [codes[0], codes[2], codes[4]] and pages >= 3  # oldest first
    first = (await (await mm.get("/v1/games?mode=arena&region=local", headers=auth("b"))).json())["items"][0]
    assert first["players"] == 1 and first["seats"] == 2 and first["host"] == "host0" and "members" not in first
    await act(mm, auth, codes[3], "unlock", "host3")
    await act(mm, auth, codes[1], "leave", "filler")
    listed = await (await mm.get("/v1/games?mode=arena&region=local", headers=auth("b"))).json()
    assert [g["code"] for g in listed["items"]] == codes
    # A game that expired leaves its lobby entry behind until a listing passes it.
    await rclient.delete(keys.game(codes[0]))
    listed = await (await mm.get("/v1/games?mode=arena&region=local", headers=auth("b"))).json()
    assert [g["code"] for g in listed["items"]] == codes[1:]
    assert await rclient.zcard(keys.lobby("arena", "local")) == 4


@pytest.mark.parametrize("query, kind", [
    ("region=local", "invalid-request"), ("mode=arena", "invalid-request"), ("mode=nope&region=local", "unknown-mode"),
    ("mode=arena&region=local&limit=0", "invalid-request"), ("mode=arena&region=local&limit=x", "invalid-request"),
    ("mode=arena&region=local&cursor=abc", "invalid-request"), ("mode=arena&region=local&cursor=", "invalid-request"), ("mode=arena&region=local&page=2", "invalid-request"),
])
async def test_bad_lobby_queries_are_refused(mm: Any, auth: Any, query: str, kind: str) -> None:
    resp = await mm.get(f"/v1/games?{query}", headers=auth("b"))
    assert resp.status in (400, 422) and (await resp.json())["type"].endswith(kind)


async def test_an_idle_game_expires_as_one(mm_factory: Any, auth: Any, rclient: aioredis.Redis) -> None:
    mm = await mm_factory(game_idle_s=60.0)
    await server(rclient)
    code = (await host(mm, auth, public=True))["code"]
    await join(mm, auth, code, "bob")
    ticket = (await view(mm, auth, code))["ticket"]
    names = [keys.ticket(ticket), keys.game(code), keys.player("alice"), keys.player("bob")]
    deadlines = [await rclient.pexpiretime(name) for name in names]
    assert len(set(deadlines)) == 1 and deadlines[0] > 0, deadlines  # they expire together
    stored = redisreply.text_map(await rclient.hgetall(keys.ticket(ticket)))
    assert int(stored["expires_ms"]) == deadlines[0]
    assert 0 < await rclient.pttl(keys.game(code)) <= 60_000
    assert 0 < await rclient.pttl(keys.lobby("arena", "local")) <= 60_000
    # The next change moves the whole game's deadline on.
    await rclient.pexpireat(keys.game(code), deadlines[0] - 30_000)
    await act(mm, auth, code, "lock", "alice")
    after = [await rclient.pexpiretime(name) for name in names]
    assert len(set(after)) == 1 and after[0] >= deadlines[0]


async def test_a_ranked_game_plays_under_a_rated_match_id(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await server(rclient, seats_free=10)
    game = await host(mm, auth, seats=2, ranked=True)
    assert game["ranked"] is True and game["options"] == {"score_limit": 2, "time_limit_s": 20.0, "map": "arena-1"}
    await join(mm, auth, game["code"], "bob")
    started = await act(mm, auth, game["code"], "start", "alice")
    # The queue mode's prefix: the results consumer rates it as it rates a queued match.
    assert started["match"]["match_id"].startswith(f"arena.custom-{game['code']}.")


async def test_start_hands_every_member_a_join_token_and_a_second_start_answers_the_same_room(
        mm: Any, auth: Any, rclient: aioredis.Redis, join_claims: Callable[[str], dict[str, Any]]) -> None:
    await server(rclient, seats_free=10)
    game = await host(mm, auth, public=True, seats=3, options={"score_limit": 9})
    code = game["code"]
    assert (await act(mm, auth, code, "start", "alice", expect=409))["type"].endswith("not-enough-players")
    await join(mm, auth, code, "bob")
    started = await act(mm, auth, code, "start", "alice")
    assert started["state"] == "started" and started["match"]["server_id"] == "gs-a"
    assert started["match"]["match_id"].startswith(f"custom-{code}.{started['mode']}.")
    again = await act(mm, auth, code, "start", "alice")
    assert again["match"] == started["match"]
    for player in ("alice", "bob"):
        ticket = await (await mm.get(f"/v1/tickets/{game['ticket']}", headers=auth(player))).json()
        assert ticket["status"] == "matched" and ticket["match"]["match_id"] == started["match"]["match_id"]
        claims = join_claims(ticket["match"]["join_token"])
        assert claims["sub"] == player and claims["srv"] == "gs-a"
        room = claims["room"]
        assert room["roster"] == [["alice", 0], ["bob", 0]] and room["seats"] == 2
        assert room["options"] == {"score_limit": 9, "time_limit_s": 20.0, "map": "arena-1"}
    # Started: nobody joins, leaves or locks; the members are free to queue again.
    assert (await join(mm, auth, code, "carol", expect=409))["type"].endswith("game-started")
    assert (await act(mm, auth, code, "leave", "bob", expect=409))["type"].endswith("game-started")
    assert (await act(mm, auth, code, "lock", "alice", expect=409))["type"].endswith("game-started")
    assert not await rclient.exists(keys.player("alice"), keys.player("bob"))
    assert await rclient.zcard(keys.lobby("arena", "local")) == 0
    claims_on_server = redisreply.texts(await rclient.zrange(keys.seats("gs-a"), 0, -1))
    assert claims_on_server == [started["match"]["match_id"]]  # seats claimed once


async def test_a_team_game_deals_members_round_the_teams(mm: Any, auth: Any, rclient: aioredis.Redis,
                                                         join_claims: Callable[[str], dict[str, Any]]) -> None:
    await server(rclient)
    game = await host(mm, auth, mode="squads", seats=6)
    for player in ("bob", "carol"):
        await join(mm, auth, game["code"], player)
    await act(mm, auth, game["code"], "start", "alice")
    ticket = await (await mm.get(f"/v1/tickets/{game['ticket']}", headers=auth("carol"))).json()
    room = join_claims(ticket["match"]["join_token"])["room"]
    assert room["roster"] == [["alice", 0], ["bob", 1], ["carol", 0]] and room["teams"] == 2


async def test_a_start_without_a_server_leaves_the_game_open(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await server(rclient, seats_free=2)
    code = (await host(mm, auth, seats=3))["code"]
    await join(mm, auth, code, "bob")
    await join(mm, auth, code, "carol")
    problem = await act(mm, auth, code, "start", "alice", expect=409)
    assert problem["type"].endswith("no-server")
    assert (await view(mm, auth, code))["state"] == "open"
    await act(mm, auth, code, "leave", "carol")
    assert (await act(mm, auth, code, "start", "alice"))["state"] == "started"


async def test_twenty_joins_race_for_the_last_seat_across_two_replicas(mm_factory: Any, auth: Any,
                                                                       rclient: aioredis.Redis) -> None:
    one, two = await mm_factory(), await mm_factory()
    await server(rclient)
    code = (await host(one, auth, seats=4))["code"]
    await join(two, auth, code, "bob")
    await join(one, auth, code, "carol")
    racers = [f"racer{i}" for i in range(20)]
    headers = {p: auth(p) for p in racers}

    async def race(i: int, player: str) -> int:
        replica = one if i % 2 else two
        resp = await replica.post(f"/v1/games/{code}/join", json={}, headers=headers[player])
        body = await resp.json()
        assert resp.status == 200 or body["type"].endswith("game-full"), body
        return int(resp.status)

    statuses = await asyncio.gather(*(race(i, p) for i, p in enumerate(racers)))
    assert sorted(statuses) == [200] + [409] * 19
    members = [m["id"] for m in (await view(one, auth, code))["members"]]
    assert len(members) == 4 and members[:3] == ["alice", "bob", "carol"]
    winner = members[3]
    seated = [p for p in racers if await rclient.get(keys.player(p))]
    assert seated == [winner]  # the losers hold nothing


async def test_only_one_of_two_racing_starts_places_the_room(mm_factory: Any, auth: Any,
                                                             rclient: aioredis.Redis) -> None:
    one, two = await mm_factory(), await mm_factory()
    await server(rclient)
    code = (await host(one, auth, seats=2))["code"]
    await join(two, auth, code, "bob")
    first, second = await asyncio.gather(one.post(f"/v1/games/{code}/start", headers=auth("alice")),
                                         two.post(f"/v1/games/{code}/start", headers=auth("alice")))
    a, b = await first.json(), await second.json()
    assert first.status == second.status == 200, (a, b)
    assert a["match"] == b["match"]
    assert await rclient.zcard(keys.seats("gs-a")) == 1
    assert services(one).games is not services(two).games


async def test_a_start_left_forming_by_a_dead_replica_is_taken_over_after_its_deadline(
        mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    await server(rclient)
    game = await host(mm, auth, seats=2)
    await join(mm, auth, game["code"], "bob")
    ticket = keys.ticket(game["ticket"])
    await rclient.hset(ticket, mapping={"status": "forming", "match_id": "custom-dead.1",
                                        "forming_until": str(2**50)})
    assert (await join(mm, auth, game["code"], "carol", expect=409))["type"].endswith("game-starting")
    await rclient.hset(ticket, "forming_until", "1")  # the dead replica's deadline has passed
    started = await act(mm, auth, game["code"], "start", "alice")
    assert started["state"] == "started" and started["match"]["match_id"] != "custom-dead.1"
