"""The payment routes: packs, checkouts, the provider's webhook, the player's payments, the sandbox page.

``add_routes`` registers them all whatever the provider (``ELYSIUM_PAYMENTS_PROVIDER``); with
``off`` each answers ``404 payments-disabled``. The webhook answers 2xx only for an event it
recorded (acted on, a duplicate, or a type it ignores); a refusal is problem+json and changes
nothing, so Stripe delivers it again later.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from commerce import ledger
from commerce.api import _body, _limit, _query, player
from commerce.appkeys import ECONOMY, SETTINGS, STORE
from commerce.catalog import Pack
from commerce.errors import Problem
from commerce.payments.ledgering import PaymentLedger, payment_body
from commerce.payments.provider import CheckoutRequest, PaymentProvider, ProviderFailed, WebhookRefused
from commerce.payments.sandbox import SandboxProvider
from commerce.payments.signing import SIGNATURE_HEADER
from commerce.payments.stripe_provider import StripeProvider
from commerce.settings import CommerceSettings
from commerce.validation import Field
from elysium.config import ConfigError
from elysium.http import idempotency_key, json_response
from elysium.problem import shared

log = logging.getLogger("commerce.payments")

PACKS: web.AppKey[dict[str, Pack]] = web.AppKey("packs")
PROVIDER: web.AppKey[PaymentProvider | None] = web.AppKey("payment_provider")
PAYMENTS = web.AppKey("payments", PaymentLedger)

PAYMENT_ID = r"cs_[A-Za-z0-9_]{1,200}"
CHECKOUT = {"pack_id": Field(str, min=1, max=64, pattern=r"[a-z0-9][a-z0-9_-]{0,63}")}
WEBHOOK_MAX_BYTES = 65_536  # a Stripe event is a few KiB; anything past this is refused unread


def _secret(value: str, path: str, variable: str) -> str:
    """A secret given as the variable itself or as a file (``..._FILE``); never logged."""
    if value:
        return value.strip()
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{variable}_FILE", f"cannot read {path}: {exc.strerror}") from None
    if not text:
        raise ConfigError(f"{variable}_FILE", f"{path} is empty")
    return text


def make_provider(settings: CommerceSettings) -> PaymentProvider | None:
    if settings.payments_provider == "stripe":
        return StripeProvider(
            _secret(settings.stripe_secret_key, settings.stripe_secret_key_file, "ELYSIUM_STRIPE_SECRET_KEY"),
            _secret(settings.stripe_webhook_secret, settings.stripe_webhook_secret_file,
                    "ELYSIUM_STRIPE_WEBHOOK_SECRET"),
            settings.payments_success_url, settings.payments_cancel_url, settings.stripe_api_base,
            settings.payments_webhook_tolerance_s)
    if settings.payments_provider == "sandbox":
        return SandboxProvider(settings.payments_sandbox_secret or "whsec_sandbox_" + secrets.token_hex(24),
                               settings.payments_webhook_tolerance_s)
    return None


def _provider(request: web.Request) -> PaymentProvider:
    provider = request.app[PROVIDER]
    if provider is None:
        raise Problem("payments-disabled", "set ELYSIUM_PAYMENTS_PROVIDER to sandbox or stripe to sell packs")
    return provider


def _pack_body(pack: Pack) -> dict[str, Any]:
    return pack.to_doc()


# --- handlers -------------------------------------------------------------------------------

async def list_packs(request: web.Request) -> web.Response:
    _query(request)
    provider = request.app[PROVIDER]
    return json_response({"packs": [_pack_body(p) for p in request.app[PACKS].values()],
                          "provider": provider.name if provider else "off"})


async def checkout(request: web.Request) -> web.Response:
    account = player(request)
    key = idempotency_key(request)
    provider = _provider(request)
    body = await _body(request, CHECKOUT)
    pack = request.app[PACKS].get(body["pack_id"])
    if pack is None:
        raise Problem("pack-not-found", f"there is no pack {body['pack_id']}")
    ckey = ledger.entry_id("payment", account, key).replace("payment:", "checkout_")
    fp = ledger.fingerprint({"pack_id": pack.id})
    payments = request.app[PAYMENTS]
    found = await payments.by_checkout_key(ckey)
    if found is None:
        origin = f"{request.scheme}://{request.host}"
        try:
            made = await provider.create_checkout(CheckoutRequest(account, pack, ckey, origin))
        except ProviderFailed as exc:
            if exc.reused:
                raise Problem("idempotency-key-reused", "this Idempotency-Key opened a checkout for another "
                                                        "pack; use a new key") from None
            raise Problem("payment-provider", exc.detail, headers={"Retry-After": "1"}) from None
        found, created = await payments.record_checkout(made.payment_id, provider.name, account, pack, ckey, fp,
                                                        made.url)
    else:
        created = False
    if found.get("fingerprint") != fp or found.get("account") != account:
        raise Problem("idempotency-key-reused", "this Idempotency-Key opened a checkout for another pack; use a "
                                                "new key")
    if created:
        log.info("checkout opened", extra={"payment_id": found["_id"], "account": account, "pack": pack.id,
                                           "provider": provider.name})
    return json_response(payment_body(found), 201 if created else 200,
                         {"Idempotent-Replayed": "false" if created else "true"})


async def _raw_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise shared("body-too-large", f"the body may be at most {limit} bytes")
    if request.content_type != "application/json":
        raise shared("unsupported-media-type", "send the body as application/json")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise shared("body-too-large", f"the body may be at most {limit} bytes")
    return raw


async def process_webhook(app: web.Application, provider: PaymentProvider, body: bytes,
                          headers: Mapping[str, str]) -> dict[str, Any]:
    """Verify one delivery and act on it: the one code path of every provider's events."""
    try:
        event = provider.parse_webhook(body, headers)
    except WebhookRefused as exc:
        log.info("webhook refused", extra={"code": exc.code, "detail": exc.detail})
        raise Problem(exc.code, exc.detail) from None
    outcome = await app[PAYMENTS].apply(event, app[PACKS])
    log.info("webhook event", extra={"event_id": event.event_id, "event_type": type(event).__name__,
                                     "outcome": outcome})
    return {"received": True, "event_id": event.event_id, "outcome": outcome}


