"""The pure rules of payments: reading an event, the payment state table, debits and debts. No I/O.

A debit (refund, chargeback) takes what the wallet holds and records the rest as a debt; later
credits to that wallet pay its debts first, oldest first (:func:`settle`). Balances never go
below zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from commerce.payments.provider import ChargeRefunded, CheckoutCompleted, DisputeCreated, Event, OtherEvent

COMPLETED_TYPES = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REFUNDED = "charge.refunded"
DISPUTED = "charge.dispute.created"

# The payment state machine: (state, what happened) -> next state. docs/commerce.md draws it.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("pending", "paid"): "paid",
    ("paid", "partial_refund"): "partially_refunded",
    ("paid", "full_refund"): "refunded",
    ("partially_refunded", "partial_refund"): "partially_refunded",
    ("partially_refunded", "full_refund"): "refunded",
    ("paid", "dispute"): "disputed",
    ("partially_refunded", "dispute"): "disputed",
}
STATES = ("pending", "paid", "partially_refunded", "refunded", "disputed")
CREDITED = ("paid", "partially_refunded", "refunded", "disputed")  # states whose premium was credited


class Malformed(Exception):
    """A verified event missing a field this service needs, or holding the wrong type."""


def _get(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise Malformed(f"{where}.{key} must be {'a whole number' if kind is int else 'a string'}")
    if kind is str and not value:
        raise Malformed(f"{where}.{key} must not be empty")
    if isinstance(value, int) and value < 0:
        raise Malformed(f"{where}.{key} must not be negative")
    return value


def parse_event(raw: object) -> Event:
    """A Stripe-shaped event (already verified) as one typed event."""
    if not isinstance(raw, dict):
        raise Malformed("the event must be a JSON object")
    event_id = _get(raw, "id", str, "event")[:255]
    kind = _get(raw, "type", str, "event")[:255]
    if kind not in (*COMPLETED_TYPES, REFUNDED, DISPUTED):
        return OtherEvent(event_id, kind)
    data = raw.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise Malformed("event.data.object must be an object")
    where = "data.object"
    if kind in COMPLETED_TYPES:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise Malformed(f"{where}.metadata must be an object")
        account = obj.get("client_reference_id") or meta.get("player")
        if not isinstance(account, str) or not account:
            raise Malformed(f"{where}.client_reference_id must name the player")
        intent = obj.get("payment_intent")
        return CheckoutCompleted(event_id=event_id, payment_id=_get(obj, "id", str, where),
                                 payment_intent=intent if isinstance(intent, str) and intent else None,
                                 account=account[:64], pack_id=_get(meta, "pack", str, f"{where}.metadata")[:64],
                                 amount=_get(obj, "amount_total", int, where),
                                 currency=_get(obj, "currency", str, where).upper(),
                                 paid=obj.get("payment_status") == "paid")
    if kind == REFUNDED:
        return ChargeRefunded(event_id=event_id, charge_id=_get(obj, "id", str, where),
                              payment_intent=_get(obj, "payment_intent", str, where),
                              amount=_get(obj, "amount", int, where),
                              amount_refunded=_get(obj, "amount_refunded", int, where),
                              currency=_get(obj, "currency", str, where).upper())
    return DisputeCreated(event_id=event_id, dispute_id=_get(obj, "id", str, where),
                          payment_intent=_get(obj, "payment_intent", str, where),
                          amount=_get(obj, "amount", int, where), currency=_get(obj, "currency", str, where).upper())


def next_state(state: str, happened: str) -> str | None:
    """The state after ``happened``, or None when the table has no such move (nothing changes)."""
    return TRANSITIONS.get((state, happened))


def refund_target(premium: int, amount: int, amount_refunded: int) -> int:
    """The premium a refund of ``amount_refunded`` out of ``amount`` takes back in all, rounded up:
    money returned never leaves currency behind. A full refund takes back exactly ``premium``."""
    if amount <= 0 or amount_refunded >= amount:
        return premium
    return min(premium, -(-premium * amount_refunded // amount))


def take(balance: int, amount: int) -> tuple[int, int]:
    """A debit of ``amount``: (what the wallet gives now, what is left owing as a debt)."""
    taken = min(max(balance, 0), amount)
    return taken, amount - taken


def settle(balance: int, debts: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """What a wallet holding ``balance`` pays towards its open ``debts`` (id, remaining), oldest first."""
    out: list[tuple[str, int]] = []
    for debt_id, remaining in debts:
        if balance <= 0:
            break
        pay = min(balance, remaining)
        if pay > 0:
            out.append((debt_id, pay))
            balance -= pay
    return out
