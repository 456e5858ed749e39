"""Webhook signatures, Stripe's scheme for every provider: ``Stripe-Signature: t=T,v1=HMAC-SHA256(secret, "T.body")``.

Verification is the official library's (``stripe.Webhook.construct_event``), which also refuses
a timestamp older than the tolerance (a replay of an old delivery). The sandbox signs its events
with :func:`sign`, so they pass the very same check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import stripe

from commerce.payments import rules
from commerce.payments.provider import Event, WebhookRefused

SIGNATURE_HEADER = "Stripe-Signature"


def verify(body: bytes, headers: Mapping[str, str], secret: str, tolerance_s: int) -> Event:
    """The event of a genuine, fresh webhook; :class:`WebhookRefused` for anything else."""
    try:
        stripe.Webhook.construct_event(body, headers.get(SIGNATURE_HEADER), secret, tolerance_s)
    except stripe.SignatureVerificationError as exc:
        # The library's message says which check failed (no header, no match, too old); it holds no secret.
        raise WebhookRefused("webhook-signature", str(exc.user_message or exc)[:200]) from None
    except UnicodeDecodeError:
        raise WebhookRefused("webhook-malformed", "the body is not UTF-8 text") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise WebhookRefused("webhook-malformed", f"the body is not a Stripe event: {str(exc)[:160]}") from None
    try:
        return rules.parse_event(json.loads(body))
    except rules.Malformed as exc:
        raise WebhookRefused("webhook-malformed", str(exc)) from None


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header of ``payload`` signed now (or at ``timestamp``)."""
    return str(stripe.WebhookSignature.generate_signature_header(payload, secret,
                                                                 int(time.time()) if timestamp is None else timestamp))