async def webhook(request: web.Request) -> web.Response:
    if not request.headers.get(SIGNATURE_HEADER):  # refused before anything else, whatever the provider
        raise Problem("webhook-signature", f"send the event's {SIGNATURE_HEADER} header")
    provider = _provider(request)
    body = await _raw_body(request, WEBHOOK_MAX_BYTES)
    return json_response(await process_webhook(request.app, provider, body, request.headers))


async def my_payments(request: web.Request) -> web.Response:
    account = player(request)
    _query(request, "limit")
    return json_response({"payments": await request.app[PAYMENTS].of(account, _limit(request))})


async def _sandbox_payment(request: web.Request) -> tuple[SandboxProvider, dict[str, Any]]:
    provider = _provider(request)
    payment_id = request.match_info["payment_id"]
    payment = await request.app[PAYMENTS].get(payment_id) if re.fullmatch(PAYMENT_ID, payment_id) else None
    if not isinstance(provider, SandboxProvider) or payment is None or payment.get("provider") != "sandbox":
        raise Problem("payment-not-found", f"there is no sandbox payment {payment_id[:64]}")
    return provider, payment


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox payment</title></head>
<body><h1>Sandbox payment</h1>
<p>{name}: {premium} premium for {price} (minor units of {currency}). No real money moves.</p>
<p>State: <strong>{state}</strong></p>
<form method="post" action="{action}"><button type="submit"{disabled}>Pay</button></form>
</body></html>
"""


async def sandbox_page(request: web.Request) -> web.Response:
    _, payment = await _sandbox_payment(request)
    pack = request.app[PACKS].get(payment["pack"])
    # The form posts to the page's own address, written relative so that it holds behind a path prefix
    # (the web client's origin serves commerce under /api/commerce).
    action = request.path.rsplit("/", 1)[-1]
    text = PAGE.format(name=html.escape(pack.name if pack else payment["pack"]), premium=payment["premium"],
                       price=payment["amount"], currency=html.escape(payment["currency"]),
                       state=html.escape(payment["state"]), action=html.escape(action),
                       disabled="" if payment["state"] == "pending" else " disabled")
    return web.Response(text=text, content_type="text/html")


async def sandbox_pay(request: web.Request) -> web.Response:
    provider, payment = await _sandbox_payment(request)
    body, headers = provider.completed_event(payment)
    result = await process_webhook(request.app, provider, body, headers)
    paid = await request.app[PAYMENTS].get(str(payment["_id"]))
    assert paid is not None
    return json_response({**payment_body(paid), "outcome": result["outcome"]})


def add_routes(app: web.Application, packs: tuple[Pack, ...]) -> None:
    """The payment routes, and the provider's start and close (after the MongoDB clients start)."""
    settings = app[SETTINGS]
    app[PACKS] = {p.id: p for p in packs}
    provider = make_provider(settings)  # a secret file that cannot be read stops the start-up here
    app[PROVIDER] = provider

    async def payments(app: web.Application) -> AsyncIterator[None]:
        ledger_ = PaymentLedger(app[STORE], app[ECONOMY])
        await ledger_.ensure_indexes()
        app[PAYMENTS] = ledger_
        yield
        if provider is not None:
            await provider.close()

    app.cleanup_ctx.append(payments)
    r = app.router
    r.add_get("/v1/packs", list_packs)
    r.add_post("/v1/payments/checkout", checkout)
    r.add_post("/v1/payments/webhook", webhook)
    r.add_get("/v1/me/payments", my_payments)
    r.add_get("/v1/payments/sandbox/{payment_id}", sandbox_page)
    r.add_post("/v1/payments/sandbox/{payment_id}", sandbox_pay)


