"""Wallets, purchases, grants and reward grants: each one transaction with its ledger entry.

The ledger entry id is derived from the idempotency key (:func:`commerce.ledger.entry_id`)
and is the ``_id`` of the entry, so the unique ``_id`` index makes a second application
impossible: a retry finds the entry inside its transaction and answers with the first
outcome instead. Wallets change by compare-and-set on the balance read in the same
transaction, and a capped item type by a conditional ``$inc`` on its supply counter.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from commerce import ledger, pricing
from commerce.catalog import ItemType
from commerce.errors import Problem
from commerce.payments import debts
from commerce.rules import Reward
from commerce.store import Conflict, Doc, Session, Store, now, page_after


class Replay(Exception):
    """The ledger already holds this operation's entry: answer with its first outcome."""


@dataclass(frozen=True)
class Outcome:
    """The result of an idempotent operation; ``replayed`` when an earlier call already did it."""

    body: dict[str, Any]
    replayed: bool


# The ledger rules' refusals a client sees under their own code; any other is an invalid request.
_MONEY_CODES = {"insufficient_funds": "insufficient-funds", "balance_limit": "balance-limit"}


def _money_problem(exc: ledger.MoneyError) -> Problem:
    return Problem(_MONEY_CODES.get(exc.code, "invalid-request"), str(exc))


def _item_doc(item: ItemType, owner: str, origin: dict[str, Any]) -> Doc:
    doc: Doc = {"_id": uuid.uuid4().hex, "owner": owner, "type": item.id, "attributes": {}, "origin": origin,
                "custody": "in_game", "created_at": now()}
    if not item.stackable:
        doc["unique_owner"] = f"{owner}|{item.id}"
    return doc


def purchase_body(entry: Doc) -> dict[str, Any]:
    return {"purchase_id": entry["_id"], "item_id": entry["item_id"], "quantity": entry["quantity"],
            "currency": entry["currency"], "price": -entry["delta"], "balance": entry["balance_after"],
            "items": entry["items"]}


def grant_body(entry: Doc) -> dict[str, Any]:
    return {"grant_id": entry["_id"], "account_id": entry["account"], "currency": entry["currency"],
            "amount": entry["delta"], "balance": entry["balance_after"], "reason": entry.get("reason", "")}


