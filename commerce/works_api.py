"""Works and licences through commerce: creators register works, link item types to them and
license them on chain (ElysiumRights), and anyone reads a work with its licences from the chain.

Who may act:

* a **creator**: a player whose account holds the ``creator`` role (an operator grants it with
  ``PUT /v1/admin/accounts/{account_id}/roles/creator``) and whose wallet is linked; the work's
  creator on chain is that wallet, and only it may change the work;
* an **operator**: a service token with the ``commerce:admin`` scope, for any creator account
  and any work.

Commerce's custody key holds REGISTRAR_ROLE and sends every transaction; the chain is the only
record of works and licences (``commerce.chain.works``). A retried registration of the same
content by the same creator answers the work again (and links what was not linked yet), so a
request cut short by a chain that stopped answering is finished by sending it again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from eth_utils.address import is_checksum_address, to_checksum_address

from commerce import catalog
from commerce.accounts import ROLES, profile_body, roles_of
from commerce.api import _body, admin, player
from commerce.appkeys import ACCOUNTS, STORE
from commerce.chain import tokens
from commerce.chain.adapter import ChainUnavailable
from commerce.chain.errors import ChainRevert
from commerce.chain.works import MAX_SHARE_BPS, MAX_UINT64, Work, Works, iso
from commerce.errors import Problem
from commerce.openapi import _op, _ref, object_schema
from commerce.validation import Field
from commerce.withdrawals_api import _custody
from elysium import problem
from elysium.http import json_response

T = TypeVar("T")
CREATOR = "creator"
MAX_LINKED_TYPES = 20
ADDRESS = r"0x[0-9a-fA-F]{40}"
WORK_ID = r"[1-9][0-9]{0,18}"
URI_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]"


def _address_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(ADDRESS, value):
        return None
    if value[2:] != value[2:].lower() and not is_checksum_address(value):
        return "is not a valid EIP-55 checksum address (write it all lower case, or with the right capitals)"
    if int(value, 16) == 0:
        return "must not be the zero address"
    return None


def _hash_problem(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{64}", value) and int(value, 16) == 0:
        return "must not be zero"
    return None


def _item_types_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) and re.fullmatch(catalog.ITEM_ID, v) for v in value):
        return "must hold catalog item type ids"
    if len(set(value)) != len(value):
        return "must not repeat an item type"
    return None


def _time_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    parsed = _parse_time(value)
    if parsed is None:
        return "must be an RFC 3339 date-time with a time zone, from 1970 on"
    return None


def _parse_time(value: str) -> int | None:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    seconds = int(at.timestamp())
    return seconds if 0 <= seconds <= MAX_UINT64 else None


ITEM_TYPES = Field(list, max=MAX_LINKED_TYPES, extra=_item_types_problem)
WORK_BODY = {"content_hash": Field(str, pattern=r"0x[0-9a-fA-F]{64}", extra=_hash_problem),
             "metadata_uri": Field(str, min=1, max=512, pattern=f"(https|ipfs|ar)://{URI_CHARS}+"),
             "item_types": Field(list, required=False, max=MAX_LINKED_TYPES, extra=_item_types_problem),
             "creator_account": Field(str, required=False, min=1, max=64)}
LINK_BODY = {"item_types": Field(list, min=1, max=MAX_LINKED_TYPES, extra=_item_types_problem)}
LICENCE_BODY = {"licensee": Field(str, pattern=ADDRESS, extra=_address_problem),
                "scope": Field(str, min=1, max=64, pattern=r"[A-Za-z0-9][A-Za-z0-9 :._/-]*"),
                "starts_at": Field(str, max=64, extra=_time_problem),
                "expires_at": Field(str, max=64, extra=_time_problem),
                "royalty_bps": Field(int, min=0, max=MAX_SHARE_BPS)}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a player account, or an operator (``account`` None)."""

    account: str | None
    name: str


def _actor(request: web.Request) -> Actor:
    try:
        return Actor(player(request), "player")
    except problem.Problem as as_player:
        try:
            claims = admin(request)
        except problem.Problem:
            raise as_player from None
        return Actor(None, str(claims.get("sub", "operator")))


