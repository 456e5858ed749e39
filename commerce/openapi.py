"""The OpenAPI 3.1 document of the /v1 API, built from the same schemas the handlers validate with.

A test checks that every route of the real app is documented here and nothing else is.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any, get_args

from commerce import api, catalog, ledger, market_api
from commerce.accounts import ROLES
from commerce.errors import PROBLEMS
from commerce.validation import INT64, MAX_DOCUMENT_DEPTH, Field, name_problem, password_problem
from elysium.problem import type_uri

_TYPES = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array"}
WHOLE = "a whole number; written with a zero fraction (189.0) it is read as that number (189)"


def field_schema(f: Field) -> dict[str, Any]:
    kinds = f.kind if isinstance(f.kind, tuple) else (f.kind,)
    types = [_TYPES[k] for k in kinds]
    if f.nullable:
        types.append("null")
    out: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
    if int in kinds:
        out["description"] = WHOLE
        if f.min is not None:
            out["minimum"] = f.min
        if f.max is not None:
            out["maximum"] = f.max
    if str in kinds:
        if f.min is not None:
            out["minLength"] = f.min
        if f.max is not None:
            out["maxLength"] = f.max
        if f.pattern:
            out["pattern"] = f"^{f.pattern}$"
        out.update(text_rules(f))
    if dict in kinds and f.max is not None:
        out["maxProperties"] = f.max
    if list in kinds and f.max is not None:
        out["maxItems"] = f.max
    if f.choices:
        out["enum"] = list(f.choices)
    return out


@lru_cache(maxsize=4)
def _none_of(categories: tuple[str, ...]) -> str:
    """The body of a regex class naming every character of the Unicode ``categories``.

    Control characters are written as escapes, the others as themselves (which JSON Schema's
    ECMA-262 patterns, Python's and Rust's regexes all read the same way). Built from the same
    ``unicodedata`` the handlers check with.
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)) in categories:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))

    def char(cp: int) -> str:
        return f"\\x{cp:02x}" if cp < 0x20 or cp == 0x7F else chr(cp)

    return "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges)


def _visible(exclude: str = "") -> str:
    """Text of which no character is in ``exclude`` (a class body), holding one that is not white space."""
    return f"^[^{exclude}]*[^{exclude}\\s][^{exclude}]*$"


def text_rules(f: Field) -> dict[str, Any]:
    """What the text rules of ``commerce.validation`` add to a string field's schema."""
    if f.extra is name_problem:
        return {"pattern": _visible(_none_of(("Cc", "Cf", "Zl", "Zp")) + "<>"),
                "description": "visible text (NFC): no control, format or line/paragraph separator characters, "
                               "no < or >, not blank"}
    if f.extra is password_problem:
        return {"pattern": _visible(_none_of(("Cc",))),
                "description": "no control characters, not only white space"}
    return {}


def settings_schema() -> dict[str, Any]:
    """Profile settings: free-form JSON that MongoDB stores as it is (``validation.document_problem``)."""
    value = {"$ref": "#/components/schemas/SettingsValue"}
    return {"type": "object", "maxProperties": 50, "propertyNames": _ref("SettingsKey"), "additionalProperties": value,
            "description": "at most 4096 bytes of JSON and 50 keys; keys at every depth are not empty, do not "
                           f"start with $ and hold no . or NUL; whole numbers fit in 64 bits; at most "
                           f"{MAX_DOCUMENT_DEPTH} levels deep"}


def object_schema(fields: dict[str, Field], *, partial: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "additionalProperties": False,
                           "properties": {k: field_schema(v) for k, v in fields.items()}}
    required = [k for k, v in fields.items() if v.required and not partial]
    if required:
        out["required"] = required
    if partial:
        out["minProperties"] = 1
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


PRICE = {"type": "object", "additionalProperties": False,
         "properties": {c: {"type": "integer", "minimum": 1, "maximum": ledger.MAX_AMOUNT, "description": WHOLE}
                        for c in ledger.CURRENCIES}}
SETTINGS_VALUE: dict[str, Any] = {"anyOf": [
    {"type": ["string", "boolean", "null"]}, {"type": "number", "minimum": INT64[0], "maximum": INT64[1]},
    {"type": "array", "items": {"$ref": "#/components/schemas/SettingsValue"}},
    {"type": "object", "propertyNames": {"$ref": "#/components/schemas/SettingsKey"},
     "additionalProperties": {"$ref": "#/components/schemas/SettingsValue"}}]}
