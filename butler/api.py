"""The HTTP API under ``/v1`` (``butler/openapi.py`` describes it; a test keeps the two in step).

Routes by resource: chat and confirm in :mod:`butler.chat_api`, the player's settings in
:mod:`butler.settings_api`, conversations here. Every route needs a player access token.
"""

from __future__ import annotations

from aiohttp import web

from butler import chat_api, settings_api
from butler.appkeys import SERVICES, Services
from butler.auth import player
from butler.chat_api import not_found
from butler.conversations import detail
from elysium import http
from elysium.problem import shared

DEFAULT_PAGE, MAX_PAGE = 20, 50


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def list_conversations(request: web.Request) -> web.Response:
    who = player(request)
    raw_limit = request.query.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise shared("invalid-request", f"limit must be a whole number from 1 to {MAX_PAGE}",
                     errors={"limit": f"must be from 1 to {MAX_PAGE}"})
    cursor = request.query.get("cursor")
    if cursor is not None and not chat_api.CONVERSATION_ID.fullmatch(cursor):
        raise shared("invalid-request", "cursor must be the next_cursor of a previous page",
                     errors={"cursor": "not a cursor this service gave out"})
    items, next_cursor = await services(request).conversations.page(who.id, int(raw_limit), cursor)
    return http.json_response({"items": items, "next_cursor": next_cursor})


async def get_conversation(request: web.Request) -> web.Response:
    who = player(request)
    conversation_id = request.match_info["conversation_id"]
    doc = await services(request).conversations.get(who.id, conversation_id)
    if doc is None:
        raise not_found(conversation_id)
    return http.json_response(detail(doc))


async def delete_conversation(request: web.Request) -> web.Response:
    who = player(request)
    conversation_id = request.match_info["conversation_id"]
    if not await services(request).conversations.delete(who.id, conversation_id):
        raise not_found(conversation_id)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    chat_api.add_routes(app)
    settings_api.add_routes(app)
    app.router.add_get("/v1/conversations", list_conversations)
    app.router.add_get("/v1/conversations/{conversation_id}", get_conversation)
    app.router.add_delete("/v1/conversations/{conversation_id}", delete_conversation)
