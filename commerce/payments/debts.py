"""The debt rule, in one place: a debit takes what is there and owes the rest; credits pay debts first.

A debit that finds the currency already spent (a refund or chargeback of premium the player
bought and used) takes the balance and records the unpaid part as a **debt**: a document in
``debts`` whose ``_id`` is the debit's ledger entry id, never a negative balance. Every later
credit to that wallet (a payment, a reward, a grant, a sale) pays the wallet's open debts first,
oldest first, each payment a ``debt`` ledger entry of its own, in the credit's transaction:
:meth:`commerce.economy.Economy._move` calls :func:`settle` after every credit.
"""

from __future__ import annotations

from typing import Any

from commerce import ledger
from commerce.payments import rules
from commerce.store import Conflict, Doc, Session, Store, now

COLLECTION = "debts"


async def ensure_indexes(store: Store) -> None:
    await store.db[COLLECTION].create_index([("account", 1), ("currency", 1), ("remaining", 1), ("created_at", 1)])


async def debit(store: Store, s: Session, account: str, currency: ledger.Currency, amount: int, entry: Doc) -> int:
    """Inside a transaction: take up to ``amount`` from the wallet with ``entry``; owe the rest. Returns what is owed.

    The entry records the whole debit (``requested``) and what it took (``delta``); a duplicate
    entry id propagates as :class:`pymongo.errors.DuplicateKeyError` (the caller checked first).
    """
    wid = ledger.wallet_id(account, currency)
    wallet = await store.wallets.find_one({"_id": wid}, {"balance": 1}, session=s)
    if wallet is None:
        raise Conflict(wid)  # a credited payment's wallet exists; a vanished one is retried, then 503
    balance = int(wallet["balance"])
    taken, owed = rules.take(balance, amount)
    at = now()
    entry.update(account=account, currency=currency, delta=-taken, balance_after=balance - taken, requested=amount,
                 owed=owed, at=at)
    await store.ledger.insert_one(entry, session=s)
    if taken:
        done = await store.wallets.update_one({"_id": wid, "balance": balance},
                                              {"$set": {"balance": balance - taken, "updated_at": at}}, session=s)
        if done.matched_count != 1:
            raise Conflict(wid)
    if owed:
        await store.db[COLLECTION].insert_one(
            {"_id": entry["_id"], "account": account, "currency": currency, "amount": owed, "paid": 0,
             "remaining": owed, "cause": entry["kind"], "payment": entry.get("payment"), "created_at": at},
            session=s)
    return owed


async def settle(store: Store, s: Session, account: str, currency: str, balance: int, credit: Doc) -> int:
    """Inside a credit's transaction, after the wallet holds ``balance``: pay its open debts. Returns the balance left."""
    debts = store.db[COLLECTION]
    open_debts = [(str(d["_id"]), int(d["remaining"])) async for d in debts.find(
        {"account": account, "currency": currency, "remaining": {"$gt": 0}}, {"remaining": 1},
        session=s).sort("created_at", 1)]
    plan = rules.settle(balance, open_debts)
    if not plan:
        return balance
    wid = ledger.wallet_id(account, currency)
    start = balance
    remaining = dict(open_debts)
    for debt_id, pay in plan:
        balance -= pay
        entry: Doc = {"_id": ledger.entry_id("debt", debt_id, str(credit["_id"])), "kind": "debt", "debt": debt_id,
                      "reason": f"paid towards the debt of {debt_id}", "ref": credit["_id"], "items": [],
                      "account": account, "currency": currency, "delta": -pay, "balance_after": balance, "at": now()}
        await store.ledger.insert_one(entry, session=s)
        done = await debts.update_one({"_id": debt_id, "remaining": remaining[debt_id]},
                                      {"$inc": {"remaining": -pay, "paid": pay}, "$set": {"updated_at": entry["at"]}},
                                      session=s)
        if done.matched_count != 1:
            raise Conflict(debt_id)
    done = await store.wallets.update_one({"_id": wid, "balance": start},
                                          {"$set": {"balance": balance, "updated_at": now()}}, session=s)
    if done.matched_count != 1:
        raise Conflict(wid)
    return balance


async def of(store: Store, account: str) -> list[dict[str, Any]]:
    """A player's debts, open ones first, as the wallet answer shows them."""
    cursor = store.db[COLLECTION].find({"account": account}).sort([("remaining", -1), ("created_at", 1)]).limit(100)
    return [{"id": d["_id"], "currency": d["currency"], "amount": d["amount"], "paid": d["paid"],
             "remaining": d["remaining"], "cause": d["cause"], "payment_id": d.get("payment"),
             "created_at": d["created_at"].isoformat()} async for d in cursor]
