"""Every MongoDB operation of commerce has a deadline: a request the database cannot answer gets
503 with Retry-After, and ``/healthz`` fails once MongoDB has timed out for long enough."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from elysium import procs
from tests.commerce.conftest import make_settings, register
from tests.waiting import until


@asynccontextmanager
async def holding(mongo_url: str, db: str, account_id: str) -> AsyncIterator[None]:
    """Another client writes the account in a transaction it leaves open (kept alive, never
    committed): MongoDB makes every other writer of that document wait behind it."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    session = client.start_session()
    stop = asyncio.Event()
    try:
        await session.start_transaction()
        accounts = client[db]["accounts"]
        await accounts.update_one({"_id": account_id}, {"$set": {"display_name": "held"}}, session=session)

        async def keep_alive() -> None:
            while not stop.is_set():
                await accounts.find_one({"_id": account_id}, session=session)
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except TimeoutError:
                    pass

        task = asyncio.create_task(keep_alive())
        yield
        stop.set()
        await task
        await session.abort_transaction()
    finally:
        await session.end_session()
        await client.close()


async def test_a_request_mongo_cannot_answer_gets_503_with_retry_after(client_for: Any, mongo_url: str,
                                                                        mongo_db_name: str, redis_url: str,
                                                                        keys_dir: Path) -> None:
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, mongo_timeout_s=1.0))
    p = await register(client)
    async with holding(mongo_url, mongo_db_name, p["account_id"]):
        started = time.monotonic()
        resp = await asyncio.wait_for(client.patch("/v1/me", json={"display_name": "new name"},
                                                   headers=p["headers"]), 15)
        took = time.monotonic() - started
        body = await resp.json()
        assert resp.status == 503 and body["code"] == "unavailable", body
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        assert int(resp.headers["Retry-After"]) >= 1
        assert took < 5, took
    # The same request succeeds once the database answers again (a timed-out write may have landed
    # meanwhile; repeating it is harmless, as with every request commerce answers 503).
    resp = await client.patch("/v1/me", json={"display_name": "new name"}, headers=p["headers"])
    assert resp.status == 200, await resp.text()


async def test_healthz_fails_once_every_mongo_command_has_failed_for_long_enough(
        client_for: Any, own_mongo: procs.Child, mongo_db_name: str, redis_url: str, keys_dir: Path) -> None:
    client = await client_for(make_settings(own_mongo.url, mongo_db_name, redis_url, keys_dir, mongo_timeout_s=0.5,
                                            unhealthy_after_s=2.0))
    assert (await client.get("/healthz")).status == 200
    os.kill(own_mongo.proc.pid, signal.SIGSTOP)  # the database stops answering, connections stay open
    try:
        async def failing() -> bool:
            resp = await client.get("/v1/catalog")
            assert resp.status == 503 and resp.headers["Retry-After"], await resp.text()
            return bool((await client.get("/healthz")).status == 503)

        started = time.monotonic()
        await until(failing, 20, 0.2, what="/healthz to fail")
        assert time.monotonic() - started >= 2.0  # not before every command failed for unhealthy_after_s
        body = await (await client.get("/healthz")).json()
        assert body["status"] == "failing" and body["mongo_failing_s"] >= 2.0
        assert (await (await client.get("/readyz")).json())["mongo"] is False
    finally:
        os.kill(own_mongo.proc.pid, signal.SIGCONT)

    async def healthy() -> bool:
        await client.get("/readyz")  # its ping is the first command to succeed again
        return bool((await client.get("/healthz")).status == 200)

    await until(healthy, 20, 0.2, what="/healthz to recover")
    assert (await client.get("/v1/catalog")).status == 200
