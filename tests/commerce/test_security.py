"""Abuse cases of accounts through the real app: parallel guessing, hostile names and settings,
refresh retries, and what the logs hold."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from commerce import ratelimit
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
