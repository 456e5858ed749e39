"""The chain routes of commerce: withdraw an item, follow a withdrawal, where to deposit; and the chain's place
in the app (the adapter connected at start, the reconciler of this replica).

Without ``ELYSIUM_CHAIN_URL`` the routes answer 503 ``chain-disabled`` and nothing else changes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from commerce.api import ITEM_UID, player
from commerce.appkeys import SETTINGS, STORE
from commerce.chain.adapter import Chain, read_key
from commerce.chain.custody import WITHDRAWAL_ID, Custody
from commerce.chain.custody_rules import State
from commerce.errors import Problem
from commerce.openapi import IDEMPOTENCY, _op, _ref
from commerce.settings import CommerceSettings
from commerce.validation import Invalid, check
from elysium.http import idempotency_key, json_response, read_json

CUSTODY = web.AppKey("custody", Custody)
STATES: tuple[State, ...] = ("withdrawing", "on_chain", "withdraw_failed")


def _custody(request: web.Request) -> Custody:
    custody = request.app.get(CUSTODY)
    if custody is None:
        raise Problem("chain-disabled", "this service has no chain (ELYSIUM_CHAIN_URL is unset)")
    return custody


async def withdraw_item(request: web.Request) -> web.Response:
    account = player(request)
    key = idempotency_key(request)
    item = request.match_info["item"]
    if not re.fullmatch(ITEM_UID, item):
        raise Problem("unknown-owned-item", "there is no such item of yours")
    if request.body_exists:  # the body is optional; when sent it must be an empty object
        raw = await read_json(request, request.app[SETTINGS].max_body_bytes)
        try:
            check(raw, {})
        except Invalid as exc:
            raise Problem("invalid-request", "withdraw takes no fields: the item goes to your linked wallet",
                          errors=exc.errors) from None
    body, replayed = await _custody(request).withdraw(account, item, key)
    status = 200 if replayed else (202 if body["state"] == "withdrawing" else 201)
    return json_response(body, status, {"Idempotent-Replayed": "true" if replayed else "false"})


async def get_withdrawal(request: web.Request) -> web.Response:
    account = player(request)
    wid = request.match_info["withdrawal_id"]
    if not re.fullmatch(WITHDRAWAL_ID, wid):
        raise Problem("unknown-withdrawal", "there is no such withdrawal of yours")
    return json_response(await _custody(request).get(account, wid))


async def chain_info(request: web.Request) -> web.Response:
    chain = _custody(request).chain
    return json_response({"chain_id": chain.chain_id, "custody": chain.custody, "items": chain.items.address,
                          "rights": chain.rights.address})


def _connector(settings: CommerceSettings) -> Any:
    read_key(settings.chain_key_file)  # a missing or bad key file stops the start, in one line

    async def connect(app: web.Application) -> AsyncIterator[None]:
        chain = await Chain.connect(settings.chain_url, settings.chain_key_file, settings.chain_id,
                                    settings.chain_items_address, settings.chain_rights_address,
                                    timeout_s=settings.chain_timeout_s,
                                    receipt_timeout_s=settings.chain_receipt_timeout_s)
        store = app[STORE]
        assert store.leases is not None
        custody = Custody(store, chain, store.leases.instance, settings.chain_confirmations,
                          settings.chain_from_block, settings.chain_fault)
        await custody.ensure_indexes()
        app[CUSTODY] = custody
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(custody.run(stop, settings.chain_poll_s),
                                                      name="chain-reconciler")
        yield
        stop.set()
        try:
            await asyncio.wait_for(task, min(2.0, settings.drain_timeout_s / 4))
        except TimeoutError:
            pass  # a round cut short is resumed by the next reconciler
        await chain.close()

    return connect


def add_routes(app: web.Application, settings: CommerceSettings) -> None:
    if settings.chain_url:
        app.cleanup_ctx.append(_connector(settings))
    r = app.router
    r.add_post("/v1/me/items/{item}/withdraw", withdraw_item)
    r.add_get("/v1/me/withdrawals/{withdrawal_id}", get_withdrawal)
    r.add_get("/v1/chain", chain_info)


# --- OpenAPI ----------------------------------------------------------------------------------

SCHEMAS: dict[str, Any] = {
    "Withdrawal": {"type": "object", "properties": {
        "id": {"type": "string", "pattern": f"^{WITHDRAWAL_ID}$"}, "item": {"type": "string"},
        "item_id": {"type": "string", "description": "the item type"},
        "state": {"enum": list(STATES)}, "to": {"type": "string", "description": "the linked address (EIP-55)"},
        "token_id": {"type": "string", "description": "the ERC-1155 token id, in decimal"},
        "tx_hash": {"type": ["string", "null"]}, "block": {"type": "integer"},
        "reason": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                   "description": "why it failed (withdraw_failed only): reverted, chain-unavailable, "
                                  "interrupted or not-mined"},
        "created_at": {"type": "string", "format": "date-time"}}},
    "ChainInfo": {"type": "object", "properties": {
        "chain_id": {"type": "integer"}, "custody": {"type": "string", "description": "deposit items by sending "
                                                                                      "their tokens here"},
        "items": {"type": "string"}, "rights": {"type": "string"}}},
}
ITEM = {"name": "item", "in": "path", "required": True, "schema": {"type": "string", "pattern": f"^{ITEM_UID}$"},
        "description": "an owned item's id (GET /v1/me/items)"}
WITHDRAWAL = {"name": "withdrawal_id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": f"^{WITHDRAWAL_ID}$"}}


def openapi_paths() -> dict[str, Any]:
    withdraw = _op("withdrawItem", "chain", "Withdraw an item to the linked wallet as an ERC-1155 token: 201 "
                                            "on_chain or withdraw_failed (with a reason; the item is back in "
                                            "game), 202 withdrawing while its receipt is awaited", 201,
                   _ref("Withdrawal"), (401, 404, 409, 422, 503), auth="player", params=[IDEMPOTENCY, ITEM],
                   replay=True, body={"type": "object", "additionalProperties": False, "maxProperties": 0})
    withdraw["requestBody"]["required"] = False
    withdraw["responses"]["202"] = {"description": "Sent; the receipt is awaited (poll GET /v1/me/withdrawals/{id})",
                                    "content": {"application/json": {"schema": _ref("Withdrawal")}}}
    return {
        "/v1/me/items/{item}/withdraw": {"post": withdraw},
        "/v1/me/withdrawals/{withdrawal_id}": {"get": _op("getWithdrawal", "chain", "One withdrawal of yours", 200,
                                                          _ref("Withdrawal"), (401, 404, 503), auth="player",
                                                          params=[WITHDRAWAL])},
        "/v1/chain": {"get": _op("getChain", "chain", "The chain, the contracts and the custody address deposits "
                                                      "go to", 200, _ref("ChainInfo"), (503,))},
    }
