"""Commerce through Redis restarts. DESIGN's rule "losing Redis never loses money or items",
tested: Redis crashes with results unread by commerce, more matches end while it is down,
and every player of every match is paid exactly once after it is back. And the first
logins after a restart succeed on the connections pooled before it."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from commerce.appkeys import STORE
from elysium import procs, redisclient
from gameserver.redisio import ResultsWriter
from tests.commerce.conftest import make_settings, register
from tests.commerce.test_rewards import expected, result
from tests.waiting import until

MATCHES = 200


def crash(redis: procs.Child) -> None:
    """SIGKILL: Redis gets no chance to write anything more on its way out."""
    os.killpg(redis.proc.pid, signal.SIGKILL)
    redis.proc.wait()


async def test_a_redis_crash_with_unread_results_loses_no_reward_and_pays_none_twice(
        client_for: Any, mongo_url: str, mongo_db_name: str, keys_dir: Path, tmp_path: Path) -> None:
    port = procs.free_port()
    data = tmp_path / "redis"
    redis = procs.start_redis(port, data_dir=data)  # persisted as `elysium up` runs it
    client = redisclient.connect(redis.url)
    writer = ResultsWriter(client, confirm_after_s=0.5)  # the real publisher of the game server
    try:
        app = await client_for(make_settings(mongo_url, mongo_db_name, redis.url, keys_dir))
        store = app.app[STORE]
        ids = [(await register(app))["account_id"] for _ in range(4)]
        results = [result(f"durable-{i}", [(ids[i % 4], 3, 3), (ids[(i + 1) % 4], 1, 1)]) for i in range(MATCHES)]
        # Half the matches end and are published while commerce reads; Redis dies mid-way.
        for res in results[:100]:
            writer.submit(res)
        await writer.flush()
        assert not writer.pending
        assert await store.rewards.count_documents({}) < 2 * 100, "Redis died too late: every result was read"
        crash(redis)
        # Matches that end while Redis is down are held by their producer.
        for res in results[100:150]:
            writer.submit(res)
            await writer.flush()
        assert len(writer.pending) == 50
        redis = procs.start_redis(port, data_dir=data)
        for res in results[150:]:
            writer.submit(res)
        assert await writer.settle(30.0), "results still held after Redis came back"

        async def paid() -> bool:
            return bool(await store.rewards.count_documents({}) >= 2 * MATCHES)

        await until(paid, timeout_s=120, interval_s=0.2, what="every player of every match paid")
        rewards = [doc async for doc in store.rewards.find({})]
        once = Counter((doc["match_id"], doc["player_id"]) for doc in rewards)
        assert len(once) == 2 * MATCHES and set(once.values()) == {1}
        owed = Counter[str]()
        for res in results:
            for pid, reward in expected(res).items():
                owed[pid] += reward.amount
        for pid in ids:
            wallet = await store.wallets.find_one({"account": pid, "currency": "soft"})
            assert wallet is not None and wallet["balance"] == 500 + owed[pid], pid
    finally:
        await client.aclose()
        redis.stop()


async def test_the_first_logins_after_a_redis_restart_succeed(client_for: Any, mongo_url: str, mongo_db_name: str,
                                                              keys_dir: Path) -> None:
    port = procs.free_port()
    redis = procs.start_redis(port)
    try:
        app = await client_for(make_settings(mongo_url, mongo_db_name, redis.url, keys_dir, rewards_enabled=False))
        players = [await register(app) for _ in range(8)]

        async def login_all() -> list[int]:
            replies = await asyncio.gather(*(app.post("/v1/sessions", json={"username": p["username"],
                                                                             "password": "correct horse battery"})
                                             for p in players))
            return [r.status for r in replies]

        assert await login_all() == [200] * 8  # logins at once: several pooled connections
        redis.stop()
        redis = procs.start_redis(port)
        assert await login_all() == [200] * 8
    finally:
        redis.stop()
