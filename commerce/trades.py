"""Player-to-player trades on MongoDB: offers held in escrow, the swap, the returns, the expiry sweeper.

Every change of a trade is one transaction that begins with a conditional update of the
trade document (``state: "open"``) and then moves the items and the currency, so two events
racing on one trade (an accept and a cancel, two accepts, two sweepers) conflict and exactly
one of them happens. Items move by conditional updates on (``owner``, ``custody``, ``trade``);
an offered item is claimed only from ``custody: "in_game"``, so a race with a listing of the
same item loses cleanly on one side. Currency moves through the wallets of the reserved
``escrow`` account with ledger entries of kind ``trade`` whose ``transfer`` is the trade id:
each trade's entries net to zero per currency, which ``elysium audit`` checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from commerce import ledger, trading
from commerce.economy import Economy, Outcome, Replay
from commerce.errors import Busy, Problem
from commerce.store import Conflict, Doc, Session, Store, now
from commerce.trading import ESCROW, Effect, Event, Role, Terms

log = logging.getLogger("commerce.trades")

SWEEP_BATCH = 100


class _Expired(Exception):
    """An open trade past its expiry was acted on: it is expired first, then the event refused."""


def trade_body(doc: Doc) -> dict[str, Any]:
    def side(raw: Doc) -> dict[str, Any]:
        return {"items": [{"id": i["id"], "item_id": i["type"]} for i in raw["items"]],
                "currency": dict(raw["currency"])}

    closed = doc.get("closed_at")
    return {"trade_id": doc["_id"], "offerer_id": doc["offerer"], "receiver_id": doc["receiver"],
            "state": doc["state"], "offer": side(doc["offer"]), "request": side(doc["request"]),
            "created_at": doc["created_at"].isoformat(), "expires_at": doc["expires_at"].isoformat(),
            "closed_at": closed.isoformat() if closed is not None else None, "closed_by": doc.get("closed_by")}


def system_account_doc(account: str, at: datetime) -> Doc:
    """A reserved account: it holds wallets, and its username cannot be registered or logged in with."""
    return {"_id": account, "username": account, "username_lower": f"system:{account}", "password_hash": "!",
            "display_name": account.capitalize(), "avatar_url": None, "region": None, "settings": {},
            "system": True, "created_at": at, "updated_at": at}


class Trades:
    def __init__(self, store: Store, economy: Economy, default_ttl_s: int,
                 clock: Callable[[], datetime] = now) -> None:
        self.store = store
        self.economy = economy
        self.default_ttl_s = default_ttl_s
        self.clock = clock  # replaced by tests that expire trades
        self.trades = store.trades
        self.expired = 0  # trades this replica's sweeper expired, for metrics
        # This replica's turn on each escrow wallet (see _escrow_turn).
        self._escrow_locks = {c: asyncio.Lock() for c in ledger.CURRENCIES}

    async def ensure(self) -> None:
        """The indexes and the escrow account with its wallets; safe with several replicas starting."""
        t = self.trades
        for role in ("offerer", "receiver"):
            await t.create_index([(role, ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)])
            await t.create_index([(role, ASCENDING), ("state", ASCENDING), ("created_at", DESCENDING),
                                  ("_id", DESCENDING)])
        await t.create_index([("state", ASCENDING), ("expires_at", ASCENDING)])
        at = now()
        try:
            await self.store.accounts.update_one({"_id": ESCROW}, {"$setOnInsert": system_account_doc(ESCROW, at)},
                                                 upsert=True)
        except DuplicateKeyError:
            pass  # another replica made it at the same moment
        for currency in ledger.CURRENCIES:
            wid = ledger.wallet_id(ESCROW, currency)
            try:
                await self.store.wallets.update_one({"_id": wid}, {"$setOnInsert": {
                    "account": ESCROW, "currency": currency, "balance": 0, "updated_at": at}}, upsert=True)
            except DuplicateKeyError:
                pass

    @contextlib.asynccontextmanager
    async def _escrow_turn(self, currencies: Iterable[str]) -> AsyncIterator[None]:
        """Hold this replica's turn on the escrow wallets a transaction is about to write.

        Every trade with offered currency writes ``escrow:<currency>``, one document. Transactions
        writing one document at once conflict, and all but one retry from the start; with tens at
        once the retries crowd out the commits (measured: docs/benchmarks.md). So within a replica
        they take turns (a lock per currency, taken in one order); across replicas they still
        conflict and retry, as many at a time as there are replicas. A turn not had within the
        transaction deadline is ``503 busy``, having changed nothing.
        """
        held: list[asyncio.Lock] = []
        try:
            for currency in ledger.CURRENCIES:
                if currency not in currencies:
                    continue
                lock = self._escrow_locks[currency]
                try:
                    await asyncio.wait_for(lock.acquire(), self.store.timeout_s or 60.0)
                except TimeoutError:
                    raise Busy() from None
                held.append(lock)
            yield
        finally:
            for lock in held:
                lock.release()

    async def _offered_currencies(self, tid: str) -> list[str]:
        """The currencies a trade's offer holds in escrow (its terms never change)."""
        doc = await self.trades.find_one({"_id": tid}, {"offer.currency": 1})
        return list((doc or {}).get("offer", {}).get("currency", {}))

    # --- money and items, inside a transaction ---------------------------------------------

    async def _pay(self, s: Session, tid: str, step: str, source: str, target: str, currency: ledger.Currency,
                   amount: int, reason: str) -> None:
        """Move ``amount`` from ``source`` to ``target``: two ledger entries of transfer ``tid``."""
        for account, delta in ((source, -amount), (target, amount)):
            entry: Doc = {"_id": ledger.entry_id("trade", tid, f"{step}\x00{account}\x00{currency}"), "kind": "trade",
                          "transfer": tid, "reason": reason, "ref": tid, "items": []}
            await self.economy._move(s, ledger.Change(ledger.AccountId(account), currency, delta), entry)

    async def _move_item(self, s: Session, item: str, match: Doc, to: str) -> Doc:
        """Give ``item`` (as ``match`` finds it) to ``to``, in game; its one-per-owner mark goes for now."""
        doc = await self.store.items.find_one({"_id": item, **match}, {"type": 1, "unique_owner": 1}, session=s)
        if doc is None:
            raise Problem("item-unavailable", f"item {item} is no longer where the trade needs it")
        done = await self.store.items.update_one({"_id": item, **match},
                                                 {"$set": {"owner": to, "custody": "in_game"},
                                                  "$unset": {"trade": "", "unique_owner": ""}}, session=s)
        if done.matched_count != 1:
            raise Conflict(item)
        return doc

    async def _swap(self, s: Session, trade: Doc) -> None:
        tid, offerer, receiver = trade["_id"], trade["offerer"], trade["receiver"]
        moved: list[tuple[Doc, str]] = []
        for i in trade["offer"]["items"]:
            moved.append((await self._move_item(s, i["id"], {"owner": offerer, "custody": "escrow", "trade": tid},
                                                receiver), receiver))
        for i in trade["request"]["items"]:
            moved.append((await self._move_item(s, i["id"], {"owner": receiver, "custody": "in_game"}, offerer),
                          offerer))
        # Unique items get their new owner's mark only now, so two players may swap items of one type.
        for doc, owner in moved:
            if "unique_owner" not in doc:
                continue
            mark = f"{owner}|{doc['type']}"
            if await self.store.items.find_one({"unique_owner": mark}, {"_id": 1}, session=s):
                raise Problem("already-owned", f"{owner} already owns a {doc['type']}, which is unique")
            await self.store.items.update_one({"_id": doc["_id"]}, {"$set": {"unique_owner": mark}}, session=s)
        for currency, amount in trade["request"]["currency"].items():
            await self._pay(s, tid, "pay", receiver, offerer, currency, amount, f"paid in trade {tid}")
        for currency, amount in trade["offer"]["currency"].items():
            await self._pay(s, tid, "release", ESCROW, receiver, currency, amount, f"received in trade {tid}")

    async def _return(self, s: Session, trade: Doc) -> None:
        tid, offerer = trade["_id"], trade["offerer"]
        for i in trade["offer"]["items"]:
            done = await self.store.items.update_one(
                {"_id": i["id"], "owner": offerer, "custody": "escrow", "trade": tid},
                {"$set": {"custody": "in_game"}, "$unset": {"trade": ""}}, session=s)
            if done.matched_count != 1:
                raise Problem("item-unavailable", f"item {i['id']} is not in this trade's escrow")
        for currency, amount in trade["offer"]["currency"].items():
            await self._pay(s, tid, "refund", ESCROW, offerer, currency, amount, f"returned from trade {tid}")

    # --- making an offer --------------------------------------------------------------------

    async def _side_items(self, s: Session, ids: tuple[str, ...], owner: str, where: str,
                          missing: str) -> list[Doc]:
        found = {d["_id"]: d async for d in self.store.items.find({"_id": {"$in": list(ids)}},
                                                                  {"owner": 1, "custody": 1, "type": 1}, session=s)}
        docs: list[Doc] = []
        for n, item in enumerate(ids):
            doc = found.get(item)
            if doc is None or doc.get("owner") != owner:
                raise Problem(missing, f"{where}.items[{n}]: {item} is not an item of {owner}",
                              errors={f"{where}.items[{n}]": "is not an item of its owner"})
            item_type = await self.store.get_item(str(doc.get("type")), session=s)
            if item_type is None or not item_type.tradeable:
                raise Problem("item-not-tradeable", f"{where}.items[{n}]: {doc.get('type')} cannot be traded",
                              errors={f"{where}.items[{n}]": "its item type cannot be traded"})
            docs.append(doc)
        return docs

    async def create(self, offerer: str, terms: Terms, key: str) -> Outcome:
        tid = trading.trade_id(offerer, key)
        fp = terms.fingerprint()
        if terms.receiver == offerer:
            raise Problem("trade-with-self", "a player cannot trade with themselves")
        ttl = terms.expires_in_s or self.default_ttl_s

        async def body(s: Session) -> Outcome:
            if await self.trades.find_one({"_id": tid}, {"_id": 1}, session=s):
                raise Replay(tid)
            accounts = {a["_id"]: a async for a in self.store.accounts.find(
                {"_id": {"$in": [offerer, terms.receiver]}}, {"system": 1}, session=s)}
            if offerer not in accounts or accounts[offerer].get("system"):
                raise Problem("forbidden", "this account cannot trade")
            if terms.receiver not in accounts or accounts[terms.receiver].get("system"):
                raise Problem("player-not-found", f"there is no player {terms.receiver[:64]}")
            offered = await self._side_items(s, terms.offer.items, offerer, "offer", "unknown-owned-item")
            requested = await self._side_items(s, terms.request.items, terms.receiver, "request",
                                               "unknown-requested-item")
            for n, doc in enumerate(offered):
                if doc.get("custody") != "in_game":
                    raise Problem("item-unavailable", f"offer.items[{n}]: {doc['_id']} is {doc.get('custody')}, "
                                                      "not in game", errors={f"offer.items[{n}]": "is not in game"})
                done = await self.store.items.update_one(
                    {"_id": doc["_id"], "owner": offerer, "custody": "in_game"},
                    {"$set": {"custody": "escrow", "trade": tid}}, session=s)
                if done.matched_count != 1:
                    raise Conflict(doc["_id"])
            at = trading.to_ms(self.clock())
            for currency, amount in terms.offer.currency:
                await self._pay(s, tid, "escrow", offerer, ESCROW, currency, amount, f"offered in trade {tid}")
            trade: Doc = {"_id": tid, "offerer": offerer, "receiver": terms.receiver, "state": "open",
                          "offer": {"items": [{"id": d["_id"], "type": d["type"]} for d in offered],
                                    "currency": dict(terms.offer.currency)},
                          "request": {"items": [{"id": d["_id"], "type": d["type"]} for d in requested],
                                      "currency": dict(terms.request.currency)},
                          "fingerprint": fp, "created_at": at, "expires_at": trading.expiry(at, ttl),
                          "closed_at": None, "closed_by": None, "closed_event": None, "closed_key": None}
            await self.trades.insert_one(trade, session=s)
            return Outcome(trade_body(trade), replayed=False)

        try:
            async with self._escrow_turn([c for c, _ in terms.offer.currency]):
                return await self.store.transaction(body)
        except (Replay, Problem):
            # A refusal may be the retry of an offer that went through (its items are now in escrow).
            stored = await self.trades.find_one({"_id": tid})
            if stored is None:
                raise
            if stored.get("fingerprint") != fp:
                raise Problem("idempotency-key-reused",
                              "this Idempotency-Key was used for a different trade; use a new key") from None
            return Outcome(trade_body(stored), replayed=True)

    # --- events -----------------------------------------------------------------------------

    async def act(self, actor: str, tid: str, event: Event, key: str) -> Outcome:
        """``actor`` accepts, declines or cancels trade ``tid``; a retry with the same key gets the first outcome."""
        closing = trading.closing_key(actor, key)

        async def body(s: Session) -> Outcome:
            trade = await self.trades.find_one({"_id": tid}, session=s)
            if trade is None or actor not in (trade["offerer"], trade["receiver"]):
                raise Problem("unknown-trade", "there is no such trade of yours")
            if trade["state"] != "open" and trade.get("closed_key") == closing:
                if trade.get("closed_event") != event:
                    raise Problem("idempotency-key-reused",
                                  f"this Idempotency-Key already {trade.get('closed_event')}ed the trade")
                raise Replay(tid)
            role: Role = "offerer" if actor == trade["offerer"] else "receiver"
            transition = self._step(trade, event, role)
            if trade["expires_at"] <= self.clock():
                raise _Expired(tid)
            return await self._close(s, trade, transition, actor, closing)

        try:
            async with self._escrow_turn(await self._offered_currencies(tid)):
                return await self.store.transaction(body)
        except Replay:
            stored = await self.trades.find_one({"_id": tid})
            assert stored is not None
            return Outcome(trade_body(stored), replayed=True)
        except _Expired:
            await self.expire(tid)
            raise Problem("trade-not-open", "the trade has expired; its escrow went back to the offerer",
                          state="expired") from None

    def _step(self, trade: Doc, event: Event, role: Role) -> trading.Transition:
        try:
            return trading.step(trade["state"], event, role)
        except trading.TradeRefused as exc:
            raise Problem(exc.code, str(exc), state=trade["state"]) from None

    async def _close(self, s: Session, trade: Doc, transition: trading.Transition, actor: str | None,
                     closing: str | None) -> Outcome:
        at = trading.to_ms(self.clock())
        changes = {"state": transition.to, "closed_at": at, "closed_by": actor, "closed_event": transition.event,
                   "closed_key": closing}
        done = await self.trades.update_one({"_id": trade["_id"], "state": "open"}, {"$set": changes}, session=s)
        if done.matched_count != 1:
            raise Conflict(trade["_id"])
        if transition.effect is Effect.SWAP:
            await self._swap(s, trade)
        else:
            await self._return(s, trade)
        trade.update(changes)
        return Outcome(trade_body(trade), replayed=False)

    async def expire(self, tid: str) -> bool:
        """Expire one trade past its time and return its escrow; False when it is not (or no longer) due."""

        async def body(s: Session) -> bool:
            trade = await self.trades.find_one({"_id": tid}, session=s)
            if trade is None or trade["state"] != "open" or trade["expires_at"] > self.clock():
                return False
            await self._close(s, trade, trading.step("open", "expire", "sweeper"), None, None)
            return True

        async with self._escrow_turn(await self._offered_currencies(tid)):
            expired = await self.store.transaction(body)
        if expired:
            self.expired += 1
        return expired

    async def sweep(self) -> int:
        """Expire every trade past its time (in batches); several replicas sweeping at once is harmless."""
        count = 0
        while True:
            due = [d["_id"] async for d in self.trades.find({"state": "open", "expires_at": {"$lte": self.clock()}},
                                                            {"_id": 1}).sort("expires_at", ASCENDING)
                   .limit(SWEEP_BATCH)]
            for tid in due:
                count += await self.expire(tid)
            if len(due) < SWEEP_BATCH:
                return count

    async def run_sweeper(self, stop: asyncio.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                expired = await self.sweep()
                if expired:
                    log.info("trades expired", extra={"count": expired})
            except (PyMongoError, Problem) as exc:
                log.warning("trade sweep failed; retrying", extra={"error": str(exc), "retry_in_s": interval_s})
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass

    # --- reads ------------------------------------------------------------------------------

    async def get(self, actor: str, tid: str) -> dict[str, Any]:
        doc = await self.trades.find_one({"_id": tid, "$or": [{"offerer": actor}, {"receiver": actor}]})
        if doc is None:
            raise Problem("unknown-trade", "there is no such trade of yours")
        return trade_body(doc)

    async def page(self, actor: str, role: str, state: str | None, limit: int,
                   cursor: tuple[datetime, str] | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the trades ``actor`` sent or received, newest first, and the next page's cursor."""
        query: Doc = {"offerer" if role == "sent" else "receiver": actor}
        if state is not None:
            query["state"] = state
        if cursor is not None:
            at, tid = cursor
            query["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": tid}}]
        docs = [d async for d in self.trades.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
                .limit(limit + 1)]
        more = len(docs) > limit
        docs = docs[:limit]
        following = trading.encode_cursor(docs[-1]["created_at"], docs[-1]["_id"]) if more else None
        return [trade_body(d) for d in docs], following
