"""The sandbox provider: payments completed locally, offline (``elysium up``'s default).

A checkout is a page on commerce itself (``GET /v1/payments/sandbox/{id}``, with a pay button);
paying (``POST``) builds the Stripe-shaped ``checkout.session.completed`` event, signs it with
the sandbox secret in Stripe's scheme and hands it to the same webhook code path a Stripe
delivery takes (:func:`commerce.payments_api.process_webhook`). Nothing here credits anything.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from commerce.payments import signing
from commerce.payments.provider import Checkout, CheckoutRequest, Event, PaymentProvider

ID_PREFIX = "cs_sandbox_"
PAGE_PATH = "/v1/payments/sandbox/"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


class SandboxProvider(PaymentProvider):
    name = "sandbox"

    def __init__(self, secret: str, tolerance_s: int = 300) -> None:
        self.secret = secret
        self._tolerance_s = tolerance_s

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        # Derived from the idempotency key, as Stripe's idempotency gives a retry the same session.
        payment_id = ID_PREFIX + _digest(request.idempotency_key)
        return Checkout(payment_id=payment_id, url=f"{request.origin}{PAGE_PATH}{payment_id}")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> Event:
        return signing.verify(body, headers, self.secret, self._tolerance_s)

    def completed_event(self, payment: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The signed ``checkout.session.completed`` delivery of one pending sandbox payment."""
        pid = str(payment["_id"])
        meta = {"player": payment["account"], "pack": payment["pack"], "premium": str(payment["premium"])}
        event = {"id": "evt_sandbox_" + _digest(pid, "completed"), "object": "event",
                 "type": "checkout.session.completed", "created": int(time.time()), "livemode": False,
                 "data": {"object": {"id": pid, "object": "checkout.session", "mode": "payment",
                                     "amount_total": payment["amount"], "currency": str(payment["currency"]).lower(),
                                     "client_reference_id": payment["account"], "metadata": meta,
                                     "payment_intent": "pi_sandbox_" + _digest(pid),
                                     "payment_status": "paid", "status": "complete"}}}
        payload = json.dumps(event, separators=(",", ":"))
        return payload.encode(), {signing.SIGNATURE_HEADER: signing.sign(payload, self.secret),
                                  "Content-Type": "application/json"}
