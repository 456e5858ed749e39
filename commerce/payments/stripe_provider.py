"""Stripe Checkout through the official ``stripe`` library: one Checkout Session per checkout.

The session carries the player (``client_reference_id`` and ``metadata.player``) and the pack
(``metadata.pack``); Stripe's own idempotency key is derived from the player and the request's
``Idempotency-Key``, so a retried checkout gets the same session. Webhooks are verified with
the endpoint's signing secret (:mod:`commerce.payments.signing`).
"""

from __future__ import annotations

from collections.abc import Mapping

import stripe
from stripe.params.checkout import SessionCreateParams

from commerce.payments import signing
from commerce.payments.provider import Checkout, CheckoutRequest, Event, PaymentProvider, ProviderFailed

TIMEOUT_S = 10.0  # one call to Stripe's API
NETWORK_RETRIES = 2  # safe: every create carries its idempotency key


class StripeProvider(PaymentProvider):
    name = "stripe"

    def __init__(self, secret_key: str, webhook_secret: str, success_url: str, cancel_url: str = "",
                 api_base: str = "", tolerance_s: int = 300) -> None:
        self._http = stripe.AIOHTTPClient(timeout=TIMEOUT_S)
        self._client = stripe.StripeClient(secret_key, base_addresses={"api": api_base} if api_base else None,
                                           http_client=self._http,
                                           max_network_retries=NETWORK_RETRIES)
        self._webhook_secret = webhook_secret
        self._success_url = success_url
        self._cancel_url = cancel_url
        self._tolerance_s = tolerance_s

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        pack = request.pack
        meta = {"player": request.account, "pack": pack.id, "premium": str(pack.premium)}
        params: SessionCreateParams = {
            "mode": "payment",
            "client_reference_id": request.account,
            "metadata": meta,
            "payment_intent_data": {"metadata": meta},
            "line_items": [{"quantity": 1, "price_data": {
                "currency": pack.currency.lower(), "unit_amount": pack.price,
                "product_data": {"name": pack.name}}}],
            "success_url": self._success_url,
        }
        if self._cancel_url:
            params["cancel_url"] = self._cancel_url
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params, options={"idempotency_key": request.idempotency_key})
        except stripe.IdempotencyError as exc:
            raise ProviderFailed(str(exc.user_message or "idempotency key reused"), reused=True) from None
        except stripe.StripeError as exc:
            # The message names Stripe's problem (a bad request, an outage); it never holds the key.
            raise ProviderFailed(f"Stripe: {str(exc.user_message or type(exc).__name__)[:200]}") from None
        if not session.id or not session.url:
            raise ProviderFailed("Stripe answered a Checkout Session without an id or a URL")
        return Checkout(payment_id=session.id, url=session.url)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> Event:
        return signing.verify(body, headers, self._webhook_secret, self._tolerance_s)

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]