def _works(request: web.Request) -> Works:
    return Works(_custody(request).chain)


async def _on_chain(step: Awaitable[T]) -> T:
    """One chain step; a refusal or a chain that does not answer as problem+json."""
    try:
        return await step
    except ChainUnavailable as exc:
        raise Problem("chain-unavailable", f"{exc}; send the same request again",
                      headers={"Retry-After": "2"}) from None
    except ChainRevert as exc:
        codes = {"UnknownWork": "unknown-work", "UnknownLicence": "unknown-licence", "InvalidPeriod": "invalid-period",
                 "TooManyLicences": "too-many-licences", "TokenAlreadyLinked": "item-type-linked"}
        raise Problem(codes.get(exc.error, "chain-refused"), exc.message, chain_error=exc.error) from None


def _work_id(request: web.Request) -> int:
    raw = request.match_info["work_id"]
    if not re.fullmatch(WORK_ID, raw):
        raise Problem("unknown-work", "there is no such work")
    return int(raw)


async def _creator_wallet(request: web.Request, account: str) -> str:
    """The linked wallet of a creator account (the creator role and a wallet are both needed)."""
    doc = await request.app[STORE].accounts.find_one({"_id": account}, {"roles": 1, "eth_address": 1})
    if doc is None:
        raise Problem("unknown-account", "there is no such account")
    if CREATOR not in roles_of(doc):
        raise Problem("creator-role-required", "the account does not hold the creator role; an operator grants it")
    address = doc.get("eth_address")
    if not isinstance(address, str):
        raise Problem("wallet-not-linked", "link an Ethereum wallet first (POST /v1/me/wallet/link): "
                                           "works are registered to it")
    return address


async def _work_to_change(request: web.Request, actor: Actor, works: Works) -> Work:
    """The work of the path, which ``actor`` may change: its creator's account, or an operator."""
    wallet = None if actor.account is None else await _creator_wallet(request, actor.account)
    work = await _on_chain(works.read(_work_id(request)))
    if work is None:
        raise Problem("unknown-work", "there is no such work")
    if wallet is not None and wallet.lower() != work.creator.lower():
        raise Problem("not-work-creator", "only the work's creator may change it")
    return work


async def _token_ids(request: web.Request, item_types: list[str]) -> list[int]:
    """The token id of each item type (``commerce.chain.tokens.type_token``); unknown types are refused."""
    store = request.app[STORE]
    missing = [t for t in item_types if await store.get_item(t) is None]
    if missing:
        raise Problem("unknown-item", "there is no such item type", errors={t: "is not in the catalog"
                                                                             for t in missing[:10]})
    return [tokens.type_token(t) for t in item_types]


async def _to_link(request: web.Request, works: Works, work: int, item_types: list[str]) -> list[int]:
    """The token ids of the item types not linked to ``work`` yet (0: a work not registered yet).

    Unknown item types and types linked to another work are refused, before anything is sent.
    """
    tokens_to_link = []
    for item_type, token in zip(item_types, await _token_ids(request, item_types)):
        linked = await _on_chain(works.work_of_token(token))
        if linked not in (0, work):
            raise Problem("item-type-linked", f"item type {item_type} is linked to work {linked}",
                          errors={item_type: f"is linked to work {linked}"})
        if linked == 0:
            tokens_to_link.append(token)
    return tokens_to_link


async def _work_body(request: web.Request, work: Work) -> dict[str, Any]:
    names = {tokens.type_token(i.id): i.id for i in await request.app[STORE].list_items()}
    owner = await request.app[STORE].accounts.find_one({"eth_address": work.creator}, {"_id": 1})
    at = await _on_chain(_custody(request).chain.now())
    return {"id": work.id, "creator": work.creator, "creator_account": None if owner is None else owner["_id"],
            "content_hash": work.content_hash, "metadata_uri": work.metadata_uri,
            "registered_at": iso(work.registered_at),
            "items": [{"token_id": str(t), "item_type": names.get(t)} for t in work.token_ids],
            "licences": [lic.body(at) for lic in work.licences], "royalty": work.royalty(at)}


