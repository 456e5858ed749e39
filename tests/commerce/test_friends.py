"""Friends and blocks through the real app: moves, lists with presence, the Redis mirror,
every refusal (each changing nothing), the caps and their races."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from commerce import friendship
from commerce.appkeys import FRIENDS, REDIS
from commerce.settings import CommerceSettings
from elysium import keys, presence, social
from tests.commerce.conftest import make_settings, register

Client = TestClient[web.Request, web.Application]


async def _request(client: Client, me: dict[str, Any], other: str) -> Any:
    return await client.post("/v1/me/friends/requests", json={"player_id": other}, headers=me["headers"])


async def _lists(client: Client, me: dict[str, Any]) -> dict[str, Any]:
    """Everything a player can see of their own graph."""
    out: dict[str, Any] = {}
    for name, path in (("friends", "/v1/me/friends"), ("requests", "/v1/me/friends/requests"),
                       ("blocks", "/v1/me/blocks")):
        resp = await client.get(path, headers=me["headers"])
        assert resp.status == 200, await resp.text()
        out[name] = await resp.json()
    return out


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


async def _problem(resp: Any, status: int, code: str) -> None:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["code"] == code


async def test_request_accept_and_list_with_presence(client: Client) -> None:
    a, b = await register(client), await register(client)
    resp = await _request(client, a, b["account_id"])
    assert resp.status == 201
    assert (await resp.json())["state"] == "requested"
    seen_a, seen_b = await _lists(client, a), await _lists(client, b)
    assert _ids(seen_a["requests"]["outgoing"]) == [b["account_id"]] and seen_a["requests"]["incoming"] == []
    assert _ids(seen_b["requests"]["incoming"]) == [a["account_id"]]
    assert seen_b["requests"]["incoming"][0]["display_name"] == a["username"]

    resp = await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=b["headers"])
    assert resp.status == 204
    seen_a, seen_b = await _lists(client, a), await _lists(client, b)
    assert _ids(seen_a["friends"]["friends"]) == [b["account_id"]]
    assert _ids(seen_b["friends"]["friends"]) == [a["account_id"]]
    assert seen_a["requests"] == {"incoming": [], "outgoing": []} == seen_b["requests"]
    friend = seen_a["friends"]["friends"][0]
    assert friend["presence"]["state"] == "online"  # b registered: signed in for one token lifetime
    assert friend["since"] is not None

    redis = client.app[REDIS]
    assert await social.are_friends(redis, a["account_id"], b["account_id"])
    assert await social.friends_of(redis, b["account_id"]) == {a["account_id"]}

    await presence.set_state(redis, [b["account_id"]], presence.State.IN_MATCH, 60, match_id="m-1")
    friend = (await _lists(client, a))["friends"]["friends"][0]
    assert friend["presence"]["state"] == "in_match" and friend["presence"]["watch"] == "/v1/watch/m-1"


async def test_watch_links_are_absolute_with_the_relays_url(client_for: Any, mongo_url: str, mongo_db_name: str,
                                                           redis_url: str, keys_dir: Path) -> None:
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir,
                                            spectator_url="wss://watch.example/"))
    a, b = await register(client), await register(client)
    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=b["headers"])).status \
        == 204
    await presence.set_state(client.app[REDIS], [b["account_id"]], presence.State.WATCHING, 60, match_id="m-2")
    friend = (await _lists(client, a))["friends"]["friends"][0]
    assert friend["presence"]["watch"] == "wss://watch.example/v1/watch/m-2"


async def test_decline_cancel_and_remove(client: Client) -> None:
    a, b = await register(client), await register(client)
    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await client.post(f"/v1/me/friends/requests/{a['account_id']}/decline", json={},
                              headers=b["headers"])).status == 204
    assert (await _lists(client, a))["requests"]["outgoing"] == []
    assert (await _request(client, a, b["account_id"])).status == 201  # asking again after a decline is allowed
    assert (await client.delete(f"/v1/me/friends/requests/{b['account_id']}", headers=a["headers"])).status == 204
    assert (await _lists(client, b))["requests"]["incoming"] == []

    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=b["headers"])).status \
        == 204
    assert (await client.delete(f"/v1/me/friends/{a['account_id']}", headers=b["headers"])).status == 204
    assert (await _lists(client, a))["friends"]["friends"] == []
    assert not await social.are_friends(client.app[REDIS], a["account_id"], b["account_id"])


async def test_the_requests_path_is_not_a_friend_to_remove(client: Client) -> None:
    a = await register(client)
    for method in ("DELETE", "OPTIONS"):
        resp = await client.request(method, "/v1/me/friends/requests", headers=a["headers"])
        assert resp.status == 405 and set(resp.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}, method


async def test_asking_someone_who_asked_you_makes_friends(client: Client) -> None:
    a, b = await register(client), await register(client)
    assert (await _request(client, a, b["account_id"])).status == 201
    resp = await _request(client, b, a["account_id"])
    assert resp.status == 200 and (await resp.json())["state"] == "friends"
    assert _ids((await _lists(client, a))["friends"]["friends"]) == [b["account_id"]]


async def test_a_block_ends_everything_and_stops_requests(client: Client) -> None:
    a, b, c = await register(client), await register(client), await register(client)
    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=b["headers"])).status \
        == 204
    assert (await _request(client, c, b["account_id"])).status == 201
    resp = await client.post("/v1/me/blocks", json={"player_id": a["account_id"]}, headers=b["headers"])
    assert resp.status == 201 and (await resp.json())["blocked"] is True
    resp = await client.post("/v1/me/blocks", json={"player_id": c["account_id"]}, headers=b["headers"])
    assert resp.status == 201
    seen_b = await _lists(client, b)
    assert seen_b["friends"]["friends"] == [] and seen_b["requests"] == {"incoming": [], "outgoing": []}
    assert sorted(_ids(seen_b["blocks"]["blocks"])) == sorted([a["account_id"], c["account_id"]])
    assert (await _lists(client, c))["requests"]["outgoing"] == []
    redis = client.app[REDIS]
    assert await social.blocked_between(redis, a["account_id"], b["account_id"])
    assert not await social.are_friends(redis, a["account_id"], b["account_id"])

    before = await _lists(client, a), await _lists(client, b)
    await _problem(await _request(client, a, b["account_id"]), 403, "blocked-by-player")
    await _problem(await _request(client, b, a["account_id"]), 409, "player-blocked")
    await _problem(await client.post("/v1/me/blocks", json={"player_id": a["account_id"]}, headers=b["headers"]),
                   409, "already-blocked")
    assert (await _lists(client, a), await _lists(client, b)) == before

    assert (await client.delete(f"/v1/me/blocks/{a['account_id']}", headers=b["headers"])).status == 204
    assert not await social.blocked_between(redis, a["account_id"], b["account_id"])
    assert (await _request(client, a, b["account_id"])).status == 201


async def test_bad_moves_are_refused_and_change_nothing(client: Client) -> None:
    a, b, c = await register(client), await register(client), await register(client)
    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await _request(client, c, a["account_id"])).status == 201
    before = await _lists(client, a), await _lists(client, b), await _lists(client, c)
    h = a["headers"]
    await _problem(await _request(client, a, a["account_id"]), 422, "friend-self")
    await _problem(await client.post("/v1/me/blocks", json={"player_id": a["account_id"]}, headers=h),
                   422, "friend-self")
    await _problem(await _request(client, a, "0" * 32), 404, "player-not-found")
    await _problem(await _request(client, a, "house"), 404, "player-not-found")  # a system account
    await _problem(await client.delete("/v1/me/blocks/not%20an%20id", headers=h), 404, "player-not-found")
    await _problem(await _request(client, a, b["account_id"]), 409, "friend-request-exists")
    await _problem(await client.post(f"/v1/me/friends/requests/{b['account_id']}/accept", headers=h),
                   404, "unknown-friend-request")  # a's own request cannot be accepted by a
    await _problem(await client.post(f"/v1/me/friends/requests/{c['account_id']}/decline", json={"x": 1},
                                     headers=h), 400, "invalid-request")
    await _problem(await client.delete(f"/v1/me/friends/requests/{c['account_id']}", headers=h),
                   404, "unknown-friend-request")  # c's request is c's to cancel
    await _problem(await client.delete(f"/v1/me/friends/{b['account_id']}", headers=h), 404, "not-friends")
    await _problem(await client.delete(f"/v1/me/blocks/{b['account_id']}", headers=h), 404, "not-blocked")
    await _problem(await client.post("/v1/me/friends/requests", json={"player_id": 7}, headers=h),
                   400, "invalid-request")
    await _problem(await client.post("/v1/me/friends/requests", json={"player_id": b["account_id"], "x": 1},
                                     headers=h), 400, "invalid-request")
    await _problem(await client.get("/v1/me/friends?page=2", headers=h), 400, "invalid-request")
    await _problem(await client.get("/v1/me/friends"), 401, "unauthorized")
    await _problem(await client.post("/v1/me/friends/requests", json={"player_id": b["account_id"]}), 401,
                   "unauthorized")
    assert (await _lists(client, a), await _lists(client, b), await _lists(client, c)) == before


async def test_already_friends_is_refused(client: Client) -> None:
    a, b = await register(client), await register(client)
    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=b["headers"])).status \
        == 204
    await _problem(await _request(client, b, a["account_id"]), 409, "already-friends")


@pytest.fixture
def capped(mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> CommerceSettings:
    return make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, max_friends=1, max_friend_requests=2,
                         max_blocks=1)


async def test_the_caps_hold_and_refusals_change_nothing(client_for: Any, capped: CommerceSettings) -> None:
    client = await client_for(capped)
    a, b, c, d = [await register(client) for _ in range(4)]
    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await _request(client, a, c["account_id"])).status == 201
    await _problem(await _request(client, a, d["account_id"]), 409, "friend-request-limit")
    # d's incoming side is full once two others asked d
    assert (await _request(client, b, d["account_id"])).status == 201
    assert (await _request(client, c, d["account_id"])).status == 201
    await _problem(await _request(client, a, d["account_id"]), 409, "friend-request-limit")

    assert (await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=b["headers"])).status \
        == 204
    before = await _lists(client, a), await _lists(client, c)
    await _problem(await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=c["headers"]),
                   409, "friend-limit")  # a has one friend already
    assert (await _lists(client, a), await _lists(client, c)) == before

    assert (await client.post("/v1/me/blocks", json={"player_id": d["account_id"]}, headers=a["headers"])).status \
        == 201
    await _problem(await client.post("/v1/me/blocks", json={"player_id": c["account_id"]}, headers=a["headers"]),
                   409, "block-limit")
    assert (await _lists(client, a))["blocks"]["blocks"] == [{"id": d["account_id"], "display_name": d["username"],
                                                             "avatar_url": None}]


async def test_racing_requests_never_pass_the_cap(client_for: Any, capped: CommerceSettings) -> None:
    client = await client_for(capped)
    me = await register(client)
    others = [await register(client) for _ in range(8)]
    answers = await asyncio.gather(*[_request(client, me, o["account_id"]) for o in others])
    statuses = sorted(r.status for r in answers)
    assert statuses.count(201) == 2 and statuses.count(409) == 6, statuses
    assert len((await _lists(client, me))["requests"]["outgoing"]) == 2


async def test_asking_each_other_at_once_makes_one_friendship(client: Client) -> None:
    a, b = await register(client), await register(client)
    one, other = await asyncio.gather(_request(client, a, b["account_id"]), _request(client, b, a["account_id"]))
    assert sorted([one.status, other.status]) == [200, 201]  # never two pending requests
    assert _ids((await _lists(client, a))["friends"]["friends"]) == [b["account_id"]]
    assert (await _lists(client, b))["requests"] == {"incoming": [], "outgoing": []}


async def test_a_missing_mirror_is_rebuilt_from_mongodb(client: Client) -> None:
    a, b, c = await register(client), await register(client), await register(client)
    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=b["headers"])).status \
        == 204
    assert (await client.post("/v1/me/blocks", json={"player_id": c["account_id"]}, headers=a["headers"])).status \
        == 201
    redis = client.app[REDIS]
    await redis.flushall()  # Redis lost everything
    assert not await social.is_mirrored(redis, a["account_id"])
    assert (await client.get("/v1/me/friends", headers=a["headers"])).status == 200
    assert await social.friends_of(redis, a["account_id"]) == {b["account_id"]}
    assert await social.blocked_by(redis, a["account_id"]) == {c["account_id"]}
    # b's mirror comes back at b's next refresh
    resp = await client.post("/v1/sessions/refresh", json={"refresh_token": b["refresh_token"]})
    assert resp.status == 200
    assert await social.friends_of(redis, b["account_id"]) == {a["account_id"]}


async def test_online_follows_login_refresh_and_logout(client: Client, settings: CommerceSettings) -> None:
    a = await register(client)
    redis = client.app[REDIS]
    assert (await presence.read(redis, a["account_id"])).state == presence.State.ONLINE
    ttl = await redis.ttl(keys.presence(a["account_id"], "online"))
    assert 0 < ttl <= settings.access_token_ttl_s
    resp = await client.post("/v1/sessions/logout", json={"refresh_token": a["refresh_token"]})
    assert resp.status == 204
    assert await presence.read(redis, a["account_id"]) == presence.OFFLINE
    resp = await client.post("/v1/sessions", json={"username": a["username"], "password": "correct horse battery"})
    assert resp.status == 200
    assert (await presence.read(redis, a["account_id"])).state == presence.State.ONLINE
    await redis.delete(keys.presence(a["account_id"], "online"))
    resp = await client.post("/v1/sessions/refresh", json={"refresh_token": (await resp.json())["refresh_token"]})
    assert resp.status == 200
    assert (await presence.read(redis, a["account_id"])).state == presence.State.ONLINE


async def test_a_mirror_write_that_never_happened_is_repaired(client: Client) -> None:
    a, b = await register(client), await register(client)
    assert (await _request(client, a, b["account_id"])).status == 201
    assert (await client.post(f"/v1/me/friends/requests/{a['account_id']}/accept", headers=b["headers"])).status \
        == 204
    friends = client.app[FRIENDS]
    assert await friends.outbox.count_documents({}) == 0  # each request mirrored its move and cleared its record
    assert (await client.post("/v1/me/blocks", json={"player_id": a["account_id"]}, headers=b["headers"])).status \
        == 201
    # As a process killed between the commit and the Redis write leaves it: the block in
    # MongoDB with its outbox record, the mirror still showing the friendship.
    redis = client.app[REDIS]
    await social.write_pair(redis, a["account_id"], b["account_id"], friends=True, a_blocks_b=False,
                            b_blocks_a=False)
    pair = friendship.pair_id(a["account_id"], b["account_id"])
    await friends.outbox.insert_one({"_id": pair, "at": datetime.now(UTC) - timedelta(seconds=10)})
    assert await friends.repair(older_than_s=60) == 0  # a record younger than that may still be its request's
    assert await friends.repair() == 1
    assert await social.blocked_between(redis, a["account_id"], b["account_id"])
    assert not await social.are_friends(redis, a["account_id"], b["account_id"])
    assert await friends.outbox.count_documents({}) == 0
