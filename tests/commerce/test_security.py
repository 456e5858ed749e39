"""Abuse cases of accounts through the real app: parallel guessing, hostile names and settings,
refresh retries, and what the logs hold."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from commerce import ratelimit
from commerce.appkeys import ACCOUNTS, PLAYER_TOKENS, SETTINGS, STORE
from elysium import logs
from tests.commerce.conftest import make_settings, register
from tests.waiting import until

PROBLEM = "application/problem+json"


async def _problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == PROBLEM
    body: dict[str, Any] = await resp.json()
    assert body["code"] == code and body["status"] == status
    return body


async def _guess(session: aiohttp.ClientSession, url: str, username: str, password: str) -> tuple[int, str | None]:
    async with session.post(url, json={"username": username, "password": password}) as resp:
        await resp.read()
        return resp.status, resp.headers.get("Retry-After")


async def test_parallel_guesses_cannot_pass_the_login_limit(client_for: Any, mongo_url: str, mongo_db_name: str,
                                                            redis_url: str, keys_dir: Path) -> None:
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, login_max_failures=10))
    await register(client, "target_1", "the right password")
    url = str(client.make_url("/v1/sessions"))
    redis = aioredis.from_url(redis_url)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            wrong = [asyncio.create_task(_guess(session, url, "target_1", f"wrong guess {n}")) for n in range(60)]
            # Once the limit's worth of attempts is counted (they are still being checked), the right one comes.
            await until(lambda: _count_is(redis, ratelimit.user_key("target_1"), 10), what="ten attempts counted")
            right = await _guess(session, url, "target_1", "the right password")
            answers = await asyncio.gather(*wrong)
    finally:
        await redis.aclose()
    statuses = [status for status, _ in answers]
    assert statuses.count(401) == 10, statuses
    assert statuses.count(429) == 50, statuses
    assert all(1 <= int(retry or 0) <= 300 for status, retry in answers if status == 429)
    assert right[0] == 429 and right[1] is not None and 1 <= int(right[1]) <= 300


async def _count_is(redis: aioredis.Redis, key: str, n: int) -> bool:
    raw = await redis.get(key)
    return raw is not None and int(raw) >= n


async def test_two_hundred_parallel_guesses_are_all_answered_and_limited(client_for: Any, mongo_url: str,
                                                                         mongo_db_name: str, redis_url: str,
                                                                         keys_dir: Path) -> None:
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, login_max_failures=10))
    await register(client, "target_2", "the right password")
    url = str(client.make_url("/v1/sessions"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        answers = await asyncio.gather(*(_guess(session, url, "target_2", f"wrong guess {n}") for n in range(200)))
    statuses = [status for status, _ in answers]
    assert statuses.count(401) == 10, statuses
    assert statuses.count(429) == 190, statuses  # and so no 503: every request was answered by the limiter


async def test_a_success_gives_its_attempt_back_but_failures_stay_counted(client_for: Any, mongo_url: str,
                                                                          mongo_db_name: str, redis_url: str,
                                                                          keys_dir: Path) -> None:
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, login_max_failures=3))
    await register(client, "target_3", "the right password")
    for _ in range(2):
        await _problem(await client.post("/v1/sessions", json={"username": "target_3", "password": "nope"}),
                       401, "invalid-credentials")
    for _ in range(3):  # successes do not use up the limit
        resp = await client.post("/v1/sessions", json={"username": "target_3", "password": "the right password"})
        assert resp.status == 200
    await _problem(await client.post("/v1/sessions", json={"username": "target_3", "password": "nope"}),
                   401, "invalid-credentials")
    resp = await client.post("/v1/sessions", json={"username": "target_3", "password": "the right password"})
    await _problem(resp, 429, "rate-limited")


HOSTILE_NAMES = ("<script>alert(1)</script>", "line\nbreak", "nul\x00", "evil\u202egnp.exe", "iso\u2066late",
                 "zero\u200bwidth", "bell\x07", "sep\u2028arator", "   ")


async def test_hostile_display_names_and_passwords_are_refused_at_registration(client: Any) -> None:
    for name in HOSTILE_NAMES:
        body = await _problem(await client.post("/v1/accounts", json={"username": "mallory", "password": "long enough",
                                                                      "display_name": name}), 400, "invalid-request")
        assert set(body["errors"]) == {"display_name"}, (name, body)
    for password in ("\x00" * 8, "\x00\x01\x02\x03\x04\x05\x06\x07", "tab\tinside", " " * 8):
        body = await _problem(await client.post("/v1/accounts", json={"username": "mallory", "password": password}),
                              400, "invalid-request")
        assert set(body["errors"]) == {"password"}, (password, body)
    assert await client.app[STORE].accounts.count_documents({"system": {"$ne": True}}) == 0  # no player
    # Text that is no text (a lone surrogate) is refused wherever it comes, never a 500.
    await _problem(await client.post("/v1/sessions", json={"username": "x\ud800", "password": "whatever"}), 400,
                   "invalid-request")
    # Names are stored normalised (NFC), and the access token carries the same name.
    p = await client.post("/v1/accounts", json={"username": "amelie", "password": "long enough",
                                               "display_name": "Ame\u0301lie"})
    assert p.status == 201, await p.text()
    made = await p.json()
    assert made["profile"]["display_name"] == "Am\u00e9lie"
    claims = client.app[PLAYER_TOKENS].claims(made["access_token"])
    assert claims["name"] == "Am\u00e9lie"


async def test_profile_edits_that_mongodb_or_players_would_choke_on_are_refused(client: Any) -> None:
    p = await register(client)
    h = p["headers"]
    before = await (await client.get("/v1/me", headers=h)).json()
    bad_bodies: list[tuple[dict[str, Any], str]] = [({"display_name": name}, "display_name") for name in HOSTILE_NAMES]
    bad_bodies += [({"settings": bad}, "settings") for bad in (
        {"$where": 1}, {"a.b": 1}, {"": 1}, {"nul\x00": 1}, {"deep": {"$gt": 1}}, {"deep": {"x": {"y.z": True}}},
        {"list": [{"$set": 1}]}, {"big": 2 ** 63}, {"small": -(2 ** 63) - 1}, {"deep": [[{"n": 2 ** 70}]]},
        {"text": "lone \ud800"}, {"nest": _nested(20)})]  # past MAX_DOCUMENT_DEPTH, within the edge's JSON depth
    bad_bodies.append(({"avatar_url": "https://cdn.example/a.png\x00<script>"}, "avatar_url"))
    for bad, field in bad_bodies:
        body = await _problem(await client.patch("/v1/me", json=bad, headers=h), 400, "invalid-request")
        assert set(body["errors"]) == {field}, (bad, body)
    assert await (await client.get("/v1/me", headers=h)).json() == before
    # The limits leave honest settings alone.
    fine = {"fov": 90, "keys": {"jump": "space"}, "big": 2 ** 63 - 1, "list": [1, {"a": None}], "name": "h\u00e9"}
    resp = await client.patch("/v1/me", json={"settings": fine}, headers=h)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["settings"] == fine
    # A new password follows the same rule as at registration.
    body = await _problem(await client.post("/v1/me/password", json={"current_password": "correct horse battery",
                                                                     "new_password": "\x00" * 8}, headers=h),
                          400, "invalid-request")
    assert set(body["errors"]) == {"new_password"}


def _nested(depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(depth):
        out = {"n": out}
    return out


async def test_a_body_nested_past_the_parser_is_bad_json_not_a_crash(client: Any) -> None:
    p = await register(client)
    deep = b'{"settings": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    await _problem(await client.patch("/v1/me", data=deep, headers={**p["headers"], "Content-Type": "application/json"}),
                   400, "invalid-json")


class Clock:
    """The accounts' clock, moved by the test instead of waiting."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)


