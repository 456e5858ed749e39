"""The /v1 routes. Handlers validate, call one adapter method and shape the answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from commerce import catalog, ledger
from commerce.accounts import USERNAME, profile_body
from commerce.appkeys import (ACCOUNTS, ADMIN_VERIFIER, ECONOMY, FRIENDS, LIMITER, MODERATION, PLAYER_TOKENS, REDIS,
                              SETTINGS, STORE)
from commerce.errors import Problem
from commerce.moderation import token_refusal
from commerce.payments import debts
from commerce.validation import Field, Invalid, check, document_problem, json_size, name_problem, password_problem
from elysium import numbers, presence, tokens
from elysium.forwarded import client_address, parse_networks
from elysium.http import bearer, idempotency_key, json_response, read_json, verify

log = logging.getLogger("commerce.api")
ITEM_UID = r"[0-9a-f]{32}"  # an owned item's id (the economy makes them as uuid4 hex)

ADMIN_SCOPE = "commerce:admin"
MODERATION_SCOPE = "commerce:moderation"  # the moderation routes only (commerce/moderation_api.py)
PASSWORD = Field(str, min=8, max=256, extra=password_problem)
DISPLAY_NAME = Field(str, min=1, max=32, nfc=True, extra=name_problem)
URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]"  # RFC 3986, less the quote

REGISTER = {"username": Field(str, pattern=USERNAME), "password": PASSWORD,
            "display_name": replace(DISPLAY_NAME, required=False)}
LOGIN = {"username": Field(str, min=1, max=64), "password": Field(str, min=1, max=256)}
REFRESH = {"refresh_token": Field(str, min=16, max=256)}
PASSWORD_CHANGE = {"current_password": Field(str, min=1, max=256), "new_password": PASSWORD}
PROFILE = {"display_name": DISPLAY_NAME,
           "avatar_url": Field(str, nullable=True, max=512, pattern=f"https://{URL_CHARS}+"),
           "region": Field(str, nullable=True, pattern=r"[a-z0-9-]{2,32}"),
           "settings": Field(dict, max=50, extra=lambda v: document_problem(v, "settings") or json_size(v, 4096))}
PURCHASE = {"item_id": Field(str, pattern=catalog.ITEM_ID), "currency": Field(str, choices=ledger.CURRENCIES),
            "quantity": Field(int, required=False, min=1, max=catalog.MAX_STACK_PURCHASE)}
GRANT = {"account_id": Field(str, min=1, max=64), "currency": Field(str, choices=ledger.CURRENCIES),
         "amount": Field(int, min=1, max=ledger.MAX_AMOUNT), "reason": Field(str, min=1, max=200)}


async def _body(request: web.Request, schema: dict[str, Field], *, partial: bool = False) -> dict[str, Any]:
    raw = await read_json(request, request.app[SETTINGS].max_body_bytes)
    try:
        return check(raw, schema, partial=partial)
    except Invalid as exc:
        raise Problem("invalid-request", "the request has invalid fields", errors=exc.errors) from None


async def empty_body(request: web.Request, what: str) -> None:
    """A body is optional on a POST that takes no fields; when sent it must be an empty object."""
    if request.body_exists:
        raw = await read_json(request, request.app[SETTINGS].max_body_bytes)
        try:
            check(raw, {})
        except Invalid as exc:
            raise Problem("invalid-request", f"{what} takes no fields", errors=exc.errors) from None


EMPTY_BODY = {"type": "object", "additionalProperties": False, "maxProperties": 0}


def player(request: web.Request) -> str:
    """The account of the request's access token; a banned account's tokens are refused (403 account-banned)."""
    account = str(request.app[PLAYER_TOKENS].claims(bearer(request))["sub"])
    refusal = token_refusal(request.app[MODERATION].watch, account)
    if refusal is not None:
        raise refusal
    return account


def admin(request: web.Request, allowed: tuple[str, ...] = (ADMIN_SCOPE,)) -> dict[str, Any]:
    """The claims of a service token holding one of the ``allowed`` scopes, or a 401/403 problem."""
    verifier = request.app[ADMIN_VERIFIER]
    if verifier is None:
        raise Problem("admin-disabled", "set ELYSIUM_SERVICE_PUBLIC_KEY_FILE to enable the admin API")
    claims = verify(verifier, bearer(request), tokens.SERVICE_AUDIENCE, None)
    scope = claims.get("scope")
    scopes = scope.split() if isinstance(scope, str) else []
    if not any(name in scopes for name in allowed):
        raise Problem("forbidden", f"the service token lacks the {' or the '.join(allowed)} scope")
    return claims


def _query(request: web.Request, *allowed: str) -> None:
    """Refuse query parameters the route does not take (a typo must not silently do nothing)."""
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "none"
        raise Problem("invalid-request", f"unknown query parameters; this route takes {takes}",
                      errors={name[:64]: "is not a known parameter" for name in unknown[:10]})


def _limit(request: web.Request) -> int:
    try:
        return numbers.whole(request.query.get("limit", "50"), "limit", 1, 200)
    except numbers.NumberError as exc:
        raise Problem("invalid-request", str(exc), errors={"limit": "1..200"}) from None


def _before(request: web.Request, shape: str) -> str | None:
    """The page cursor: the id of the last entry of the previous page, of the given ``shape``."""
    raw = request.query.get("before")
    if raw is not None and not re.fullmatch(shape, raw):
        raise Problem("invalid-request", "before must be the id of the last entry of the previous page",
                      errors={"before": "is not such an id"})
    return raw


def _address(request: web.Request) -> str:
    """The client's address, read past the proxies ``ELYSIUM_COMMERCE_TRUSTED_PROXIES`` names."""
    trusted = parse_networks(request.app[SETTINGS].trusted_proxies)
    return client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)


