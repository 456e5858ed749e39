"""Batch reads: many players' public fields in one request (``GET /v1/players?ids=a,b,c``).

A client showing a page of listings, trades or friends names every player on it with one read,
not one per row. The rules are the single read's (``GET /v1/players/{id}``): signed-in players
only, public fields only (id, display name, avatar, when the account was made), system accounts
are never shown. Ids with no such player are listed in ``missing``; the answer keeps the order asked.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from commerce import friendship
from commerce.api import _query, player
from commerce.appkeys import STORE
from commerce.errors import Problem
from commerce.openapi import _op
from elysium.http import json_response

MAX_IDS = 100


def _ids(request: web.Request) -> list[str]:
    values = request.query.getall("ids", [])
    if len(values) != 1 or not values[0]:
        raise Problem("invalid-request", f"give ids once: 1 to {MAX_IDS} player ids separated by commas",
                      errors={"ids": "is required, once"})
    ids = values[0].split(",")
    if len(ids) > MAX_IDS:
        raise Problem("invalid-request", f"at most {MAX_IDS} ids in one read",
                      errors={"ids": f"has {len(ids)} ids; at most {MAX_IDS}"})
    bad = [i for i in ids if not friendship.is_player_id(i)]
    if bad:
        raise Problem("invalid-request", "an id is empty or has characters a player id does not",
                      errors={"ids": f"{len(bad)} ids are not player ids"})
    return list(dict.fromkeys(ids))  # once each, in the order asked


async def players(request: web.Request) -> web.Response:
    player(request)  # signed-in players only, as the single read
    _query(request, "ids")
    ids = _ids(request)
    found: dict[str, dict[str, Any]] = {}
    async for doc in request.app[STORE].accounts.find(
            {"_id": {"$in": ids}, "system": {"$ne": True}},
            {"display_name": 1, "username": 1, "avatar_url": 1, "created_at": 1}):
        found[doc["_id"]] = {"id": doc["_id"], "display_name": str(doc.get("display_name") or doc.get("username")),
                             "avatar_url": doc.get("avatar_url"), "created_at": doc["created_at"].isoformat()}
    return json_response({"players": [found[i] for i in ids if i in found],
                          "missing": [i for i in ids if i not in found]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/players", players)


# --- OpenAPI ---------------------------------------------------------------------------------

IDS_PARAM = {"name": "ids", "in": "query", "required": True, "style": "form", "explode": False,
             "description": f"1 to {MAX_IDS} player ids, separated by commas (repeats are read once)",
             "schema": {"type": "array", "minItems": 1, "maxItems": MAX_IDS,
                        "items": {"type": "string", "pattern": f"^{friendship.PLAYER_ID}$"}}}
PERSON = {"type": "object", "properties": {
    "id": {"type": "string"}, "display_name": {"type": "string"}, "avatar_url": {"type": ["string", "null"]},
    "created_at": {"type": "string", "format": "date-time"}}}


def openapi_paths() -> dict[str, Any]:
    body = {"type": "object", "properties": {
        "players": {"type": "array", "items": PERSON, "description": "the players found, in the order asked"},
        "missing": {"type": "array", "items": {"type": "string"}, "description": "ids with no such player"}}}
    return {"/v1/players": {"get": _op(
        "getPlayers", "profiles", "Many players' public fields at once (id, display name, avatar, created_at): "
                                  "one read for a page that names many players", 200, body, (400, 401),
        auth="player", params=[IDS_PARAM])}}

