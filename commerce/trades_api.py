"""The /v1/trades routes, their OpenAPI operations, and the expiry sweeper's place in the app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from commerce import ledger, trading
from commerce.api import EMPTY_BODY, _limit, _query, empty_body, player
from commerce.appkeys import ECONOMY, METRICS, SETTINGS, STORE
from commerce.errors import Problem
from commerce.openapi import IDEMPOTENCY, LIMIT, WHOLE, _op, _ref, field_schema
from commerce.trades import Trades
from commerce.trading import Event
from commerce.validation import Invalid
from elysium.http import idempotency_key, json_response, read_json

TRADES = web.AppKey("trades", Trades)
ROLES = ("sent", "received")


def _trade_id(request: web.Request) -> str:
    tid = request.match_info["trade_id"]
    if not re.fullmatch(trading.TRADE_ID, tid):
        raise Problem("unknown-trade", "there is no such trade of yours")
    return tid


def _replay_headers(replayed: bool) -> dict[str, str]:
    return {"Idempotent-Replayed": "true" if replayed else "false"}


async def create_trade(request: web.Request) -> web.Response:
    account = player(request)
    key = idempotency_key(request)
    settings = request.app[SETTINGS]
    raw = await read_json(request, settings.max_body_bytes)
    try:
        terms = trading.parse_terms(raw, settings.trade_max_ttl_s)
    except Invalid as exc:
        raise Problem("invalid-request", "the trade has invalid fields", errors=exc.errors) from None
    outcome = await request.app[TRADES].create(account, terms, key)
    return json_response(outcome.body, 200 if outcome.replayed else 201, _replay_headers(outcome.replayed))


def _event(event: Event) -> Any:
    async def handler(request: web.Request) -> web.Response:
        account = player(request)
        key = idempotency_key(request)
        tid = _trade_id(request)
        await empty_body(request, str(event))
        outcome = await request.app[TRADES].act(account, tid, event, key)
        return json_response(outcome.body, 200, _replay_headers(outcome.replayed))

    handler.__name__ = f"{event}_trade"
    return handler


async def list_trades(request: web.Request) -> web.Response:
    account = player(request)
    _query(request, "role", "state", "limit", "cursor")
    role = request.query.get("role")
    if role not in ROLES:
        raise Problem("invalid-request", "say which trades: role=sent or role=received",
                      errors={"role": "must be sent or received"})
    state = request.query.get("state")
    if state is not None and state not in trading.STATES:
        raise Problem("invalid-request", "unknown trade state", errors={"state": "must be one of "
                                                                                 + ", ".join(trading.STATES)})
    raw_cursor = request.query.get("cursor")
    cursor = None
    if raw_cursor is not None:
        try:
            cursor = trading.decode_cursor(raw_cursor)
        except ValueError:
            raise Problem("invalid-request", "cursor must be the next_cursor of a previous page",
                          errors={"cursor": "is not a cursor this API gave"}) from None
    trades, following = await request.app[TRADES].page(account, role, state, _limit(request), cursor)
    return json_response({"trades": trades, "next_cursor": following})


async def get_trade(request: web.Request) -> web.Response:
    account = player(request)
    return json_response(await request.app[TRADES].get(account, _trade_id(request)))


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    """The trades adapter (with the escrow account) once MongoDB is up, and this replica's sweeper."""
    settings = app[SETTINGS]
    trades = Trades(app[STORE], app[ECONOMY], settings.trade_ttl_s)
    await trades.ensure()
    app[TRADES] = trades
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(trades.run_sweeper(stop, settings.trade_sweep_s),
                                                  name="trade-sweeper")
    yield
    stop.set()
    try:
        # A sweep cut short aborts its transaction: that trade stays open for the next sweep.
        await asyncio.wait_for(task, min(2.0, settings.drain_timeout_s / 4))
    except TimeoutError:
        pass


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_sweeper)
    app[METRICS].m.counter_read("trades_expired", "Trades this replica expired, their escrow returned",
                                lambda: app[TRADES].expired if TRADES in app else 0)
    r = app.router
    r.add_post("/v1/trades", create_trade)
    r.add_get("/v1/trades", list_trades)
    r.add_get("/v1/trades/{trade_id}", get_trade)
    events: tuple[Event, ...] = ("accept", "decline", "cancel")
    for event in events:
        r.add_post(f"/v1/trades/{{trade_id}}/{event}", _event(event))


# --- OpenAPI ----------------------------------------------------------------------------------

