"""Helpers of the payment tests: Stripe-shaped events signed with the real scheme, and the money checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from tests.commerce.test_storm import audit

WEBHOOK_SECRET = "whsec_test_" + "5" * 32


def signature(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """``Stripe-Signature`` computed here by hand (not by the library under test)."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {"Stripe-Signature": signature(body, secret, at), "Content-Type": "application/json"}


def completed(payment: dict[str, Any], account: str, *, event_id: str | None = None, intent: str | None = None,
              amount: int | None = None, pack: str | None = None, paid: bool = True) -> dict[str, Any]:
    return {"id": event_id or f"evt_{uuid.uuid4().hex}", "object": "event", "type": "checkout.session.completed",
            "created": int(time.time()), "livemode": False,
            "data": {"object": {"id": payment["payment_id"], "object": "checkout.session",
                                "amount_total": payment["price"] if amount is None else amount,
                                "currency": payment["currency"].lower(), "client_reference_id": account,
                                "metadata": {"player": account, "pack": pack or payment["pack_id"]},
                                "payment_intent": intent or f"pi_{payment['payment_id']}",
                                "payment_status": "paid" if paid else "unpaid", "status": "complete"}}}


def refunded(intent: str, amount: int, refunded_: int, currency: str = "eur") -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "charge.refunded", "created": int(time.time()),
            "data": {"object": {"id": f"ch_{uuid.uuid4().hex[:12]}", "object": "charge", "payment_intent": intent,
                                "amount": amount, "amount_refunded": refunded_, "currency": currency}}}


def disputed(intent: str, amount: int, currency: str = "eur") -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "charge.dispute.created",
            "created": int(time.time()),
            "data": {"object": {"id": f"dp_{uuid.uuid4().hex[:12]}", "object": "dispute", "payment_intent": intent,
                                "charge": "ch_x", "amount": amount, "currency": currency}}}


async def post_event(client: Any, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    resp = await client.post("/v1/payments/webhook", data=body, headers=headers)
    return resp.status, await resp.json()


async def deliver(client: Any, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """As Stripe delivers: again after any 5xx (here 503, when a storm outlasts a transaction's retries)."""
    for _ in range(30):
        status, answer = await post_event(client, body, headers)
        if status < 500:
            return status, answer
    return status, answer


async def premium_totals(db: Any) -> dict[str, int]:
    """Premium over all wallets, what payments put in, what refunds and chargebacks asked back, debts open."""
    wallets = sum([w["balance"] async for w in db["wallets"].find({"currency": "premium"})])
    credited = sum([e["delta"] async for e in db["ledger"].find({"kind": "payment"})])
    asked = sum([e["requested"] async for e in db["ledger"].find({"kind": {"$in": ["refund", "chargeback"]}})])
    owed = sum([d["remaining"] async for d in db["debts"].find({})])
    spent = -sum([e["delta"] async for e in db["ledger"].find({"kind": "purchase", "currency": "premium"})])
    return {"wallets": wallets, "credited": credited, "asked": asked, "owed": owed, "spent": spent}


def assert_audit_passes(mongo_url: str, db_name: str) -> None:
    done = audit(mongo_url, db_name)
    assert done.returncode == 0, done.stderr
    assert "audit passed" in done.stdout
