"""The MongoDB adapter: collections, indexes, the transaction runner, catalog persistence, audit reads.

Every change of money or items runs through :meth:`Store.transaction`, which retries on
write conflicts (and on duplicate keys, whose retry then sees the winner's committed state)
with jittered back-off, and gives up with :class:`commerce.errors.Busy` having changed nothing.

Every operation has a deadline (the client's ``timeoutMS``), and a whole transaction with its
retries has the same one (``pymongo.timeout``): a database that does not answer makes a
request fail with 503 and ``Retry-After`` instead of hanging. :class:`MongoHealth` watches every
command's outcome, for ``/healthz``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pymongo
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from commerce import audit, catalog, ledger, market, trading
from commerce.errors import Busy, Problem
from commerce.leases import SessionLeases
from commerce.payments import auditing as payment_audit

log = logging.getLogger("commerce.store")

T = TypeVar("T")
Doc = dict[str, Any]
Session = AsyncClientSession


class Conflict(Exception):
    """A compare-and-set missed: another writer got there first. The transaction is retried."""


def now() -> datetime:
    return datetime.now(UTC)


class MongoHealth(monitoring.CommandListener):
    """When a MongoDB command last succeeded, and since when every command has failed (or timed out)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.failing_since: float | None = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.failing_since = None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if self.failing_since is None:
            self.failing_since = self.clock()

    def failing_for_s(self) -> float:
        """How long every command has failed; 0 after any success (or before any command)."""
        return 0.0 if self.failing_since is None else self.clock() - self.failing_since


