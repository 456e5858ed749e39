"""The routes that tie more to an account: guest and device logins, credentials, devices and a wallet.

Their OpenAPI operations live here too; ``commerce.openapi`` adds them to the document.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from commerce import siwe
from commerce.accounts import profile_body
from commerce.api import PASSWORD, REGISTER, _body, player
from commerce.appkeys import ACCOUNTS, REDIS, SETTINGS, STORE
from commerce.devices import DEVICE_ID, Devices
from commerce.openapi import _op, _ref, object_schema
from commerce.validation import Field
from commerce.wallet_link import WalletLinks
from commerce.withdrawals_api import CUSTODY
from elysium.http import json_response

log = logging.getLogger("commerce.api")
DEVICES = web.AppKey("devices", Devices)
WALLET_LINKS = web.AppKey("wallet_links", WalletLinks)

DEVICE = {"device_id": Field(str, pattern=DEVICE_ID)}
CREDENTIALS = {"username": REGISTER["username"], "password": PASSWORD}
CHALLENGE = {"address": Field(str, pattern=siwe.ADDRESS, extra=siwe.address_problem)}
LINK = {"message": Field(str, min=1, max=siwe.MAX_MESSAGE_CHARS), "signature": Field(str, pattern=r"0x[0-9a-fA-F]{130}")}


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[DEVICES] = Devices(app[STORE], app[ACCOUNTS])
    app[WALLET_LINKS] = WalletLinks(app[STORE], app[REDIS], settings.siwe_domain, settings.chain_id,
                                    settings.siwe_challenge_ttl_s)
    yield


async def device_login(request: web.Request) -> web.Response:
    body = await _body(request, DEVICE)
    doc, pair, created = await request.app[DEVICES].login(body["device_id"])
    if created:
        log.info("guest account created", extra={"account": doc["_id"], "address": request.remote or "unknown"})
    return json_response({**pair.body(doc["_id"]), "created": created, "profile": profile_body(doc)},
                         201 if created else 200)


async def link_credentials(request: web.Request) -> web.Response:
    account = player(request)
    body = await _body(request, CREDENTIALS)
    doc = await request.app[ACCOUNTS].set_credentials(account, body["username"], body["password"])
    return json_response(profile_body(doc))


async def link_device(request: web.Request) -> web.Response:
    account = player(request)
    body = await _body(request, DEVICE)
    linked = await request.app[DEVICES].link(account, body["device_id"])
    return json_response({"account_id": account, "linked": linked}, 201 if linked else 200)


def _challenge_body(message: siwe.SiweMessage) -> dict[str, Any]:
    assert message.expiration_time is not None
    return {"message": siwe.render(message), "domain": message.domain, "address": message.address,
            "statement": message.statement, "uri": message.uri, "version": message.version,
            "chain_id": message.chain_id, "nonce": message.nonce,
            "issued_at": siwe.format_time(message.issued_at),
            "expiration_time": siwe.format_time(message.expiration_time)}


async def wallet_challenge(request: web.Request) -> web.Response:
    account = player(request)
    body = await _body(request, CHALLENGE)
    message = await request.app[WALLET_LINKS].challenge(account, body["address"])
    return json_response(_challenge_body(message), 201)


async def wallet_link(request: web.Request) -> web.Response:
    account = player(request)
    body = await _body(request, LINK)
    doc = await request.app[WALLET_LINKS].link(account, body["message"], body["signature"])
    log.info("wallet linked", extra={"account": account, "eth_address": doc.get("eth_address")})
    custody = request.app.get(CUSTODY)
    if custody is not None:  # items deposited from this address before it was linked come home
        await custody.claim_held(str(doc["eth_address"]))
    return json_response(profile_body(doc))


async def wallet_unlink(request: web.Request) -> web.Response:
    account = player(request)
    address = await request.app[WALLET_LINKS].unlink(account)
    log.info("wallet unlinked", extra={"account": account, "eth_address": address})
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_services)
    r = app.router
    r.add_post("/v1/auth/device", device_login)
    r.add_post("/v1/me/credentials", link_credentials)
    r.add_post("/v1/me/devices", link_device)
    r.add_post("/v1/me/wallet/challenge", wallet_challenge)
    r.add_post("/v1/me/wallet/link", wallet_link)
    r.add_delete("/v1/me/wallet", wallet_unlink)


# --- OpenAPI ----------------------------------------------------------------------------------

_TIME = {"type": "string", "format": "date-time"}
SCHEMAS: dict[str, Any] = {
    "DeviceLogin": {"allOf": [_ref("Tokens"), {"type": "object", "properties": {
        "created": {"type": "boolean", "description": "true when this login made the guest account"},
        "profile": _ref("Profile")}}]},
    "WalletChallenge": {"type": "object", "description": "The message to sign with personal_sign, and its fields",
                        "properties": {
                            "message": {"type": "string", "description": "the EIP-4361 text, exactly as to sign"},
                            "domain": {"type": "string"}, "address": {"type": "string"},
                            "statement": {"type": "string"}, "uri": {"type": "string"},
                            "version": {"const": "1"}, "chain_id": {"type": "integer"},
                            "nonce": {"type": "string"}, "issued_at": _TIME, "expiration_time": _TIME}},
    "DeviceLinked": {"type": "object", "properties": {"account_id": {"type": "string"},
                                                      "linked": {"type": "boolean"}}},
}


def _also(op: dict[str, Any], status: int, description: str) -> dict[str, Any]:
    """``op`` answering ``status`` too, with the same body as its success."""
    ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
    op["responses"][str(status)] = {**ok, "description": description}
    return op


def openapi_paths() -> dict[str, Any]:
    profile = _ref("Profile")
    return {
        "/v1/auth/device": {"post": _also(_op(
            "loginWithDevice", "sessions", "Log in with a device id; the first login with a new one creates a guest "
                                           "account (201), later ones log into it (200)", 201,
            _ref("DeviceLogin"), (503,), body=object_schema(DEVICE)), 200, "A login into the device's account")},
        "/v1/me/credentials": {"post": _op(
            "linkCredentials", "profile", "Give a guest account a username and password, keeping everything it "
                                          "owns", 200, profile, (401, 404, 409), auth="player",
            body=object_schema(CREDENTIALS))},
        "/v1/me/devices": {"post": _also(_op(
            "linkDevice", "profile", "Link another device id to the account (201; 200 when it already was)", 201,
            _ref("DeviceLinked"), (401, 404, 409, 503), auth="player", body=object_schema(DEVICE)), 200,
            "The device id was already linked to this account; nothing changed")},
        "/v1/me/wallet/challenge": {"post": _op(
            "createWalletChallenge", "wallet", "A Sign-In with Ethereum message for the address to sign; it "
                                               "replaces the account's earlier challenge", 201,
            _ref("WalletChallenge"), (401,), auth="player", body=object_schema(CHALLENGE))},
        "/v1/me/wallet/link": {"post": _op(
            "linkWallet", "wallet", "Link the address of a signed challenge message to the account", 200, profile,
            (401, 404, 409, 422), auth="player", body=object_schema(LINK))},
        "/v1/me/wallet": {"delete": _op(
            "unlinkWallet", "wallet", "Unlink the account's wallet (refused while an item is being withdrawn)", 204,
            None, (401, 404, 409, 503), auth="player")},
    }