BALANCES = {"type": "object", "properties": {c: {"type": "integer", "minimum": 0} for c in ledger.CURRENCIES}}
SCHEMAS: dict[str, Any] = {
    "Problem": {"type": "object", "description": "RFC 9457 problem details",
                "properties": {"type": {"type": "string", "enum": [type_uri(c) for c in PROBLEMS]},
                               "title": {"type": "string"}, "status": {"type": "integer"},
                               "detail": {"type": "string"}, "instance": {"type": "string"},
                               "code": {"type": "string", "enum": list(PROBLEMS)},
                               "request_id": {"type": "string"}, "token_error": {"type": "string"},
                               "errors": {"type": "object", "additionalProperties": {"type": "string"}}},
                "required": ["type", "title", "status", "detail", "code"]},
    "Tokens": {"type": "object", "properties": {
        "account_id": {"type": "string"}, "access_token": {"type": "string"}, "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer"}, "refresh_token": {"type": "string"}}},
    "Profile": {"type": "object", "properties": {
        "account_id": {"type": "string"},
        "username": {"type": ["string", "null"], "description": "null for a guest account until it links one"},
        "display_name": {"type": "string"}, "avatar_url": {"type": ["string", "null"]},
        "region": {"type": ["string", "null"]}, "settings": {"type": "object"},
        "guest": {"type": "boolean", "description": "a guest account: no username and password (yet)"},
        "eth_address": {"type": ["string", "null"], "description": "the linked wallet (EIP-55), or null"},
        "roles": {"type": "array", "items": {"enum": list(ROLES)},
                  "description": "granted by an operator (PUT /v1/admin/accounts/{account_id}/roles/{role})"},
        "created_at": {"type": "string", "format": "date-time"}}},
    "Wallet": {"type": "object", "properties": {"account_id": {"type": "string"}, "balances": BALANCES,
                                                "debts": {"type": "array", "items": _ref("Debt")}}},
    "LedgerEntry": {"type": "object", "properties": {
        "id": {"type": "string"}, "kind": {"enum": list(get_args(ledger.Kind))},
        "currency": {"enum": list(ledger.CURRENCIES)}, "delta": {"type": "integer"},
        "balance_after": {"type": "integer"}, "reason": {"type": "string"}, "ref": {"type": ["string", "null"]},
        "items": {"type": "array", "items": {"type": "string"}}, "at": {"type": "string", "format": "date-time"}}},
    "Item": {"type": "object", "properties": {
        "id": {"type": "string"}, "item_id": {"type": "string"},
        "custody": {"enum": ["in_game", "listed", "escrow", "on_chain"]}, "attributes": {"type": "object"},
        "origin": {"type": "object"}, "created_at": {"type": "string", "format": "date-time"}}},
    "ItemType": {**object_schema(catalog.ITEM_SCHEMA), "properties": {
        **object_schema(catalog.ITEM_SCHEMA)["properties"], "price": PRICE,
        "supply_left": {"type": "integer", "readOnly": True},
        "max_per_purchase": {"type": "integer", "minimum": 1, "maximum": catalog.MAX_STACK_PURCHASE, "readOnly": True,
                             "description": "the largest quantity one purchase may buy: "
                                            f"{catalog.MAX_STACK_PURCHASE} of a stackable type, else 1"}}},
    "Purchase": {"type": "object", "properties": {
        "purchase_id": {"type": "string"}, "item_id": {"type": "string"}, "quantity": {"type": "integer"},
        "currency": {"enum": list(ledger.CURRENCIES)}, "price": {"type": "integer"}, "balance": {"type": "integer"},
        "items": {"type": "array", "items": {"type": "string"}}}},
    "SettingsKey": {"type": "string", "pattern": "^[^$.\\x00][^.\\x00]*$"},
    "SettingsValue": SETTINGS_VALUE,
    "Grant": {"type": "object", "properties": {
        "grant_id": {"type": "string"}, "account_id": {"type": "string"}, "currency": {"enum": list(ledger.CURRENCIES)},
        "amount": {"type": "integer"}, "balance": {"type": "integer"}, "reason": {"type": "string"}}},
}

IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": True,
               "description": "Unique per operation and identical on every retry (1-128 visible ASCII characters). "
                              "A retry answers 200 with the first outcome; another request with the same key 422.",
               "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,128}$"}}
LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 200}}
BEFORE = {"name": "before", "in": "query", "required": False,
          "description": "The id of the last entry of the previous page; the next page holds what comes after it "
                         "(newest first, ties of time broken by id). A page shorter than limit is the last. "
                         "Not an entry id: 400; none of yours: 404 unknown-ledger-entry.",
          "schema": {"type": "string", "pattern": f"^{ledger.ENTRY_ID}$"}}