class Store:
    def __init__(self, client: AsyncMongoClient[Doc], db_name: str, attempts: int = 60,
                 timeout_s: float | None = None, lease_s: float | None = None) -> None:
        self.client = client
        self.db: AsyncDatabase[Doc] = client[db_name]
        self.attempts = attempts
        self.timeout_s = timeout_s  # deadline of one whole transaction, retries included
        # The service's lease on its server sessions (None: ``elysium audit``, which writes nothing).
        self.leases = SessionLeases(self.db, lease_s) if lease_s is not None else None
        self.accounts = self.db["accounts"]
        self.wallets = self.db["wallets"]
        self.ledger = self.db["ledger"]
        self.items = self.db["items"]
        self.supply = self.db["supply"]
        self.catalog = self.db["catalog"]
        self.meta = self.db["meta"]
        self.refresh = self.db["refresh_tokens"]
        self.rewards = self.db["rewards"]
        self.trades = self.db["trades"]  # commerce/trades.py
        self.listings = self.db["listings"]
        self.sales = self.db["sales"]
        self.devices = self.db["devices"]  # commerce/devices.py: hashed device ids of guest and device logins
        self.moderation_log = self.db["moderation_log"]  # commerce/moderation.py: append-only
        self.conflicts = 0  # transaction retries, for metrics

    async def ensure_indexes(self) -> None:
        await self.accounts.create_index("username_lower", unique=True)
        await self.wallets.create_index([("account", ASCENDING), ("currency", ASCENDING)], unique=True)
        await self.ledger.create_index([("account", ASCENDING), ("at", DESCENDING)])
        await self.items.create_index([("owner", ASCENDING), ("created_at", DESCENDING)])
        await self.items.create_index("unique_owner", unique=True, sparse=True)
        await self.accounts.create_index("eth_address", unique=True, sparse=True)  # one account per wallet
        await self.devices.create_index("account")
        await self.refresh.create_index("family")
        await self.refresh.create_index("account")
        for index in market.INDEXES:  # one behind every filter and sort of GET /v1/listings
            await self.listings.create_index(list(index))
        await self.items.create_index("listing", sparse=True)
        await self.ledger.create_index([("pending", ASCENDING), ("account", ASCENDING), ("currency", ASCENDING)],
                                       sparse=True)  # the house's fees waiting for the settler
        await self.sales.create_index([("item_type", ASCENDING), ("currency", ASCENDING), ("at", DESCENDING)])
        await self.moderation_log.create_index("key", unique=True)  # the Idempotency-Key's hash
        await self.moderation_log.create_index([("account", ASCENDING), ("at", DESCENDING)])
        await self.moderation_log.create_index([("at", DESCENDING)])
        for kind in ("ban", "mute"):  # the accounts a start-up repair of Redis looks at
            await self.accounts.create_index(f"moderation.{kind}.active", sparse=True)

    async def ping(self, timeout_s: float) -> None:
        with pymongo.timeout(timeout_s):
            await self.db.command("ping")

    async def transaction(self, fn: Callable[[Session], Awaitable[T]]) -> T:
        """Run ``fn`` in a transaction, retried on conflicts, within ``timeout_s`` in all.

        A timeout is not retried: it propagates (a ``PyMongoError``, answered 503). Should the
        commit's outcome be unknown, the caller's retry finds the ledger entry if it committed.
        A session's id is in this process's lease before a transaction first runs on it
        (:mod:`commerce.leases`), so a crash leaves no transaction the other replicas cannot abort.
        """
        with pymongo.timeout(self.timeout_s):
            delay = 0.002
            for _ in range(self.attempts):
                async with self.client.start_session() as session:
                    if self.leases is not None:
                        await self.leases.hold(session.session_id)
                    try:
                        async with await session.start_transaction():
                            return await fn(session)
                    except (Conflict, DuplicateKeyError):
                        pass
                    except PyMongoError as exc:
                        if exc.timeout or not (exc.has_error_label("TransientTransactionError")
                                               or exc.has_error_label("UnknownTransactionCommitResult")):
                            raise
                self.conflicts += 1
                await asyncio.sleep(random.uniform(0, delay))
                delay = min(delay * 2, 0.1)
        raise Busy()

    # --- catalog ----------------------------------------------------------------------------

    async def load_catalog(self, cf: catalog.CatalogFile) -> bool:
        """Store the file's item types when its version is newer than the stored one.

        One transaction holds the version check, every item type and the new version, so
        replicas starting together load it once: the others conflict on the ``meta`` document,
        retry, and find the version already stored. A file that cannot be loaded changes nothing.
        """

        async def body(s: Session) -> bool:
            meta = await self.meta.find_one({"_id": "catalog"}, session=s)
            if meta is not None and int(meta.get("version", 0)) >= cf.version:
                return False
            for item in cf.items:
                await self._put_item(s, item)
            await self.meta.replace_one({"_id": "catalog"}, {"_id": "catalog", "version": cf.version,
                                                             "loaded_at": now()}, upsert=True, session=s)
            return True

        loaded = await self.transaction(body)
        if loaded:
            log.info("catalog loaded", extra={"version": cf.version, "items": len(cf.items)})
        return loaded

    async def put_item(self, item: catalog.ItemType) -> None:
        """Create or replace an item type (see :meth:`_put_item`)."""

        async def body(s: Session) -> None:
            await self._put_item(s, item)

        await self.transaction(body)

    async def _put_item(self, s: Session, item: catalog.ItemType) -> None:
        """Inside a transaction: create or replace an item type.

        A supply cap is set when a type is created; later it may be raised or lowered (not
        below what exists) but not added or removed, so no purchase can ever miss a cap. The
        supply counter (``minted``, ``remaining``) is written in the same transaction, so a
        purchase racing a cap change conflicts with it instead of slipping past.
        """
        old = await self.catalog.find_one({"_id": item.id}, {"supply_cap": 1}, session=s)
        if old is not None and (old.get("supply_cap") is None) != (item.supply_cap is None):
            raise Problem("cap-change", f"{item.id} {'has no' if old.get('supply_cap') is None else 'has a'} "
                                        "supply cap; a cap can only be set when an item type is created")
        if item.supply_cap is not None:
            supply = await self.supply.find_one({"_id": item.id}, session=s)
            minted = int(supply["minted"]) if supply else 0
            if minted > item.supply_cap:
                raise Problem("cap-below-supply", f"{minted} items of {item.id} exist; the cap cannot be lower")
            await self.supply.update_one({"_id": item.id}, {"$set": {"minted": minted,
                                                                     "remaining": item.supply_cap - minted}},
                                         upsert=True, session=s)
        await self.catalog.replace_one({"_id": item.id}, {"_id": item.id, **item.to_doc(), "updated_at": now()},
                                       upsert=True, session=s)

    async def get_item(self, item_id: str, session: Session | None = None) -> catalog.ItemType | None:
        doc = await self.catalog.find_one({"_id": item_id}, session=session)
        return catalog.from_doc(doc) if doc else None

    async def list_items(self) -> list[catalog.ItemType]:
        return [catalog.from_doc(d) async for d in self.catalog.find({}).sort("_id", ASCENDING)]

    async def supply_left(self, item_id: str) -> int:
        doc = await self.supply.find_one({"_id": item_id}, {"remaining": 1})
        return int(doc["remaining"]) if doc else 0

    # --- audit ------------------------------------------------------------------------------

    async def audit(self) -> tuple[list[audit.Problem], dict[str, int]]:
        """Run every audit check over one consistent snapshot."""

        async def body(s: Session) -> tuple[list[audit.Problem], dict[str, int]]:
            sums: dict[tuple[str, str], int] = {}
            entries = 0
            moves: list[Doc] = []
            pending: list[Doc] = []  # the house's fees not yet in its wallet (commerce/listings.py)
            async for e in self.ledger.find({}, {"account": 1, "currency": 1, "delta": 1, "kind": 1, "transfer": 1,
                                                 "pending": 1}, session=s):
                key = (str(e.get("account")), str(e.get("currency")))
                delta = e.get("delta")
                if isinstance(delta, bool) or not isinstance(delta, int):
                    return [audit.Problem("ledger_not_integer", f"ledger entry {e['_id']}",
                                          f"delta is {delta!r}")], {}
                if e.get("pending"):
                    pending.append(e)
                else:
                    sums[key] = sums.get(key, 0) + delta
                entries += 1
                moves.append(e)
            wallets = [(str(w.get("account")), str(w.get("currency")), w.get("balance"))
                       async for w in self.wallets.find({}, session=s)]
            accounts = {a["_id"] async for a in self.accounts.find({}, {"_id": 1}, session=s)}
            items = [i async for i in self.items.find({}, {"owner": 1, "custody": 1, "type": 1, "trade": 1, "listing": 1,
                                                           "provenance.sale": 1}, session=s)]
            listings = [x async for x in self.listings.find({}, {"seller": 1, "buyer": 1, "items": 1, "state": 1,
                                                                "sale": 1, "total": 1, "fee": 1}, session=s)]
            counts: dict[str, int] = {}
            for i in items:
                counts[str(i.get("type"))] = counts.get(str(i.get("type")), 0) + 1
            caps = {d["_id"]: d.get("supply_cap") async for d in self.catalog.find({}, session=s)}
            supply = {d["_id"]: (d.get("minted"), d.get("remaining")) async for d in self.supply.find({}, session=s)}
            payments = [p async for p in self.db["payments"].find({}, session=s)]
            debts = [d async for d in self.db["debts"].find({}, session=s)]
            paid = [e async for e in self.ledger.find({"kind": {"$in": list(payment_audit.PAYMENT_KINDS)}}, session=s)]
            problems = (audit.check_wallets(wallets, sums) + audit.check_items(items, accounts)
                        + audit.check_supply(caps, counts, supply)
                        + audit.check_conservation(moves, ledger.SOURCE_KINDS, ledger.TRANSFER_KINDS)
                        + payment_audit.check_payments(payments, paid, debts)
                        + audit.check_escrow(
                            [t async for t in self.trades.find({}, {"state": 1, "offerer": 1, "offer": 1}, session=s)],
                            [i for i in items if i.get("custody") == "escrow" or "trade" in i],
                            {c: b for a, c, b in wallets if a == trading.ESCROW}, ledger.CURRENCIES)
                        + audit.check_listings(items, listings) + audit.check_sales(listings, moves, market.HOUSE)
                        + audit.check_pending(pending, market.HOUSE))
            return problems, {"wallets": len(wallets), "ledger_entries": entries, "items": len(items),
                              "accounts": len(accounts), "payments": len(payments), "debts": len(debts),
                              "listings": len(listings)}

        return await self.transaction(body)


async def page_after(collection: AsyncCollection[Doc], query: Doc, field: str, before: str | None,
                     missing: str) -> Doc:
    """``query`` narrowed to the documents after ``before`` in the order (``field``, ``_id``), newest first.

    The id breaks ties of the time field (documents made in the same millisecond), so every
    document is on exactly one page however the pages are cut. ``missing`` is the problem
    code of a well-formed id that ``query`` does not find.
    """
    if before is None:
        return query
    anchor = await collection.find_one({**query, "_id": before}, {field: 1})
    if anchor is None:
        raise Problem(missing, "before must be the id of one of yours (the last of the previous page)")
    return {**query, "$or": [{field: {"$lt": anchor[field]}}, {field: anchor[field], "_id": {"$lt": before}}]}


def mongo_client(url: str, timeout_s: float | None = None,
                 health: MongoHealth | None = None) -> AsyncMongoClient[Doc]:
    """A client whose every operation ends within ``timeout_s`` (None: no deadline, for ``elysium audit``)."""
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, appname="elysium-commerce",
                            timeoutMS=None if timeout_s is None else int(timeout_s * 1000),
                            event_listeners=[health] if health is not None else [])
