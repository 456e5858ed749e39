"""Payments in MongoDB: payment records, received events, and the ledger moves of each event.

Collections: ``payments`` (one record per checkout, ``_id`` the provider's payment id: a Stripe
Checkout Session id), ``payment_events`` (every event acted on or ignored, ``_id`` the event id)
and ``debts`` (:mod:`commerce.payments.debts`). Each event is one transaction: the event record,
the payment's state change (compare-and-set on the state read) and its ledger entry commit
together or not at all. The credit's ledger entry id is derived from the payment id, so however
many times and however concurrently a ``checkout.session.completed`` arrives, the unique ``_id``
lets one credit through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from commerce import ledger
from commerce.catalog import Pack
from commerce.economy import Economy, Replay
from commerce.errors import Problem
from commerce.payments import debts, rules
from commerce.payments.provider import ChargeRefunded, CheckoutCompleted, DisputeCreated, Event, OtherEvent
from commerce.store import Conflict, Doc, Session, Store, now


def credit_entry_id(payment_id: str) -> str:
    return ledger.entry_id("payment", payment_id, "credit")


def chargeback_entry_id(payment_id: str) -> str:
    return ledger.entry_id("chargeback", payment_id, "dispute")


def refund_entry_id(payment_id: str, target: int) -> str:
    """One refund entry per cumulative premium taken back: a redelivered refund event finds it."""
    return ledger.entry_id("refund", payment_id, str(target))


def payment_body(p: Mapping[str, Any]) -> dict[str, Any]:
    paid_at = p.get("paid_at")
    return {"payment_id": p["_id"], "provider": p["provider"], "pack_id": p["pack"], "premium": p["premium"],
            "price": p["amount"], "currency": p["currency"], "state": p["state"], "checkout_url": p.get("url"),
            "refunded_premium": p.get("refunded_premium", 0), "chargeback_premium": p.get("chargeback_premium", 0),
            "created_at": p["created_at"].isoformat(), "paid_at": paid_at.isoformat() if paid_at else None}


class PaymentLedger:
    def __init__(self, store: Store, economy: Economy) -> None:
        self.store = store
        self.economy = economy
        self.payments = store.db["payments"]
        self.events = store.db["payment_events"]

    async def ensure_indexes(self) -> None:
        await self.payments.create_index([("account", ASCENDING), ("created_at", DESCENDING)])
        await self.payments.create_index("checkout_key", unique=True)
        await self.payments.create_index("payment_intent", sparse=True)
        await self.events.create_index("intent", sparse=True)
        await debts.ensure_indexes(self.store)

    # --- checkouts ---------------------------------------------------------------------------

    async def by_checkout_key(self, key: str) -> Doc | None:
        return await self.payments.find_one({"checkout_key": key})

    async def get(self, payment_id: str) -> Doc | None:
        return await self.payments.find_one({"_id": payment_id})

    async def record_checkout(self, payment_id: str, provider: str, account: str, pack: Pack, key: str, fp: str,
                              url: str) -> tuple[Doc, bool]:
        """Store a new checkout as ``pending``; (the record, True) or, when it exists already, (that one, False)."""
        doc: Doc = {"_id": payment_id, "provider": provider, "account": account, "pack": pack.id,
                    "premium": pack.premium, "amount": pack.price, "currency": pack.currency, "state": "pending",
                    "checkout_key": key, "fingerprint": fp, "url": url, "refunded_premium": 0,
                    "chargeback_premium": 0, "created_at": now()}
        try:
            await self.payments.insert_one(doc)
            return doc, True
        except DuplicateKeyError:
            found = await self.payments.find_one({"$or": [{"_id": payment_id}, {"checkout_key": key}]})
            if found is None:
                raise Conflict(payment_id) from None
            return found, False

    async def of(self, account: str, limit: int) -> list[dict[str, Any]]:
        cursor = self.payments.find({"account": account}).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        return [payment_body(p) async for p in cursor.limit(limit)]

    # --- events ------------------------------------------------------------------------------

    async def apply(self, event: Event, packs: dict[str, Pack]) -> str:
        """Act on one verified event, once. Returns the outcome recorded with the event."""

        async def body(s: Session) -> str:
            if await self.events.find_one({"_id": event.event_id}, {"_id": 1}, session=s):
                return "duplicate"
            payment: str | None
            if isinstance(event, CheckoutCompleted):
                outcome, payment = await self._completed(s, event, packs)
            elif isinstance(event, ChargeRefunded):
                outcome, payment = await self._refunded(s, event)
            elif isinstance(event, DisputeCreated):
                outcome, payment = await self._disputed(s, event)
            else:
                outcome, payment = "ignored", None
            record: Doc = {"_id": event.event_id, "type": _type(event), "payment": payment, "outcome": outcome,
                           "received_at": now()}
            if outcome == "unmatched" and isinstance(event, (ChargeRefunded, DisputeCreated)):
                # Stripe does not order events: a refund may arrive before its payment's completion.
                record.update(intent=event.payment_intent, held=asdict(event))
            await self.events.insert_one(record, session=s)
            return outcome

        try:
            return await self.store.transaction(body)
        except Replay:  # the ledger entry exists: another delivery committed it first
            return "duplicate"

    async def _completed(self, s: Session, e: CheckoutCompleted, packs: dict[str, Pack]) -> tuple[str, str]:
        payment = await self.payments.find_one({"_id": e.payment_id}, session=s)
        if payment is None:  # the checkout's record was lost (a crash after Stripe answered): rebuild it
            pack = packs.get(e.pack_id)
            if pack is None:
                raise Problem("pack-not-found", f"the event names pack {e.pack_id!r}, which the catalog lacks")
            if await self.store.wallets.find_one({"_id": ledger.wallet_id(e.account, "premium")}, {"_id": 1},
                                                 session=s) is None:
                raise Problem("unknown-account", f"the event names player {e.account!r}, who has no account")
            payment = {"_id": e.payment_id, "provider": "stripe", "account": e.account, "pack": pack.id,
                       "premium": pack.premium, "amount": pack.price, "currency": pack.currency, "state": "pending",
                       "checkout_key": f"event:{e.event_id}", "fingerprint": "", "url": None,
                       "refunded_premium": 0, "chargeback_premium": 0, "created_at": now()}
            await self.payments.insert_one(payment, session=s)
        if payment["account"] != e.account or payment["pack"] != e.pack_id:
            raise Problem("payment-mismatch", "the event's player or pack differs from the checkout's")
        if e.amount != payment["amount"] or e.currency != payment["currency"]:
            raise Problem("payment-mismatch", f"the event charged {e.amount} {e.currency}; the pack costs "
                                              f"{payment['amount']} {payment['currency']}")
        if not e.paid:
            return "unpaid", e.payment_id  # a delayed payment method: credited on async_payment_succeeded
        state = rules.next_state(payment["state"], "paid")
        if state is None:
            return "duplicate", e.payment_id
        entry: Doc = {"_id": credit_entry_id(e.payment_id), "kind": "payment", "payment": e.payment_id,
                      "reason": f"bought pack {payment['pack']}", "ref": e.payment_id, "items": []}
        try:
            await self.economy._move(s, ledger.Change(ledger.AccountId(payment["account"]), "premium",
                                                      int(payment["premium"])), entry)
        except Problem as exc:
            if exc.code == "balance-limit":
                raise Problem("payment-mismatch", "the wallet cannot hold this pack's premium") from None
            raise
        done = await self.payments.update_one(
            {"_id": e.payment_id, "state": payment["state"]},
            {"$set": {"state": state, "paid_at": entry["at"], "payment_intent": e.payment_intent,
                      "credit_entry": entry["_id"]}}, session=s)
        if done.matched_count != 1:
            raise Conflict(e.payment_id)
        if e.payment_intent:
            await self._apply_held(s, e.payment_id, e.payment_intent)
        return "credited", e.payment_id

    async def _apply_held(self, s: Session, payment_id: str, intent: str) -> None:
        """Inside the credit's transaction: the refunds and disputes that arrived before it, in their order."""
        held = [h async for h in self.events.find({"intent": intent, "outcome": "unmatched"},
                                                  session=s).sort("received_at", ASCENDING)]
        for h in held:
            fields = h["held"]
            late: ChargeRefunded | DisputeCreated = (ChargeRefunded(**fields) if h["type"] == rules.REFUNDED
                                                     else DisputeCreated(**fields))
            outcome, _ = await (self._refunded(s, late) if isinstance(late, ChargeRefunded)
                                else self._disputed(s, late))
            await self.events.update_one({"_id": h["_id"], "outcome": "unmatched"},
                                         {"$set": {"outcome": outcome, "payment": payment_id, "applied_late": True}},
                                         session=s)

    async def _by_intent(self, s: Session, intent: str) -> Doc | None:
        return await self.payments.find_one({"payment_intent": intent}, session=s)

    async def _refunded(self, s: Session, e: ChargeRefunded) -> tuple[str, str | None]:
        payment = await self._by_intent(s, e.payment_intent)
        if payment is None:
            return "unmatched", None  # not yet completed (applied then), or a charge of something else
        pid = str(payment["_id"])
        premium = int(payment["premium"])
        target = min(rules.refund_target(premium, e.amount, e.amount_refunded),
                     premium - int(payment.get("chargeback_premium", 0)))
        done_before = int(payment.get("refunded_premium", 0))
        more = target - done_before
        happened = "full_refund" if target + int(payment.get("chargeback_premium", 0)) >= premium else "partial_refund"
        state = rules.next_state(payment["state"], happened)
        if more <= 0 or state is None:
            return "duplicate", pid
        entry: Doc = {"_id": refund_entry_id(pid, target), "kind": "refund", "payment": pid, "ref": pid, "items": [],
                      "reason": f"refund of pack {payment['pack']} ({e.amount_refunded} of {e.amount} "
                                f"{e.currency} returned)"}
        await self._debit(s, payment, more, entry)
        done = await self.payments.update_one({"_id": pid, "state": payment["state"], "refunded_premium": done_before},
                                              {"$set": {"state": state, "refunded_premium": target}}, session=s)
        if done.matched_count != 1:
            raise Conflict(pid)
        return "refunded", pid

    async def _disputed(self, s: Session, e: DisputeCreated) -> tuple[str, str | None]:
        payment = await self._by_intent(s, e.payment_intent)
        if payment is None:
            return "unmatched", None
        pid = str(payment["_id"])
        left = int(payment["premium"]) - int(payment.get("refunded_premium", 0))
        state = rules.next_state(payment["state"], "dispute")
        if state is None or left <= 0:
            return "duplicate", pid
        entry: Doc = {"_id": chargeback_entry_id(pid), "kind": "chargeback", "payment": pid, "ref": pid, "items": [],
                      "reason": f"chargeback of pack {payment['pack']} (dispute {e.dispute_id[:64]})"}
        await self._debit(s, payment, left, entry)
        done = await self.payments.update_one({"_id": pid, "state": payment["state"]},
                                              {"$set": {"state": state, "chargeback_premium": left}}, session=s)
        if done.matched_count != 1:
            raise Conflict(pid)
        return "charged_back", pid

    async def _debit(self, s: Session, payment: Doc, amount: int, entry: Doc) -> None:
        try:
            await debts.debit(self.store, s, str(payment["account"]), "premium", amount, entry)
        except DuplicateKeyError:
            raise Replay(entry["_id"]) from None


def _type(event: Event) -> str:
    if isinstance(event, OtherEvent):
        return event.type[:255]
    return {CheckoutCompleted: "checkout.session.completed", ChargeRefunded: rules.REFUNDED,
            DisputeCreated: rules.DISPUTED}[type(event)]