# --- accounts -------------------------------------------------------------------------------

async def _coordination(what: str, account_id: str, step: Awaitable[None]) -> None:
    """Presence and the friends mirror are coordination only: with Redis down the request still
    succeeds (the next login or refresh writes them), and the miss is logged."""
    try:
        await step
    except (RedisError, OSError) as exc:
        log.warning(f"{what} not written: redis", extra={"account": account_id, "error": str(exc)[:200]})


async def _signed_in(request: web.Request, account_id: str) -> None:
    """A login or a refresh: the player is online for one access token lifetime, and their
    friends mirror is in Redis for the other services."""
    app = request.app

    async def write() -> None:
        await presence.set_state(app[REDIS], [account_id], presence.State.ONLINE, app[SETTINGS].access_token_ttl_s)
        await app[FRIENDS].ensure_mirror(account_id)

    await _coordination("presence and friends mirror", account_id, write())


async def register(request: web.Request) -> web.Response:
    body = await _body(request, REGISTER)
    doc, pair = await request.app[ACCOUNTS].register(body["username"], body["password"], body.get("display_name"))
    await _signed_in(request, doc["_id"])
    return json_response({**pair.body(doc["_id"]), "profile": profile_body(doc)}, 201)


async def login(request: web.Request) -> web.Response:
    body = await _body(request, LOGIN)
    limiter = request.app[LIMITER]
    address = _address(request)
    # The attempt is counted before the password is checked, so parallel guesses cannot pass the limit.
    wait = await limiter.reserve(body["username"], address)
    if wait:
        log.info("login refused by the rate limit", extra={"username": body["username"][:64], "address": address,
                                                           "retry_after_s": wait})
        raise Problem("rate-limited", f"too many login attempts; try again in {wait} s",
                      headers={"Retry-After": str(wait)})
    found = await request.app[ACCOUNTS].login(body["username"], body["password"])
    if found is None:
        log.info("login failed", extra={"username": body["username"][:64], "address": address})
        raise Problem("invalid-credentials", "the username or the password is wrong")
    await limiter.release(body["username"], address)
    doc, pair = found
    await _signed_in(request, doc["_id"])
    return json_response(pair.body(doc["_id"]))


async def refresh(request: web.Request) -> web.Response:
    body = await _body(request, REFRESH)
    doc, pair = await request.app[ACCOUNTS].refresh(body["refresh_token"])
    await _signed_in(request, doc["_id"])
    return json_response(pair.body(doc["_id"]))


async def logout(request: web.Request) -> web.Response:
    body = await _body(request, REFRESH)
    account_id = await request.app[ACCOUNTS].logout(body["refresh_token"])
    if account_id is not None:  # another device's next refresh shows the player online again
        await _coordination("presence", account_id,
                            presence.clear_state(request.app[REDIS], [account_id], presence.State.ONLINE))
    return web.Response(status=204)


async def change_password(request: web.Request) -> web.Response:
    account = player(request)
    body = await _body(request, PASSWORD_CHANGE)
    if not await request.app[ACCOUNTS].change_password(account, body["current_password"], body["new_password"]):
        raise Problem("invalid-credentials", "the current password is wrong")
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    return json_response(profile_body(await request.app[ACCOUNTS].profile(player(request))))


async def edit_me(request: web.Request) -> web.Response:
    account = player(request)
    body = await _body(request, PROFILE, partial=True)
    return json_response(profile_body(await request.app[ACCOUNTS].edit_profile(account, body)))