# --- handlers ---------------------------------------------------------------------------------

async def register_work(request: web.Request) -> web.Response:
    actor = _actor(request)
    body = await _body(request, WORK_BODY)
    if actor.account is not None and "creator_account" in body:
        raise Problem("invalid-request", "creator_account is for operators; a creator registers their own works",
                      errors={"creator_account": "is not allowed with a player token"})
    if actor.account is None and "creator_account" not in body:
        raise Problem("invalid-request", "an operator names the creator", errors={"creator_account": "is required"})
    creator = await _creator_wallet(request, actor.account or body["creator_account"])
    works = _works(request)
    content = bytes.fromhex(body["content_hash"][2:])
    existing = await _on_chain(works.work_of_content(content))
    if existing:
        work = await _on_chain(works.read(existing))
        assert work is not None
        if work.creator.lower() != creator.lower():
            raise Problem("work-exists", f"this content is registered as work {existing} by another creator",
                          work=existing)
    to_link = await _to_link(request, works, existing, body.get("item_types", []))
    if existing:
        status = 200  # the same registration again: finish it
    else:
        existing = await _on_chain(works.register(to_checksum_address(creator), content, body["metadata_uri"]))
        status = 201
    await _on_chain(works.link(existing, to_link))
    work = await _on_chain(works.read(existing))
    assert work is not None
    return json_response(await _work_body(request, work), status, {"Location": f"/v1/works/{existing}"})


async def get_work(request: web.Request) -> web.Response:
    work = await _on_chain(_works(request).read(_work_id(request)))
    if work is None:
        raise Problem("unknown-work", "there is no such work")
    return json_response(await _work_body(request, work))


async def link_items(request: web.Request) -> web.Response:
    actor = _actor(request)
    body = await _body(request, LINK_BODY)
    works = _works(request)
    work = await _work_to_change(request, actor, works)
    await _on_chain(works.link(work.id, await _to_link(request, works, work.id, body["item_types"])))
    changed = await _on_chain(works.read(work.id))
    assert changed is not None
    return json_response(await _work_body(request, changed))


async def grant_licence(request: web.Request) -> web.Response:
    actor = _actor(request)
    body = await _body(request, LICENCE_BODY)
    start, expiry = _parse_time(body["starts_at"]), _parse_time(body["expires_at"])
    assert start is not None and expiry is not None
    if expiry <= start:
        raise Problem("invalid-period", "expires_at must be after starts_at",
                      errors={"expires_at": "must be after starts_at"})
    works = _works(request)
    work = await _work_to_change(request, actor, works)
    licensee = to_checksum_address(body["licensee"])
    terms = (licensee, body["scope"], start, expiry, body["royalty_bps"])
    same = [lic for lic in work.licences
            if (lic.licensee, lic.scope, lic.start, lic.expiry, lic.royalty_bps) == terms and lic.revoked_at is None]
    if same:  # the same grant again (a retry after the chain stopped answering): the licence it made
        granted, status = same[-1], 200
    else:
        licence = await _on_chain(works.grant(work.id, *terms))
        changed = await _on_chain(works.read(work.id))
        assert changed is not None
        (granted,) = [lic for lic in changed.licences if lic.id == licence]
        status = 201
    return json_response(granted.body(await _on_chain(works.chain.now())), status,
                         {"Location": f"/v1/works/{work.id}/licences/{granted.id}"})


async def check_licensee(request: web.Request) -> web.Response:
    """Whether an address holds a licence of the work valid at a time (now by default), as the chain answers."""
    work_id = _work_id(request)
    address = request.match_info["address"]
    if not re.fullmatch(ADDRESS, address) or _address_problem(address):
        raise Problem("invalid-request", "the path's licensee is not an Ethereum address",
                      errors={"address": _address_problem(address) or "must be 0x and 40 hex digits"})
    unknown = sorted(set(request.query) - {"at"})
    if unknown:
        raise Problem("invalid-request", "this route takes only at", errors={k[:64]: "is not a known parameter"
                                                                            for k in unknown[:10]})
    raw_at = request.query.get("at")
    at = await _on_chain(_custody(request).chain.now()) if raw_at is None else _parse_time(raw_at)
    if at is None:
        raise Problem("invalid-request", "at must be an RFC 3339 date-time with a time zone",
                      errors={"at": "is not such a date-time"})
    works = _works(request)
    work = await _on_chain(works.read(work_id))
    if work is None:
        raise Problem("unknown-work", "there is no such work")
    licensee = to_checksum_address(address)
    valid = await _on_chain(works.has_valid_licence(work_id, licensee, at))
    return json_response({"work": work_id, "licensee": licensee, "at": iso(at), "valid": valid,
                          "licences": [lic.id for lic in work.licences
                                       if lic.licensee == licensee and lic.valid_at(at)]})