class Economy:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads ------------------------------------------------------------------------------

    async def wallet(self, account: str) -> dict[str, int]:
        out: dict[str, int] = {c: 0 for c in ledger.CURRENCIES}
        async for w in self.store.wallets.find({"account": account}):
            out[w["currency"]] = int(w["balance"])
        return out

    async def ledger_page(self, account: str, limit: int, before: str | None) -> list[dict[str, Any]]:
        query = await page_after(self.store.ledger, {"account": account}, "at", before, "unknown-ledger-entry")
        cursor = self.store.ledger.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [{"id": e["_id"], "kind": e["kind"], "currency": e["currency"], "delta": e["delta"],
                 "balance_after": e["balance_after"], "reason": e.get("reason", ""), "ref": e.get("ref"),
                 "items": e.get("items", []), "at": e["at"].isoformat()} async for e in cursor]

    async def inventory(self, account: str, limit: int, before: str | None = None) -> list[dict[str, Any]]:
        query = await page_after(self.store.items, {"owner": account}, "created_at", before, "unknown-owned-item")
        cursor = self.store.items.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [{"id": i["_id"], "item_id": i["type"], "custody": i["custody"], "attributes": i.get("attributes", {}),
                 "origin": i.get("origin", {}), "created_at": i["created_at"].isoformat()} async for i in cursor]

    # --- the shared step: one wallet change with its ledger entry -----------------------------

    async def _move(self, s: Session, change: ledger.Change, entry: Doc) -> int:
        """Inside a transaction: apply ``change`` with compare-and-set and append ``entry``.

        A duplicate ledger ``_id`` means this operation was already applied: :class:`Replay`.
        A credit then pays the wallet's open debts (``debts.settle``); the balance returned is the one left.
        """
        wid = ledger.wallet_id(change.account, change.currency)
        wallet = await self.store.wallets.find_one({"_id": wid}, {"balance": 1}, session=s)
        if wallet is None:
            raise Problem("unknown-account", f"account {change.account} has no {change.currency} wallet")
        balance = int(wallet["balance"])
        try:
            after = ledger.apply(balance, change)
        except ledger.MoneyError as exc:
            raise _money_problem(exc) from None
        entry.update(account=change.account, currency=change.currency, delta=change.delta, balance_after=after,
                     at=now())
        try:
            await self.store.ledger.insert_one(entry, session=s)
        except DuplicateKeyError:
            raise Replay(entry["_id"]) from None
        done = await self.store.wallets.update_one({"_id": wid, "balance": balance},
                                                   {"$set": {"balance": after, "updated_at": entry["at"]}}, session=s)
        if done.matched_count != 1:
            raise Conflict(wid)
        if change.delta > 0:  # every credit pays the wallet's debts first (commerce/payments/debts.py)
            after = await debts.settle(self.store, s, change.account, change.currency, after, entry)
        return after

    async def _mint(self, s: Session, item: ItemType, owner: str, quantity: int, origin: dict[str, Any]) -> list[str]:
        """Inside a transaction: make ``quantity`` items, within the supply cap and the one-per-owner rule."""
        if not item.stackable:
            if await self.store.items.find_one({"unique_owner": f"{owner}|{item.id}"}, {"_id": 1}, session=s):
                raise Problem("already-owned", f"{owner} already owns a {item.id}")
        if item.supply_cap is not None:
            # The counter, not the catalog, is the truth: admins change both in one transaction.
            done = await self.store.supply.update_one(
                {"_id": item.id, "remaining": {"$gte": quantity}}, {"$inc": {"remaining": -quantity,
                                                                            "minted": quantity}}, session=s)
            if done.matched_count != 1:
                raise Problem("sold-out", f"{item.id} has reached its supply cap")
        docs = [_item_doc(item, owner, origin) for _ in range(quantity)]
        if len(docs) == 1:
            await self.store.items.insert_one(docs[0], session=s)
        else:
            await self.store.items.insert_many(docs, session=s)
        return [d["_id"] for d in docs]

    # --- purchases --------------------------------------------------------------------------

    async def _replayed(self, eid: str, fp: str, shape: Callable[[Doc], dict[str, Any]]) -> Outcome:
        entry = await self.store.ledger.find_one({"_id": eid})
        if entry is None:  # cannot happen after a committed duplicate; be loud rather than wrong
            raise Problem("busy", "the first request with this Idempotency-Key is still settling; retry")
        if entry.get("fingerprint") != fp:
            raise Problem("idempotency-key-reused",
                          "this Idempotency-Key was used for a different request; use a new key")
        return Outcome(shape(entry), replayed=True)

    async def purchase(self, account: str, item_id: str, currency: str, quantity: int, key: str) -> Outcome:
        eid = ledger.entry_id("purchase", account, key)
        fp = ledger.fingerprint({"item_id": item_id, "currency": currency, "quantity": quantity})
        item = await self.store.get_item(item_id)
        if item is None:
            if await self.store.ledger.find_one({"_id": eid}, {"_id": 1}):
                return await self._replayed(eid, fp, purchase_body)
            raise Problem("unknown-item", f"there is no item type {item_id}")
        try:
            q = pricing.quote(item, currency, quantity)
        except pricing.PricingError as exc:
            if await self.store.ledger.find_one({"_id": eid}, {"_id": 1}):
                return await self._replayed(eid, fp, purchase_body)
            code = {"not_for_sale": "not-for-sale", "bad_quantity": "quantity-limit"}.get(exc.code, "invalid-request")
            raise Problem(code, str(exc)) from None

        async def body(s: Session) -> Outcome:
            entry: Doc = {"_id": eid, "kind": "purchase", "reason": f"bought {q.quantity} x {q.item_id}",
                          "ref": q.item_id, "item_id": q.item_id, "quantity": q.quantity, "fingerprint": fp}
            entry["items"] = await self._mint(s, item, account, q.quantity, {"kind": "purchase", "ledger": eid})
            await self._move(s, ledger.Change(ledger.AccountId(account), q.currency, -q.total), entry)
            return Outcome(purchase_body(entry), replayed=False)

        try:
            return await self.store.transaction(body)
        except (Replay, Problem) as exc:
            # A refusal may only be a retry of a purchase that already went through (the
            # one-per-owner rule or the balance now refuse it): answer with the first outcome.
            if isinstance(exc, Replay) or await self.store.ledger.find_one({"_id": eid}, {"_id": 1}):
                return await self._replayed(eid, fp, purchase_body)
            raise

    # --- grants by an admin -----------------------------------------------------------------

    async def grant(self, account: str, currency: ledger.Currency, amount: int, reason: str, key: str) -> Outcome:
        eid = ledger.entry_id("grant", account, key)
        fp = ledger.fingerprint({"account_id": account, "currency": currency, "amount": amount, "reason": reason})

        async def body(s: Session) -> Outcome:
            entry: Doc = {"_id": eid, "kind": "grant", "reason": reason, "ref": None, "items": [], "fingerprint": fp}
            change = ledger.Change(ledger.AccountId(account), currency, amount)
            await self._move(s, change, entry)
            return Outcome(grant_body(entry), replayed=False)

        try:
            return await self.store.transaction(body)
        except (Replay, Problem) as exc:
            if isinstance(exc, Replay) or await self.store.ledger.find_one({"_id": eid}, {"_id": 1}):
                return await self._replayed(eid, fp, grant_body)
            raise

    # --- match rewards ----------------------------------------------------------------------

    async def grant_reward(self, match_id: str, mode: str, reward: Reward, items: dict[str, ItemType]) -> str:
        """Grant one player's reward for one match, once. Returns the recorded status."""
        eid = ledger.entry_id("reward", match_id, reward.player_id)
        account = reward.player_id

        async def body(s: Session) -> str:
            done = await self.store.rewards.find_one({"_id": eid}, {"status": 1}, session=s)
            if done is not None:
                return "duplicate"
            record: Doc = {"_id": eid, "match_id": match_id, "mode": mode, "player_id": account,
                           "currency": reward.currency, "amount": 0, "items": [], "skipped": [], "at": now()}
            wallet = await self.store.wallets.find_one({"_id": ledger.wallet_id(account, reward.currency)},
                                                       {"_id": 1}, session=s)
            if wallet is None:
                record["status"] = "no_account"
                await self.store.rewards.insert_one(record, session=s)
                return "no_account"
            made: list[str] = []
            for item_id in reward.items:
                item = items.get(item_id)
                if item is None:
                    record["skipped"].append({"item_id": item_id, "why": "unknown_item"})
                    continue
                try:
                    made += await self._mint(s, item, account, 1, {"kind": "reward", "match_id": match_id,
                                                                   "ledger": eid})
                except Problem as exc:
                    record["skipped"].append({"item_id": item_id, "why": exc.code})
            record["items"] = made
            if reward.amount > 0 or made:
                entry: Doc = {"_id": eid, "kind": "reward", "reason": f"{mode} match {match_id}", "ref": match_id,
                              "items": made}
                try:
                    await self._move(s, ledger.Change(ledger.AccountId(account), reward.currency, reward.amount), entry)
                    record["amount"] = reward.amount
                except Problem as exc:
                    if exc.code != "balance_limit":
                        raise
                    record["skipped"].append({"currency": reward.currency, "why": exc.code})
            record["status"] = "granted"
            await self.store.rewards.insert_one(record, session=s)
            return "granted"

        try:
            return await self.store.transaction(body)
        except Replay:
            return "duplicate"