_ITEM = {"type": "string", "pattern": f"^{trading.ITEM_UID}$"}
_AMOUNTS = {"type": "object", "additionalProperties": False,
            "properties": {c: {"type": "integer", "minimum": 1, "maximum": ledger.MAX_AMOUNT, "description": WHOLE}
                           for c in ledger.CURRENCIES}}
SCHEMAS: dict[str, Any] = {
    "TradeSide": {"type": "object", "additionalProperties": False, "properties": {
        "items": {"type": "array", "minItems": 1, "maxItems": trading.MAX_ITEMS, "uniqueItems": True,
                  "items": _ITEM},
        "currency": {**_AMOUNTS, "minProperties": 1,
                     "description": "an amount per currency; leave a currency out rather than send 0"}},
                  "minProperties": 1, "description": "items, currency or both; a side with nothing is left out"},
    "Trade": {"type": "object", "properties": {
        "trade_id": {"type": "string"}, "offerer_id": {"type": "string"}, "receiver_id": {"type": "string"},
        "state": {"enum": list(trading.STATES)},
        **{side: {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "item_id": {"type": "string"}}}},
            "currency": {"type": "object", "additionalProperties": {"type": "integer"}}}}
           for side in ("offer", "request")},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time"},
        "closed_at": {"type": ["string", "null"], "format": "date-time"},
        "closed_by": {"type": ["string", "null"], "description": "who accepted, declined or cancelled; "
                                                                "null while open or when it expired"}}},
}
TRADE_ID = {"name": "trade_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": f"^{trading.TRADE_ID}$"}}


def _create_body(max_ttl_s: int) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["receiver_id"],
            "anyOf": [{"required": ["offer"]}, {"required": ["request"]}],
            "description": "an offer, a request or both; an item at most once",
            "properties": {"receiver_id": field_schema(trading.CREATE["receiver_id"]),
                           "offer": _ref("TradeSide"), "request": _ref("TradeSide"),
                           "expires_in_s": {**field_schema(trading.CREATE["expires_in_s"]), "maximum": max_ttl_s,
                                            "description": f"{WHOLE}; seconds, at most "
                                                           "ELYSIUM_COMMERCE_TRADE_MAX_TTL_S (default: "
                                                           "ELYSIUM_COMMERCE_TRADE_TTL_S)"}}}


def _event_op(event: str, summary: str) -> dict[str, Any]:
    op = _op(f"{event}Trade", "trades", summary, 200, _ref("Trade"), (401, 403, 404, 409, 422, 503), auth="player",
             body=EMPTY_BODY,
             params=[IDEMPOTENCY, TRADE_ID])
    op["requestBody"]["required"] = False
    op["responses"]["200"]["description"] = ("The trade after the event; a retry with the same Idempotency-Key "
                                             "answers it again with Idempotent-Replayed: true")
    return op


def openapi_paths(max_ttl_s: int) -> dict[str, Any]:
    listing = [{"name": "role", "in": "query", "required": True, "schema": {"enum": list(ROLES)}},
               {"name": "state", "in": "query", "required": False, "schema": {"enum": list(trading.STATES)}},
               LIMIT, {"name": "cursor", "in": "query", "required": False,
                       "description": "next_cursor of the previous page (opaque); the last page's is null",
                       "schema": {"type": "string", "pattern": f"^{trading.CURSOR}$"}}]
    page = {"type": "object", "properties": {"trades": {"type": "array", "items": _ref("Trade")},
                                             "next_cursor": {"type": ["string", "null"]}}}
    return {
        "/v1/trades": {
            "post": _op("createTrade", "trades", "Offer another player items and/or currency for items and/or "
                                                 "currency; what is offered goes into escrow", 201, _ref("Trade"),
                        (401, 403, 404, 409, 422, 503), auth="player", body=_create_body(max_ttl_s),
                        params=[IDEMPOTENCY], replay=True),
            "get": _op("listTrades", "trades", "Trades sent or received, newest first", 200, page, (400, 401),
                       auth="player", params=listing)},
        "/v1/trades/{trade_id}": {"get": _op("getTrade", "trades", "One trade (its parties only)", 200,
                                             _ref("Trade"), (401, 404), auth="player", params=[TRADE_ID])},
        "/v1/trades/{trade_id}/accept": {"post": _event_op(
            "accept", "The receiver accepts: everything is swapped in one transaction, or nothing")},
        "/v1/trades/{trade_id}/decline": {"post": _event_op(
            "decline", "The receiver declines: the escrow goes back to the offerer")},
        "/v1/trades/{trade_id}/cancel": {"post": _event_op(
            "cancel", "Either party cancels an open trade: the escrow goes back to the offerer")},
    }
