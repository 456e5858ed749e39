"""Session leases: a crashed replica's open transactions are aborted by the replicas still running.

A "crashed replica" here is a client that opened a transaction on a wallet and went silent,
with a lease naming its session: exactly what a commerce process killed mid-purchase leaves
behind. Everything runs against the real MongoDB wire server and the real app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from commerce.leases import COLLECTION, SessionLeases
from tests.commerce.conftest import make_settings, register
from tests.waiting import until

Doc = dict[str, Any]
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
FAR_AHEAD = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass
class Orphan:
    """A transaction left open on a wallet by a client that holds a lease."""

    client: AsyncMongoClient[Doc]
    session: AsyncClientSession


@asynccontextmanager
async def orphan(mongo_url: str, db: str, lease: str, lease_until: datetime) -> AsyncIterator[Orphan]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True)
    session = client.start_session()
    try:
        await client[db]["wallets"].insert_one({"_id": "w1", "balance": 100})
        await session.start_transaction()
        await client[db]["wallets"].update_one({"_id": "w1"}, {"$inc": {"balance": -30}}, session=session)
        await client[db][COLLECTION].insert_one({"_id": lease, "lease_until": lease_until,
                                                 "sessions": [session.session_id]})
        yield Orphan(client, session)
    finally:
        await session.end_session()
        await client.close()


async def wallet_writable(mongo_url: str, db: str) -> bool:
    """Can another writer change the wallet within a second?"""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        with pymongo.timeout(1.0):
            async with client.start_session() as s:
                async with await s.start_transaction():
                    await client[db]["wallets"].update_one({"_id": "w1"}, {"$inc": {"balance": 1}}, session=s)
        return True
    except PyMongoError:
        return False
    finally:
        await client.close()


async def leases_in(mongo_url: str, db: str) -> dict[str, Doc]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        return {d["_id"]: d async for d in client[db][COLLECTION].find({})}
    finally:
        await client.close()


async def test_a_starting_replica_kills_a_stale_lease_and_frees_the_wallet(
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> None:
    async with orphan(mongo_url, mongo_db_name, "crashed", LONG_AGO) as dead:
        assert not await wallet_writable(mongo_url, mongo_db_name)  # the dead transaction holds it
        await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir))
        assert "crashed" not in await leases_in(mongo_url, mongo_db_name)
        assert await wallet_writable(mongo_url, mongo_db_name)
        with pytest.raises(PyMongoError):  # its transaction was aborted: nothing of it can commit
            await dead.session.commit_transaction()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url)
    try:
        wallet = await client[mongo_db_name]["wallets"].find_one({"_id": "w1"})
    finally:
        await client.close()
    assert wallet is not None and wallet["balance"] == 101  # the orphan's -30 never landed


async def test_a_live_lease_is_left_alone(client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str,
                                          keys_dir: Path) -> None:
    async with orphan(mongo_url, mongo_db_name, "alive", FAR_AHEAD) as live:
        await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, lease_s=0.5))
        leases = await leases_in(mongo_url, mongo_db_name)
        assert "alive" in leases and len(leases) == 2, leases  # the other one is the app's own
        mine = next(v for k, v in leases.items() if k != "alive")
        await until(lambda: renewed_after(mongo_url, mongo_db_name, mine), 10, 0.1, what="a renewal")
        assert "alive" in await leases_in(mongo_url, mongo_db_name)
        await live.session.commit_transaction()  # its transaction is still its own


async def renewed_after(mongo_url: str, db: str, before: Doc) -> bool:
    now = (await leases_in(mongo_url, db)).get(before["_id"])
    return now is not None and now["renewed_at"] > before["renewed_at"]


async def test_a_running_replica_sweeps_a_lease_that_expires_later(
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> None:
    await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, lease_s=0.5))
    async with orphan(mongo_url, mongo_db_name, "crashed-later", LONG_AGO):
        async def swept() -> bool:
            return "crashed-later" not in await leases_in(mongo_url, mongo_db_name)

        await until(swept, 10, 0.1, what="the expired lease to be swept")
        assert await wallet_writable(mongo_url, mongo_db_name)


async def test_two_replicas_sweeping_together_is_harmless(mongo_url: str, mongo_db_name: str) -> None:
    async with orphan(mongo_url, mongo_db_name, "crashed", LONG_AGO):
        client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True)
        try:
            replicas = [SessionLeases(client[mongo_db_name], 5.0) for _ in range(2)]
            nows = [await r.renew() for r in replicas]
            swept = await asyncio.gather(*(r.sweep(now) for r, now in zip(replicas, nows, strict=True)))
            assert sorted(swept) == [0, 1]  # one deleted it; the other's conditional delete found nothing
            assert set(await leases_in(mongo_url, mongo_db_name)) == {r.instance for r in replicas}
            assert await wallet_writable(mongo_url, mongo_db_name)
        finally:
            await client.close()


async def test_a_transaction_runs_only_on_a_recorded_session_and_shutdown_releases_the_lease(
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> None:
    client = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir))
    await register(client)  # the sign-up grant is a transaction
    leases = await leases_in(mongo_url, mongo_db_name)
    assert len(leases) == 1, leases
    (lease,) = leases.values()
    assert lease["sessions"] and lease["lease_until"] > lease["renewed_at"]
    await client.close()
    assert await leases_in(mongo_url, mongo_db_name) == {}


async def test_a_swept_replica_takes_its_lease_again_and_records_its_sessions_anew(
        mongo_url: str, mongo_db_name: str) -> None:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        slow = SessionLeases(client[mongo_db_name], 5.0)
        await slow.renew()
        async with client.start_session() as s:
            await slow.hold(s.session_id)
            await client[mongo_db_name][COLLECTION].delete_one({"_id": slow.instance})  # another replica swept it
            await slow.hold(s.session_id)  # known locally: no write, so the lease is still gone
            assert await leases_in(mongo_url, mongo_db_name) == {}
            await slow.renew()
            await slow.hold(s.session_id)
            lease = (await leases_in(mongo_url, mongo_db_name))[slow.instance]
            assert lease["sessions"] == [s.session_id]
    finally:
        await client.close()