# --- economy --------------------------------------------------------------------------------

async def wallet(request: web.Request) -> web.Response:
    account = player(request)
    return json_response({"account_id": account, "balances": await request.app[ECONOMY].wallet(account),
                          "debts": await debts.of(request.app[STORE], account)})


async def ledger_page(request: web.Request) -> web.Response:
    account = player(request)
    _query(request, "limit", "before")
    entries = await request.app[ECONOMY].ledger_page(account, _limit(request), _before(request, ledger.ENTRY_ID))
    return json_response({"entries": entries})


async def items(request: web.Request) -> web.Response:
    account = player(request)
    _query(request, "limit", "before")
    page = await request.app[ECONOMY].inventory(account, _limit(request), _before(request, ITEM_UID))
    return json_response({"items": page})


async def _item_type(request: web.Request, item: catalog.ItemType) -> dict[str, Any]:
    doc = item.to_doc()
    doc["max_per_purchase"] = item.max_per_purchase
    if item.supply_cap is not None:
        doc["supply_left"] = await request.app[STORE].supply_left(item.id)
    return doc


async def list_catalog(request: web.Request) -> web.Response:
    return json_response({"items": [await _item_type(request, item) for item in await request.app[STORE].list_items()]})


async def get_catalog_item(request: web.Request) -> web.Response:
    item_id = request.match_info["item_id"]
    store = request.app[STORE]
    item = await store.get_item(item_id) if catalog.is_item_id(item_id) else None
    if item is None:
        raise Problem("unknown-item", f"there is no item type {item_id[:64]}")
    return json_response(await _item_type(request, item))


async def purchase(request: web.Request) -> web.Response:
    account = player(request)
    key = idempotency_key(request)
    body = await _body(request, PURCHASE)
    outcome = await request.app[ECONOMY].purchase(account, body["item_id"], body["currency"],
                                                  body.get("quantity", 1), key)
    return json_response(outcome.body, 200 if outcome.replayed else 201,
                         {"Idempotent-Replayed": "true" if outcome.replayed else "false"})


# --- admin ----------------------------------------------------------------------------------

async def put_catalog_item(request: web.Request) -> web.Response:
    claims = admin(request)
    item_id = request.match_info["item_id"]
    raw = await read_json(request, request.app[SETTINGS].max_body_bytes)
    if isinstance(raw, dict):
        # What a GET answered may be sent back as it is: the read-only fields are ignored.
        raw = {"id": item_id, **{k: v for k, v in raw.items() if k not in catalog.READ_ONLY}}
    try:
        item = catalog.parse_item(raw)
    except catalog.CatalogError as exc:
        raise Problem("invalid-request", "the item type has invalid fields", errors=exc.errors) from None
    if item.id != item_id:
        raise Problem("invalid-request", "the id in the body differs from the one in the path",
                      errors={"id": "must equal the path's item id"})
    await request.app[STORE].put_item(item)
    log.info("admin catalog change", extra={"admin": str(claims.get("sub"))[:128], "item_id": item.id,
                                            "price": item.to_doc().get("price"), "supply_cap": item.supply_cap})
    return json_response(await _item_type(request, item))


async def admin_grant(request: web.Request) -> web.Response:
    claims = admin(request)
    key = idempotency_key(request)
    body = await _body(request, GRANT)
    outcome = await request.app[ECONOMY].grant(body["account_id"], body["currency"], body["amount"], body["reason"],
                                               key)
    log.info("admin grant", extra={"admin": str(claims.get("sub"))[:128], "account": body["account_id"],
                                   "currency": body["currency"], "amount": body["amount"], "reason": body["reason"],
                                   "grant_id": outcome.body["grant_id"], "replayed": outcome.replayed})
    return json_response(outcome.body, 200 if outcome.replayed else 201,
                         {"Idempotent-Replayed": "true" if outcome.replayed else "false"})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/accounts", register)
    r.add_post("/v1/sessions", login)
    r.add_post("/v1/sessions/refresh", refresh)
    r.add_post("/v1/sessions/logout", logout)
    r.add_get("/v1/me", me)
    r.add_patch("/v1/me", edit_me)
    r.add_post("/v1/me/password", change_password)
    r.add_get("/v1/me/wallet", wallet)
    r.add_get("/v1/me/ledger", ledger_page)
    r.add_get("/v1/me/items", items)
    r.add_get("/v1/catalog", list_catalog)
    r.add_get("/v1/catalog/{item_id}", get_catalog_item)
    r.add_post("/v1/purchases", purchase)
    r.add_put("/v1/admin/catalog/{item_id}", put_catalog_item)
    r.add_post("/v1/admin/grants", admin_grant)