BEFORE_ITEM = {**BEFORE, "description": "The id of the last item of the previous page (as for the ledger); "
                                        "none of yours: 404 unknown-owned-item.",
               "schema": {"type": "string", "pattern": f"^{api.ITEM_UID}$"}}
ITEM_ID = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string",
                                                                         "pattern": f"^{catalog.ITEM_ID}$"}}


def _op(op_id: str, tag: str, summary: str, ok: int, schema: dict[str, Any] | None, problems: tuple[int, ...], *,
        auth: str | None = None, body: dict[str, Any] | None = None, params: list[dict[str, Any]] | None = None,
        replay: bool = False) -> dict[str, Any]:
    """One operation. Every body operation also answers 400 (not JSON), 413 (too large) and 415
    (not ``application/json``): the shared edge reads every body the same way."""
    op: dict[str, Any] = {"operationId": op_id, "tags": [tag], "summary": summary, "responses": {}}
    if auth:
        op["security"] = [{auth: []}]
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    ok_body: dict[str, Any] = {"description": "OK"}
    if schema is not None:
        ok_body["content"] = {"application/json": {"schema": schema}}
    op["responses"][str(ok)] = ok_body
    if replay:
        op["responses"]["200"] = {**ok_body, "description": "A retry with the same Idempotency-Key: the first outcome"}
    if body is not None:
        problems = (*problems, 400, 413, 415)
    if auth == "player":  # a banned account's token is refused on every player route (403 account-banned)
        problems = (*problems, 403)
    for status in sorted(set(problems)):
        op["responses"][str(status)] = {"description": "Problem",
                                        "content": {"application/problem+json": {"schema": _ref("Problem")}}}
    return op


def _profile_body() -> dict[str, Any]:
    body = object_schema(api.PROFILE, partial=True)
    body["properties"]["settings"] = settings_schema()
    return body


def _purchase_body() -> dict[str, Any]:
    body = object_schema(api.PURCHASE)
    body["properties"]["quantity"]["description"] = (
        f"{WHOLE}; 1 (the default) to the item type's max_per_purchase, past which the answer is 409 quantity-limit")
    return body


def _item_body() -> dict[str, Any]:
    """An item type as the admin API takes it: the path names it, so the body need not.

    A body may still carry ``id`` when it equals the path (400 otherwise); the schema leaves it
    out, as no schema can say "equal to the path".
    """
    body = object_schema({k: v for k, v in catalog.ITEM_SCHEMA.items() if k != "id"})
    body["properties"]["price"] = PRICE
    item_type = SCHEMAS["ItemType"]["properties"]
    body["properties"].update({name: item_type[name] for name in catalog.READ_ONLY})  # readOnly: ignored
    body["description"] = "The item type named by the path (a body `id`, if sent, must equal the path's)"
    return body


def _list_of(key: str, schema: str) -> dict[str, Any]:
    return {"type": "object", "properties": {key: {"type": "array", "items": _ref(schema)}}}