async def revoke_licence(request: web.Request) -> web.Response:
    """Revoke from now on; revoking a revoked licence again answers it as it is."""
    actor = _actor(request)
    works = _works(request)
    work = await _work_to_change(request, actor, works)
    raw = request.match_info["licence_id"]
    found = [lic for lic in work.licences if str(lic.id) == raw]
    if not found:
        raise Problem("unknown-licence", f"work {work.id} has no licence {raw[:24]}")
    if found[0].revoked_at is None:
        await _on_chain(works.revoke(found[0].id))
        changed = await _on_chain(works.read(work.id))
        assert changed is not None
        found = [lic for lic in changed.licences if lic.id == found[0].id]
    return json_response(found[0].body(await _on_chain(works.chain.now())))


def _role_change(held: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def change(request: web.Request) -> web.Response:
        admin(request)
        if request.body_exists and (await request.read()).strip() not in (b"", b"{}"):
            raise Problem("invalid-request", "a role change takes no fields: the path names the account and the role")
        doc = await request.app[ACCOUNTS].set_role(request.match_info["account_id"][:64],
                                                   request.match_info["role"][:64], held)
        return json_response(profile_body(doc))

    return change


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/works", register_work)
    r.add_get("/v1/works/{work_id}", get_work)
    r.add_post("/v1/works/{work_id}/items", link_items)
    r.add_post("/v1/works/{work_id}/licences", grant_licence)
    r.add_delete("/v1/works/{work_id}/licences/{licence_id}", revoke_licence)
    r.add_get("/v1/works/{work_id}/licensees/{address}", check_licensee)
    r.add_put("/v1/admin/accounts/{account_id}/roles/{role}", _role_change(True))
    r.add_delete("/v1/admin/accounts/{account_id}/roles/{role}", _role_change(False))


# --- OpenAPI ----------------------------------------------------------------------------------

_TIME = {"type": "string", "format": "date-time"}
SCHEMAS: dict[str, Any] = {
    "Licence": {"type": "object", "properties": {
        "id": {"type": "integer"}, "work": {"type": "integer"}, "licensee": {"type": "string"},
        "scope": {"type": "string"}, "starts_at": _TIME, "expires_at": _TIME,
        "royalty_bps": {"type": "integer", "minimum": 0, "maximum": MAX_SHARE_BPS},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        "valid_now": {"type": "boolean", "description": "starts_at <= now < expires_at, and not revoked by now"}}},
    "LicenceCheck": {"type": "object", "properties": {
        "work": {"type": "integer"}, "licensee": {"type": "string"}, "at": _TIME, "valid": {"type": "boolean"},
        "licences": {"type": "array", "items": {"type": "integer"}, "description": "the licensee's licences "
                                                                                   "valid at that time"}}},
    "Work": {"type": "object", "properties": {
        "id": {"type": "integer"}, "creator": {"type": "string", "description": "the creator's wallet (EIP-55)"},
        "creator_account": {"type": ["string", "null"]}, "content_hash": {"type": "string"},
        "metadata_uri": {"type": "string"}, "registered_at": _TIME,
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "token_id": {"type": "string", "description": "the ERC-1155 token id, in decimal"},
            "item_type": {"type": ["string", "null"]}}}},
        "licences": {"type": "array", "items": _ref("Licence")},
        "royalty": {"type": ["object", "null"], "description": "who the work's items pay royalties to now: the "
                                                               "creator at the newest valid licence's share"}}},
}
_WORK = {"name": "work_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": f"^{WORK_ID}$"}}
_LICENCE = {"name": "licence_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ACCOUNT = {"name": "account_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
_ROLE = {"name": "role", "in": "path", "required": True, "schema": {"enum": list(ROLES)}}
_ADDRESS = {"name": "address", "in": "path", "required": True, "schema": {"type": "string", "pattern": f"^{ADDRESS}$"}}
_AT = {"name": "at", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"},
       "description": "the time asked about (RFC 3339 with a zone); now when left out"}


def _either(op: dict[str, Any]) -> dict[str, Any]:
    op["security"] = [{"player": []}, {"service": []}]
    return op


def _no_body(op: dict[str, Any]) -> dict[str, Any]:
    """An operation whose body may be left out (or be ``{}``)."""
    op["requestBody"]["required"] = False
    return op


def _body_schema(fields: dict[str, Any]) -> dict[str, Any]:
    """``object_schema`` with what the fields' extra checks ask for stated where a schema can:
    the times are RFC 3339 date-times, the item types strings."""
    out = object_schema(fields)
    props = out["properties"]
    for name in ("starts_at", "expires_at"):
        if name in props:
            props[name]["format"] = "date-time"
    if "item_types" in props:
        props["item_types"]["items"] = {"type": "string", "minLength": 1, "maxLength": 64}
    return out


def openapi_paths() -> dict[str, Any]:
    register = _either(_op("registerWork", "works", "Register a work (a creator for themselves, an operator for a "
                                                    "creator_account) and link item types to it; 200 for the same "
                                                    "content registered again by the same creator", 201,
                           _ref("Work"), (401, 403, 404, 409, 502, 503), body=_body_schema(WORK_BODY)))
    register["responses"]["200"] = {"description": "Already registered by this creator; links completed",
                                    "content": {"application/json": {"schema": _ref("Work")}}}
    grant = _either(_op("grantLicence", "works", "Grant a licence of a work; 200 with the licence when the same "
                                                 "terms are already granted and not revoked", 201, _ref("Licence"),
                        (401, 403, 404, 409, 422, 502, 503), body=_body_schema(LICENCE_BODY), params=[_WORK]))
    grant["responses"]["200"] = {"description": "The same grant again: the licence it made",
                                 "content": {"application/json": {"schema": _ref("Licence")}}}
    return {
        "/v1/works": {"post": register},
        "/v1/works/{work_id}": {"get": _op("getWork", "works", "A work, its items and its licences, read from the "
                                                               "chain", 200, _ref("Work"), (404, 502, 503),
                                           params=[_WORK])},
        "/v1/works/{work_id}/items": {"post": _either(_op(
            "linkWorkItems", "works", "Link more item types to a work", 200, _ref("Work"),
            (401, 403, 404, 409, 502, 503), body=_body_schema(LINK_BODY), params=[_WORK]))},
        "/v1/works/{work_id}/licences": {"post": grant},
        "/v1/works/{work_id}/licensees/{address}": {"get": _op(
            "checkLicensee", "works", "Whether an address holds a licence of the work valid at a time (now by "
                                      "default), as the chain answers", 200, _ref("LicenceCheck"), (400, 404, 502, 503),
            params=[_WORK, _ADDRESS, _AT])},
        "/v1/works/{work_id}/licences/{licence_id}": {"delete": _either(_op(
            "revokeLicence", "works", "Revoke a licence from now on (again: the revoked licence as it is)", 200,
            _ref("Licence"), (401, 403, 404, 409, 502, 503), params=[_WORK, _LICENCE]))},
        "/v1/admin/accounts/{account_id}/roles/{role}": {
            "put": _no_body(_op("grantRole", "admin", "Grant an account a role", 200, _ref("Profile"),
                                (401, 403, 404), auth="service", params=[_ACCOUNT, _ROLE], body=object_schema({}))),
            "delete": _op("revokeRole", "admin", "Take a role from an account", 200, _ref("Profile"),
                          (401, 403, 404), auth="service", params=[_ACCOUNT, _ROLE])},
    }