async def _refresh(client: Any, token: str) -> Any:
    return await client.post("/v1/sessions/refresh", json={"refresh_token": token})


async def _login(client: Any) -> tuple[dict[str, Any], Clock]:
    clock = Clock()
    client.app[ACCOUNTS].clock = clock
    p = await register(client)
    resp = await client.post("/v1/sessions", json={"username": p["username"], "password": "correct horse battery"})
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body, clock


async def test_a_refresh_retried_within_the_grace_gets_the_same_successor(client: Any) -> None:
    login, clock = await _login(client)
    verify = client.app[PLAYER_TOKENS].claims
    first = await _refresh(client, login["refresh_token"])
    assert first.status == 200
    successor = await first.json()
    clock.offset_s = 9.0  # the answer was lost; the client tries again with the same token
    again = await _refresh(client, login["refresh_token"])
    assert again.status == 200, await again.text()
    retried = await again.json()
    assert retried["refresh_token"] == successor["refresh_token"]
    a, b = verify(successor["access_token"]), verify(retried["access_token"])
    assert a["sub"] == b["sub"] == login["account_id"] and a["sid"] == b["sid"] == verify(login["access_token"])["sid"]
    # The login goes on from the successor.
    resp = await _refresh(client, successor["refresh_token"])
    assert resp.status == 200
    third = await resp.json()
    # Once the successor is used, the old token coming back is a leak even within the grace: all revoked.
    await _problem(await _refresh(client, login["refresh_token"]), 401, "refresh-token-reused")
    await _problem(await _refresh(client, third["refresh_token"]), 401, "invalid-refresh-token")