def build(trade_max_ttl_s: int = 7 * 86_400) -> dict[str, Any]:
    """The document; ``trade_max_ttl_s`` is the service's ELYSIUM_COMMERCE_TRADE_MAX_TTL_S."""
    tokens_ok = _ref("Tokens")
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("getHealth", "probes", "Liveness", 200, {"type": "object"}, ())},
        "/readyz": {"get": _op("getReadiness", "probes", "Readiness: MongoDB and Redis reachable and not draining",
                               200, {"type": "object"}, (503,))},
        "/metrics": {"get": {"operationId": "getMetrics", "tags": ["probes"], "summary": "Prometheus metrics",
                             "responses": {"200": {"description": "text format"}}}},
        "/v1/openapi.json": {"get": _op("getOpenApiDocument", "meta", "This document", 200, {"type": "object"}, ())},
        "/v1/accounts": {"post": _op("createAccount", "accounts", "Register; answers with tokens and the profile",
                                     201, tokens_ok, (409,), body=object_schema(api.REGISTER))},
        "/v1/sessions": {"post": _op("createSession", "sessions", "Log in (rate-limited per username and per address)",
                                     200, tokens_ok, (401, 403, 429), body=object_schema(api.LOGIN))},
        "/v1/sessions/refresh": {"post": _op(
            "refreshSession", "sessions", "Rotate a refresh token; reusing one revokes its whole login, except a "
                                          "retry within the reuse grace, which gets the same successor",
            200, tokens_ok, (401, 403), body=object_schema(api.REFRESH))},
        "/v1/sessions/logout": {"post": _op("deleteSession", "sessions", "Revoke the login of a refresh token",
                                            204, None, (), body=object_schema(api.REFRESH))},
        "/v1/me": {"get": _op("getProfile", "profile", "Read the profile", 200, _ref("Profile"), (401,),
                              auth="player"),
                   "patch": _op("updateProfile", "profile", "Edit the profile", 200, _ref("Profile"), (401,),
                                auth="player", body=_profile_body())},
        "/v1/me/password": {"post": _op("changePassword", "profile",
                                        "Change the password; every refresh token is revoked (a guest account has none to "
                                        "change: 409)", 204, None, (401, 409),
                                        auth="player", body=object_schema(api.PASSWORD_CHANGE))},
        "/v1/me/wallet": {"get": _op("getWallet", "wallet", "Balances per currency", 200, _ref("Wallet"), (401,),
                                     auth="player")},
        "/v1/me/ledger": {"get": _op("listLedgerEntries", "wallet", "Ledger entries, newest first", 200,
                                     _list_of("entries", "LedgerEntry"), (400, 401, 404), auth="player",
                                     params=[LIMIT, BEFORE])},
        "/v1/me/items": {"get": _op("listItems", "inventory", "Owned items, newest first, in pages like the ledger",
                                    200, _list_of("items", "Item"), (400, 401, 404), auth="player",
                                    params=[LIMIT, BEFORE_ITEM])},
        "/v1/catalog": {"get": _op("listItemTypes", "catalog", "Every item type", 200,
                                   _list_of("items", "ItemType"), ())},
        "/v1/catalog/{item_id}": {"get": _op("getItemType", "catalog", "One item type", 200, _ref("ItemType"),
                                             (404,), params=[ITEM_ID])},
        "/v1/purchases": {"post": _op("createPurchase", "store", "Buy an item type for one currency", 201,
                                      _ref("Purchase"), (401, 404, 409, 422, 503), auth="player",
                                      body=_purchase_body(), params=[IDEMPOTENCY], replay=True)},
        "/v1/admin/catalog/{item_id}": {"put": _op("putItemType", "admin", "Create or replace an item type", 200,
                                                   _ref("ItemType"), (401, 403, 409), auth="service",
                                                   body=_item_body(), params=[ITEM_ID])},
        "/v1/admin/grants": {"post": _op("createGrant", "admin", "Credit a wallet", 201, _ref("Grant"),
                                         (401, 403, 404, 409, 422, 503), auth="service", body=object_schema(api.GRANT),
                                         params=[IDEMPOTENCY], replay=True)},
    }
    from commerce import admin_api, batch_api, friends_api, identity_api, moderation_api, payments_api, trades_api, withdrawals_api, works_api  # operations beside their handlers

    paths.update(payments_api.openapi_paths())
    paths.update(withdrawals_api.openapi_paths())
    paths.update(works_api.openapi_paths())
    paths.update(moderation_api.openapi_paths())
    paths.update(trades_api.openapi_paths(trade_max_ttl_s))
    market_paths, market_schemas = market_api.openapi()
    paths.update(market_paths)
    paths.update(friends_api.openapi_paths())
    paths.update(batch_api.openapi_paths())
    paths.update(admin_api.openapi_paths())
    for path, operations in identity_api.openapi_paths().items():
        paths.setdefault(path, {}).update(operations)  # DELETE /v1/me/wallet beside GET
    return {
        "openapi": "3.1.0",
        "info": {"title": "Elysium commerce", "version": "1",
                 "description": "Accounts, wallets with an audited ledger, the item store, inventory, the player "
                                "marketplace, player trades with escrow, premium currency packs sold for real "
                                "money, friends and blocks with presence, public profiles, and moderation (bans, mutes "
                                "and their log). Money is "
                                "whole numbers of a currency. Errors are application/problem+json (RFC 9457) "
                                "with a stable type."},
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **payments_api.openapi_schemas(), **trades_api.SCHEMAS, **market_schemas,
                        **withdrawals_api.SCHEMAS, **works_api.SCHEMAS,
                        **friends_api.SCHEMAS, **identity_api.SCHEMAS,
                        **moderation_api.SCHEMAS, **admin_api.SCHEMAS},
            "securitySchemes": {
                "player": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA), aud elysium:player"},
                "service": {"type": "http", "scheme": "bearer",
                            "bearerFormat": "JWT (EdDSA), aud elysium:service, scope commerce:admin (the "
                                            "moderation routes also take commerce:moderation)"},
            },
        },
    }
