"""Moderation through the real commerce app: bans end sessions and refuse tokens, mutes are
state for chat, every action is in the log, and every bad request is refused changing nothing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from commerce.settings import CommerceSettings
from elysium import keys, moderation, redisreply, tokens
from tests.commerce.conftest import admin_headers, register
from tests.waiting import until

Client = TestClient[web.Request, web.Application]


def key() -> str:
    return uuid.uuid4().hex


async def act(client: Client, token: str, account: str, action: str, body: dict[str, Any] | None = None,
              idem: str | None = None) -> ClientResponse:
    return await client.post(f"/v1/admin/accounts/{account}/{action}", json=body if body is not None else {},
                             headers=admin_headers(token, idem or key()))


async def log_of(client: Client, token: str, query: str = "") -> dict[str, Any]:
    resp = await client.get(f"/v1/admin/moderation/log{query}", headers=admin_headers(token))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def login(client: Client, username: str, password: str = "correct horse battery") -> ClientResponse:
    return await client.post("/v1/sessions", json={"username": username, "password": password})


@pytest.fixture
async def redis(redis_url: str) -> Any:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_ban_ends_sessions_refuses_tokens_and_login_and_an_unban_restores_login(
        client: Client, admin_token: str, redis: aioredis.Redis) -> None:
    alice = await register(client)
    resp = await act(client, admin_token, alice["account_id"], "ban", {"reason": "cheating in ranked"})
    assert resp.status == 201, await resp.text()
    entry = await resp.json()
    assert entry["action"] == "ban" and entry["until"] is None and entry["by"] == "ops"
    assert entry["account_id"] == alice["account_id"] and entry["reason"] == "cheating in ranked"

    me = await client.get("/v1/me", headers=alice["headers"])  # the access token, at once
    assert me.status == 403 and (await me.json())["code"] == "account-banned"
    refreshed = await client.post("/v1/sessions/refresh", json={"refresh_token": alice["refresh_token"]})
    assert refreshed.status == 403 and (await refreshed.json())["code"] == "account-banned"
    refused = await login(client, alice["username"])
    problem = await refused.json()
    assert refused.status == 403 and problem["code"] == "account-banned" and problem["until"] is None
    assert refused.content_type == "application/problem+json"
    assert await moderation.is_banned(redis, alice["account_id"])

    lifted = await act(client, admin_token, alice["account_id"], "unban", {"reason": "appeal upheld"})
    assert lifted.status == 201, await lifted.text()
    assert not await moderation.is_banned(redis, alice["account_id"])
    again = await login(client, alice["username"])
    assert again.status == 200, await again.text()
    fresh = (await again.json())["access_token"]
    assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {fresh}"})).status == 200
    old = await client.post("/v1/sessions/refresh", json={"refresh_token": alice["refresh_token"]})
    assert old.status == 401 and (await old.json())["code"] == "invalid-refresh-token"  # the old sessions stay ended


async def test_a_wrong_password_to_a_banned_account_is_not_told_of_the_ban(client: Client, admin_token: str) -> None:
    bob = await register(client)
    assert (await act(client, admin_token, bob["account_id"], "ban", {"reason": "spam"})).status == 201
    wrong = await login(client, bob["username"], "not the password at all")
    assert wrong.status == 401 and (await wrong.json())["code"] == "invalid-credentials"


async def test_a_timed_ban_ends_by_itself(client: Client, admin_token: str, redis: aioredis.Redis) -> None:
    carol = await register(client)
    resp = await act(client, admin_token, carol["account_id"], "ban", {"reason": "cool off", "duration_s": 1})
    entry = await resp.json()
    assert resp.status == 201 and entry["duration_s"] == 1 and entry["until"] is not None
    assert (await login(client, carol["username"])).status == 403

    async def logs_in() -> bool:
        return (await login(client, carol["username"])).status == 200

    await until(logs_in, timeout_s=10, interval_s=0.2, what="login after the ban ended")
    assert not await moderation.is_banned(redis, carol["account_id"])


async def test_a_mute_is_state_for_chat_and_does_not_stop_login(client: Client, admin_token: str,
                                                                 redis: aioredis.Redis) -> None:
    dave = await register(client)
    resp = await act(client, admin_token, dave["account_id"], "mute", {"reason": "slurs", "duration_s": 3600})
    assert resp.status == 201, await resp.text()
    assert await moderation.is_muted(redis, dave["account_id"])
    assert not await moderation.is_banned(redis, dave["account_id"])
    assert (await login(client, dave["username"])).status == 200
    state = await (await client.get(f"/v1/admin/accounts/{dave['account_id']}/moderation",
                                    headers=admin_headers(admin_token))).json()
    assert state["ban"] is None and state["mute"]["reason"] == "slurs" and state["mute"]["until"]
    assert (await act(client, admin_token, dave["account_id"], "unmute")).status == 201
    assert not await moderation.is_muted(redis, dave["account_id"])


async def test_each_action_is_one_event_on_the_stream(client: Client, admin_token: str,
                                                      redis: aioredis.Redis) -> None:
    erin = await register(client)
    entry = await (await act(client, admin_token, erin["account_id"], "ban", {"reason": "r"})).json()
    events = [moderation.ModerationEvent.parse(f)
              for _, f in redisreply.stream_entries(await redis.xrange(keys.MODERATION_EVENTS))]
    assert [(e.action, e.player, e.action_id) for e in events] == [("ban", erin["account_id"], entry["id"])]


# --- idempotency ---------------------------------------------------------------------------------

async def test_a_retry_with_the_same_key_answers_the_first_outcome(client: Client, admin_token: str) -> None:
    frank = await register(client)
    idem = key()
    first = await act(client, admin_token, frank["account_id"], "ban", {"reason": "x", "duration_s": 600}, idem)
    second = await act(client, admin_token, frank["account_id"], "ban", {"reason": "x", "duration_s": 600}, idem)
    assert first.status == 201 and second.status == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await first.json() == await second.json()
    other = await act(client, admin_token, frank["account_id"], "ban", {"reason": "y"}, idem)
    assert other.status == 422 and (await other.json())["code"] == "idempotency-key-reused"
    assert len((await log_of(client, admin_token))["entries"]) == 1


async def test_concurrent_first_uses_of_one_key_make_one_entry(client: Client, admin_token: str) -> None:
    gail = await register(client)
    idem = key()
    answers = await asyncio.gather(*(act(client, admin_token, gail["account_id"], "ban", {"reason": "x"}, idem)
                                     for _ in range(6)))
    assert sorted(a.status for a in answers) == [200] * 5 + [201]
    assert len((await log_of(client, admin_token))["entries"]) == 1


async def test_racing_bans_and_unbans_leave_redis_saying_what_mongodb_says(
        client: Client, admin_token: str, redis: aioredis.Redis) -> None:
    hank = await register(client)
    account = hank["account_id"]
    assert (await act(client, admin_token, account, "ban", {"reason": "start"})).status == 201
    for _ in range(3):
        await asyncio.gather(*(act(client, admin_token, account, "ban" if n % 2 else "unban", {"reason": f"r{n}"})
                               for n in range(8)))
        state = await (await client.get(f"/v1/admin/accounts/{account}/moderation",
                                        headers=admin_headers(admin_token))).json()
        assert await moderation.is_banned(redis, account) == (state["ban"] is not None)


async def test_a_change_landing_while_redis_is_written_is_written_after_it(
        client: Client, admin_token: str, redis: aioredis.Redis, settings: CommerceSettings) -> None:
    """The mirror reads MongoDB, writes Redis, and reads again: an unban committed between its read
    and its write (so its own write is stale) is written after it, and Redis ends unbanned."""
    from pymongo import MongoClient

    from commerce.appkeys import MODERATION, REDIS, STORE
    from commerce.moderation import Moderation
    from commerce.store import now

    rita = await register(client)
    account = rita["account_id"]
    assert (await act(client, admin_token, account, "ban", {"reason": "x"})).status == 201
    sync: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_url)
    calls = 0

    def clock() -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:  # the mirror has read the ban and is about to write it: an unban commits now
            sync[settings.db_name]["accounts"].update_one(
                {"_id": account}, {"$set": {"moderation.ban.active": False, "moderation.ban.action_id": "mod_late"}})
        return now()

    assert isinstance(client.server, TestServer)
    app = client.server.app
    late = Moderation(app[STORE], app[REDIS], app[MODERATION].watch, clock=clock)
    try:
        await late.mirror("ban", account)
    finally:
        sync.close()
    assert calls >= 2  # it wrote twice
    assert not await moderation.is_banned(redis, account)


# --- bad requests change nothing --------------------------------------------------------------------

@pytest.mark.parametrize(("action", "body", "field"), [
    ("ban", {"reason": "x", "duration_s": 0}, "duration_s"),
    ("ban", {"reason": "x", "duration_s": -5}, "duration_s"),
    ("ban", {"reason": "x", "duration_s": 1.5}, "duration_s"),
    ("ban", {"reason": "x", "duration_s": "60"}, "duration_s"),
    ("ban", {"reason": "x", "duration_s": True}, "duration_s"),
    ("ban", {"reason": "x", "duration_s": 10 * 365 * 86_400 + 1}, "duration_s"),
    ("ban", {}, "reason"),
    ("ban", {"reason": ""}, "reason"),
    ("ban", {"reason": "   "}, "reason"),
    ("ban", {"reason": "a\x00b"}, "reason"),
    ("ban", {"reason": "x" * 501}, "reason"),
    ("ban", {"reason": "x", "until": "tomorrow"}, "until"),
    ("mute", {"reason": "x"}, "duration_s"),
    ("mute", {"reason": "x", "duration_s": None}, "duration_s"),
])
async def test_a_bad_body_is_refused_and_changes_nothing(client: Client, admin_token: str, redis: aioredis.Redis,
                                                         action: str, body: dict[str, Any], field: str) -> None:
    ivan = await register(client)
    resp = await act(client, admin_token, ivan["account_id"], action, body)
    problem = await resp.json()
    assert resp.status == 400 and problem["code"] == "invalid-request" and field in problem["errors"], problem
    assert (await log_of(client, admin_token))["entries"] == []
    assert not await moderation.is_banned(redis, ivan["account_id"])
    assert not await moderation.is_muted(redis, ivan["account_id"])
    assert (await client.get("/v1/me", headers=ivan["headers"])).status == 200


async def test_an_unknown_account_is_404_and_logs_nothing(client: Client, admin_token: str) -> None:
    for account in (uuid.uuid4().hex, "no/such", "x" * 65):
        resp = await act(client, admin_token, account, "ban", {"reason": "x"})
        assert resp.status in (404, 405), await resp.text()
        if resp.status == 404:
            assert (await resp.json())["code"] in ("unknown-account", "not-found")
    resp = await act(client, admin_token, uuid.uuid4().hex, "ban", {"reason": "x"})
    assert (await resp.json())["code"] == "unknown-account"
    state = await client.get(f"/v1/admin/accounts/{uuid.uuid4().hex}/moderation", headers=admin_headers(admin_token))
    assert state.status == 404 and (await state.json())["code"] == "unknown-account"
    assert (await log_of(client, admin_token))["entries"] == []


async def test_lifting_what_is_not_in_force_is_409_and_logs_nothing(client: Client, admin_token: str) -> None:
    judy = await register(client)
    for action, code in (("unban", "not-banned"), ("unmute", "not-muted")):
        resp = await act(client, admin_token, judy["account_id"], action, {"reason": "oops"})
        assert resp.status == 409 and (await resp.json())["code"] == code
    assert (await log_of(client, admin_token))["entries"] == []


async def test_without_permission_nothing_happens(client: Client, admin_token: str, keys_dir: Path,
                                                  redis: aioredis.Redis) -> None:
    kim = await register(client)
    account = kim["account_id"]
    url = f"/v1/admin/accounts/{account}/ban"
    service = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-test")
    wrong_scope = service.issue("ops", tokens.SERVICE_AUDIENCE, 600, {"scope": "commerce:catalog"})
    cases = [
        ({}, 401, "unauthorized"),
        ({"Authorization": f"Bearer {wrong_scope}"}, 403, "forbidden"),
        ({"Authorization": f"Bearer {kim['access_token']}"}, 401, "invalid-token"),  # a player's token
    ]
    for headers, status, code in cases:
        resp = await client.post(url, json={"reason": "x"}, headers={**headers, "Idempotency-Key": key()})
        assert resp.status == status and (await resp.json())["code"] == code
        log = await client.get("/v1/admin/moderation/log", headers=headers)
        assert log.status == status
    missing_key = await client.post(url, json={"reason": "x"}, headers=admin_headers(admin_token))
    assert missing_key.status == 400 and (await missing_key.json())["code"] == "idempotency-key-missing"
    assert not await moderation.is_banned(redis, account)
    assert (await log_of(client, admin_token))["entries"] == []


async def test_a_moderation_scoped_token_may_moderate(client: Client, keys_dir: Path) -> None:
    lee = await register(client)
    service = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-test")
    moderator = service.issue("mod-anna", tokens.SERVICE_AUDIENCE, 600, {"scope": "commerce:moderation"})
    resp = await act(client, moderator, lee["account_id"], "mute", {"reason": "x", "duration_s": 60})
    assert resp.status == 201 and (await resp.json())["by"] == "mod-anna"
    grant = await client.post("/v1/admin/grants", headers=admin_headers(moderator, key()),
                              json={"account_id": lee["account_id"], "currency": "soft", "amount": 1, "reason": "x"})
    assert grant.status == 403  # moderation is all it may do


async def test_without_a_service_key_the_moderation_api_is_disabled(client_for: Any, settings: CommerceSettings,
                                                                    admin_token: str) -> None:
    from dataclasses import replace

    plain = await client_for(replace(settings, service_public_key_file=""))
    resp = await act(plain, admin_token, uuid.uuid4().hex, "ban", {"reason": "x"})
    assert resp.status == 403 and (await resp.json())["code"] == "admin-disabled"


# --- the log --------------------------------------------------------------------------------------

async def test_the_log_pages_newest_first_and_filters_by_account(client: Client, admin_token: str) -> None:
    mia, ned = await register(client), await register(client)
    done = []
    steps: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
        (mia, "ban", {"reason": "1"}), (ned, "mute", {"reason": "2", "duration_s": 60}),
        (mia, "unban", {"reason": "3"}), (ned, "unmute", {}), (mia, "mute", {"reason": "5", "duration_s": 60})]
    for account, action, body in steps:
        resp = await act(client, admin_token, account["account_id"], action, body)
        assert resp.status == 201, await resp.text()
        done.append((await resp.json())["id"])
    seen: list[str] = []
    query = "?limit=2"
    while True:
        page = await log_of(client, admin_token, query)
        assert len(page["entries"]) <= 2
        seen += [e["id"] for e in page["entries"]]
        if page["next"] is None:
            break
        query = f"?limit=2&before={page['next']}"
    assert seen == done[::-1]
    mine = await log_of(client, admin_token, f"?account={mia['account_id']}")
    assert [e["action"] for e in mine["entries"]] == ["mute", "unban", "ban"] and mine["next"] is None
    assert {e["account_id"] for e in mine["entries"]} == {mia["account_id"]}
    first = mine["entries"][-1]
    assert first["by"] == "ops" and first["reason"] == "1" and first["at"]


@pytest.mark.parametrize(("query", "status", "code"), [
    ("?before=mod_" + "0" * 32, 404, "unknown-moderation-entry"),
    ("?before=nope", 400, "invalid-request"),
    ("?limit=0", 400, "invalid-request"),
    ("?limit=201", 400, "invalid-request"),
    ("?account=a/b", 400, "invalid-request"),
    ("?acount=x", 400, "invalid-request"),
])
async def test_bad_log_queries_are_refused(client: Client, admin_token: str, query: str, status: int,
                                           code: str) -> None:
    resp = await client.get(f"/v1/admin/moderation/log{query}", headers=admin_headers(admin_token))
    assert resp.status == status and (await resp.json())["code"] == code


# --- replicas and restarts ------------------------------------------------------------------------

async def test_another_replica_refuses_the_banned_token_once_it_sees_the_event(
        client: Client, client_for: Any, settings: CommerceSettings, admin_token: str) -> None:
    other = await client_for(settings)
    olga = await register(client)

    async def ready() -> bool:
        return bool((await other.get("/readyz")).status == 200)

    await until(ready, what="the second replica ready")
    assert (await other.get("/v1/me", headers=olga["headers"])).status == 200
    assert (await act(client, admin_token, olga["account_id"], "ban", {"reason": "x"})).status == 201

    async def refused() -> bool:
        return bool((await other.get("/v1/me", headers=olga["headers"])).status == 403)

    await until(refused, what="the other replica refusing the token")


async def test_a_start_repairs_redis_from_mongodb(client: Client, client_for: Any, settings: CommerceSettings,
                                                  admin_token: str, redis: aioredis.Redis) -> None:
    pat, quinn = await register(client), await register(client)
    assert (await act(client, admin_token, pat["account_id"], "ban", {"reason": "x"})).status == 201
    await redis.delete(keys.MODERATION_BANNED)  # Redis lost it
    await redis.zadd(keys.MODERATION_BANNED, {quinn["account_id"]: "+inf"})  # and holds one MongoDB never made
    await client_for(settings)

    async def repaired() -> bool:
        return (await moderation.is_banned(redis, pat["account_id"])
                and not await moderation.is_banned(redis, quinn["account_id"]))

    await until(repaired, what="Redis repaired")
