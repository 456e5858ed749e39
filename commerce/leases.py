"""Session leases: a crashed commerce replica's open transactions are aborted by the others.

A process killed mid-transaction (SIGKILL, OOM, a lost node) leaves its transactions open on
the server, and the documents they wrote refuse every other writer until the server gives up
on them (``transactionLifetimeLimitSeconds``, 60 s by default). So each replica keeps a lease
document in ``commerce_instances``::

    {_id: <random instance id>, lease_until: <date>, renewed_at: <date>, host, pid,
     sessions: [<lsid>, ...]}

renewed every ``lease_s`` for ``2 * lease_s``, and records every server session id
(``ClientSession.session_id``, reused from the driver's pool) before a transaction first runs
on it. A replica starting, and every replica at each renewal, looks for leases past
``lease_until``, runs ``killSessions`` for their sessions (the server aborts each session's open
transaction and releases its writes, mongod and the embedded server alike) and deletes the
lease, conditionally on the ``lease_until`` it read, so two replicas sweeping together is
harmless. A clean shutdown deletes its own lease.

Times are the server's (``$$NOW``), never a replica's clock, so clock skew between hosts
cannot make a live lease look stale. Everything here goes through the MongoDB wire protocol.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

log = logging.getLogger("commerce.leases")

COLLECTION = "commerce_instances"
Doc = dict[str, Any]


def _key(lsid: Mapping[str, Any]) -> bytes:
    return bytes(lsid["id"])


class SessionLeases:
    """This process's lease, and the sweep of other replicas' expired ones."""

    def __init__(self, db: AsyncDatabase[Doc], lease_s: float, instance: str | None = None) -> None:
        self.db = db
        self.leases: AsyncCollection[Doc] = db[COLLECTION]
        self.instance = instance or uuid.uuid4().hex
        self.lease_s = lease_s  # renewal period; a lease lasts twice this
        self._recorded: set[bytes] = set()  # session ids this process's lease document holds
        self.swept = 0  # expired leases this process deleted, for metrics

    async def renew(self) -> datetime:
        """Extend the lease to ``2 * lease_s`` from now (creating it if missing); the server's time.

        A lease another replica swept (this process looked dead) is created afresh: the sessions
        it held were killed, so every session is recorded again before its next transaction.
        """
        doc = await self.leases.find_one_and_update(
            {"_id": self.instance},
            [{"$set": {"renewed_at": "$$NOW",
                       "lease_until": {"$add": ["$$NOW", int(self.lease_s * 2000)]},
                       "host": {"$literal": socket.gethostname()}, "pid": {"$literal": os.getpid()}}}],
            upsert=True, return_document=ReturnDocument.AFTER)
        assert doc is not None  # upserted
        held = {_key(s) for s in doc.get("sessions", [])}
        if not self._recorded <= held:
            log.warning("session lease was swept by another replica; recording sessions again",
                        extra={"instance": self.instance})
        self._recorded &= held
        renewed: datetime = doc["renewed_at"]
        return renewed

    async def hold(self, lsid: Mapping[str, Any]) -> None:
        """Record ``lsid`` in the lease before a transaction runs on it (one write per new session)."""
        key = _key(lsid)
        if key in self._recorded:
            return
        done = await self.leases.update_one({"_id": self.instance}, {"$addToSet": {"sessions": dict(lsid)}})
        if done.matched_count == 0:  # swept meanwhile: take the lease again, then record
            await self.renew()
            await self.leases.update_one({"_id": self.instance}, {"$addToSet": {"sessions": dict(lsid)}})
        self._recorded.add(key)

    async def sweep(self, now: datetime) -> int:
        """Kill the sessions of every lease expired by ``now`` (server time) and delete it."""
        swept = 0
        async for lease in self.leases.find({"lease_until": {"$lt": now}, "_id": {"$ne": self.instance}}):
            sessions = list(lease.get("sessions", []))
            if sessions:
                await self.db.client.admin.command({"killSessions": sessions})
            gone = await self.leases.delete_one({"_id": lease["_id"], "lease_until": lease["lease_until"]})
            if gone.deleted_count:
                swept += 1
                log.info("expired session lease swept", extra={"instance": lease["_id"],
                                                                "sessions": len(sessions)})
        self.swept += swept
        return swept

    async def renew_and_sweep(self) -> int:
        return await self.sweep(await self.renew())

    async def run(self, stop: asyncio.Event) -> None:
        """Renew and sweep every ``lease_s`` until ``stop``; a failed round is logged and retried."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.lease_s)
                return
            except TimeoutError:
                pass
            try:
                await self.renew_and_sweep()
            except PyMongoError as exc:
                log.warning("session lease not renewed", extra={"instance": self.instance, "error": str(exc)})

    async def release(self) -> None:
        """A clean shutdown: this process's lease goes (its sessions end with the client).

        Should MongoDB not answer, the lease is left to expire and be swept like a crashed one's.
        """
        try:
            await self.leases.delete_one({"_id": self.instance})
        except PyMongoError as exc:
            log.warning("session lease not released; it expires by itself",
                        extra={"instance": self.instance, "error": str(exc)})
        self._recorded.clear()