async def test_a_refresh_token_used_again_after_the_grace_revokes_the_login(client: Any) -> None:
    login, clock = await _login(client)
    resp = await _refresh(client, login["refresh_token"])
    successor = await resp.json()
    clock.offset_s = client.app[SETTINGS].refresh_reuse_grace_s + 1
    await _problem(await _refresh(client, login["refresh_token"]), 401, "refresh-token-reused")
    await _problem(await _refresh(client, successor["refresh_token"]), 401, "invalid-refresh-token")


async def test_concurrent_refreshes_of_one_token_all_get_the_same_successor(client: Any) -> None:
    login, _ = await _login(client)
    answers = await asyncio.gather(*(_refresh(client, login["refresh_token"]) for _ in range(8)))
    bodies = [await r.json() for r in answers]
    assert [r.status for r in answers] == [200] * 8, bodies
    assert len({b["refresh_token"] for b in bodies}) == 1
    assert await client.app[STORE].refresh.count_documents({}) == 3  # registration, login, one successor
    assert (await _refresh(client, bodies[0]["refresh_token"])).status == 200


async def test_without_a_grace_a_second_use_revokes_at_once(client_for: Any, mongo_url: str, mongo_db_name: str,
                                                           redis_url: str, keys_dir: Path) -> None:
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, refresh_reuse_grace_s=0))
    login, clock = await _login(client)
    successor = await (await _refresh(client, login["refresh_token"])).json()
    clock.offset_s = 0.01
    await _problem(await _refresh(client, login["refresh_token"]), 401, "refresh-token-reused")
    await _problem(await _refresh(client, successor["refresh_token"]), 401, "invalid-refresh-token")


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """What the service writes: each captured record through the real JSON formatter."""
    formatter = logs.JsonFormatter("commerce")
    return [json.loads(formatter.format(r)) for r in caplog.records]


async def test_failed_logins_and_admin_grants_are_logged_without_secrets(client: Any, admin_token: str,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    p = await register(client, "logged_1", "the right password")
    await _problem(await client.post("/v1/sessions", json={"username": "logged_1", "password": "secret guess 42"}),
                   401, "invalid-credentials")
    resp = await client.post("/v1/admin/grants", json={"account_id": p["account_id"], "currency": "premium",
                                                        "amount": 70, "reason": "support ticket 9"},
                             headers={"Authorization": f"Bearer {admin_token}", "Idempotency-Key": "ticket-9"})
    assert resp.status == 201
    lines = _lines(caplog)
    failed = [line for line in lines if line["msg"] == "login failed"]
    assert len(failed) == 1 and failed[0]["username"] == "logged_1" and failed[0]["address"] == "127.0.0.1"
    grants = [line for line in lines if line["msg"] == "admin grant"]
    assert len(grants) == 1
    assert {k: grants[0][k] for k in ("admin", "account", "currency", "amount", "reason", "replayed")} == {
        "admin": "ops", "account": p["account_id"], "currency": "premium", "amount": 70,
        "reason": "support ticket 9", "replayed": False}
    # The shared edge writes one access line per request, commerce's included.
    access = [line for line in lines if line["logger"] == "elysium.http.access"]
    assert [(a["method"], a["route"], a["status"]) for a in access] == [
        ("POST", "/v1/accounts", 201), ("POST", "/v1/sessions", 401), ("POST", "/v1/admin/grants", 201)]
    assert all(a["request_id"] and a["duration_ms"] >= 0 for a in access)
    written = "\n".join(json.dumps(line) for line in lines)
    for secret in ("secret guess 42", "the right password", admin_token, p["access_token"], p["refresh_token"]):
        assert secret not in written


async def test_no_successor_outlives_a_logout_racing_its_refresh(client: Any) -> None:
    p = await register(client)
    refresh = client.app[STORE].refresh
    for _ in range(30):
        resp = await client.post("/v1/sessions", json={"username": p["username"], "password": "correct horse battery"})
        token = (await resp.json())["refresh_token"]
        family = (await refresh.find_one({"_id": hashlib.sha256(token.encode()).hexdigest()}))["family"]
        answers = await asyncio.gather(_refresh(client, token),
                                       client.post("/v1/sessions/logout", json={"refresh_token": token}))
        assert answers[1].status == 204 and answers[0].status in (200, 401)
        assert await refresh.count_documents({"family": family, "revoked": False}) == 0


async def test_a_name_stored_before_the_rules_never_reaches_a_token(client: Any) -> None:
    p = await register(client)
    await client.app[STORE].accounts.update_one({"_id": p["account_id"]},
                                                {"$set": {"display_name": "<img src=x>\u202e"}})
    resp = await client.post("/v1/sessions", json={"username": p["username"], "password": "correct horse battery"})
    assert resp.status == 200
    assert client.app[PLAYER_TOKENS].claims((await resp.json())["access_token"])["name"] == p["username"]