# --- the OpenAPI document's share (commerce.openapi.build adds it) -------------------------------

def openapi_schemas() -> dict[str, Any]:
    return {
        "Pack": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "price": {"type": "integer", "minimum": 1, "description": "minor units (cents) of currency"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"},
            "premium": {"type": "integer", "minimum": 1, "description": "premium currency the pack credits"}}},
        "Payment": {"type": "object", "properties": {
            "payment_id": {"type": "string"}, "provider": {"enum": ["sandbox", "stripe"]},
            "pack_id": {"type": "string"}, "premium": {"type": "integer"}, "price": {"type": "integer"},
            "currency": {"type": "string"},
            "state": {"enum": ["pending", "paid", "partially_refunded", "refunded", "disputed"]},
            "checkout_url": {"type": ["string", "null"], "description": "where the player pays"},
            "refunded_premium": {"type": "integer"}, "chargeback_premium": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "paid_at": {"type": ["string", "null"], "format": "date-time"},
            "outcome": {"type": "string", "description": "only from the sandbox's pay button: what the webhook did"}}},
        "WebhookReceipt": {"type": "object", "properties": {
            "received": {"const": True}, "event_id": {"type": "string"},
            "outcome": {"enum": ["credited", "refunded", "charged_back", "duplicate", "ignored", "unpaid",
                                 "unmatched"]}}},
        "Debt": {"type": "object", "properties": {
            "id": {"type": "string", "description": "the id of the refund or chargeback ledger entry that owed it"},
            "currency": {"enum": list(ledger.CURRENCIES)}, "amount": {"type": "integer"},
            "paid": {"type": "integer"}, "remaining": {"type": "integer", "minimum": 0},
            "cause": {"enum": ["refund", "chargeback"]}, "payment_id": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"}}},
    }


def _sandbox_page_op(payment_id: dict[str, Any]) -> dict[str, Any]:
    from commerce.openapi import _op

    op = _op("getSandboxPayment", "payments", "Sandbox only: the payment page (HTML, a pay button)", 200, None,
             (404,), params=[payment_id])
    op["responses"]["200"]["content"] = {"text/html": {"schema": {"type": "string"}}}
    return op


def openapi_paths() -> dict[str, Any]:
    from commerce.openapi import IDEMPOTENCY, LIMIT, _list_of, _op, _ref, object_schema

    payment_id = {"name": "payment_id", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": f"^{PAYMENT_ID}$"}}
    event = {"type": "object", "description": "A Stripe event, signed (Stripe-Signature header); read as raw bytes, "
                                              f"at most {WEBHOOK_MAX_BYTES} bytes"}
    signature = {"name": "Stripe-Signature", "in": "header", "required": True,
                 "description": "t=UNIX_TIME,v1=HMAC-SHA256(signing secret, \"t.body\") in hex; older than "
                                "ELYSIUM_PAYMENTS_WEBHOOK_TOLERANCE_S: 400", "schema": {"type": "string"}}
    webhook_op = _op("receivePaymentWebhook", "payments", "The payment provider's events: credits on "
                     "checkout.session.completed (paid), debits on charge.refunded and charge.dispute.created; "
                     "other types are recorded and ignored", 200, _ref("WebhookReceipt"), (404, 422, 503),
                     params=[signature])
    webhook_op["requestBody"] = {"required": True, "content": {"application/json": {"schema": event}}}
    for status in ("400", "413", "415"):
        webhook_op["responses"][status] = {"description": "Problem", "content": {
            "application/problem+json": {"schema": _ref("Problem")}}}
    pay_op = _op("completeSandboxPayment", "payments", "Sandbox only: pay (no body); the signed event goes "
                 "through the webhook's code path", 200, _ref("Payment"), (400, 404, 422, 503), params=[payment_id])
    return {
        "/v1/packs": {"get": _op("listPacks", "payments", "Premium currency packs sold for money, and the provider",
                                 200, _list_of("packs", "Pack"), (400,))},
        "/v1/payments/checkout": {"post": _op(
            "createCheckout", "payments", "Open a checkout for a pack; send the player to checkout_url", 201,
            _ref("Payment"), (401, 404, 422, 502, 503), auth="player", body=object_schema(CHECKOUT),
            params=[IDEMPOTENCY], replay=True)},
        "/v1/payments/webhook": {"post": webhook_op},
        "/v1/me/payments": {"get": _op("listPayments", "payments", "The player's payments and their state, newest "
                                       "first", 200, _list_of("payments", "Payment"), (400, 401), auth="player",
                                       params=[LIMIT])},
        "/v1/payments/sandbox/{payment_id}": {
            "get": _sandbox_page_op(payment_id),
            "post": pay_op},
    }
