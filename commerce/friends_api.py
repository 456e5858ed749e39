"""The /v1/me/friends, /v1/me/blocks and /v1/players routes, and their OpenAPI operations."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from commerce import friendship, profiles
from commerce.api import EMPTY_BODY, _body, _query, empty_body, player
from commerce.appkeys import FRIENDS, MATCHMAKER, STORE
from commerce.errors import Problem
from commerce.friendship import Move
from commerce.openapi import _op, _ref, object_schema
from commerce.validation import Field
from elysium.http import bearer, json_response
from elysium.presence import PRIORITY, State

TARGET = {"player_id": Field(str, pattern=friendship.PLAYER_ID)}


def _other(request: web.Request) -> str:
    other = request.match_info["player_id"]
    if not friendship.is_player_id(other):
        raise Problem("player-not-found", "there is no such player")
    return other


async def _move_from_body(request: web.Request, move: Move) -> tuple[str, friendship.Pair]:
    me = player(request)
    body = await _body(request, TARGET)
    return me, await request.app[FRIENDS].move(me, body["player_id"], move)


def _path_move(move: Move) -> Any:
    async def handler(request: web.Request) -> web.Response:
        me = player(request)
        if request.method == "POST":
            await empty_body(request, str(move))
        await request.app[FRIENDS].move(me, _other(request), move)
        return web.Response(status=204)

    handler.__name__ = f"{move}_friend"
    return handler


def _relation(me: str, pair: friendship.Pair) -> dict[str, Any]:
    """What lies between the caller and the other player after a move."""
    state = "friends" if pair.friends else "requested" if pair.requester == me else "none"
    return {"player_id": pair.other(me), "state": state, "blocked": me in pair.blocked_by,
            "since": pair.since.isoformat() if pair.since else None}


async def send_request(request: web.Request) -> web.Response:
    me, pair = await _move_from_body(request, Move.REQUEST)
    # Asking a player who had asked you makes you friends at once (200); a new request is 201.
    return json_response(_relation(me, pair), 200 if pair.friends else 201)


async def list_requests(request: web.Request) -> web.Response:
    me = player(request)
    _query(request)
    return json_response(await request.app[FRIENDS].requests(me))


async def list_friends(request: web.Request) -> web.Response:
    me = player(request)
    _query(request)
    return json_response({"friends": await request.app[FRIENDS].friends(me)})


async def block(request: web.Request) -> web.Response:
    me, pair = await _move_from_body(request, Move.BLOCK)
    return json_response(_relation(me, pair), 201)


async def list_blocks(request: web.Request) -> web.Response:
    me = player(request)
    _query(request)
    return json_response({"blocks": await request.app[FRIENDS].blocks(me)})


async def public_profile(request: web.Request) -> web.Response:
    token = bearer(request)
    player(request)  # signed in players only: the matchmaker is asked with the caller's token
    _query(request)
    return json_response(await profiles.public_profile(request.app[STORE], request.app[MATCHMAKER],
                                                       _other(request), token))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/me/friends", list_friends)
    # Not "requests": that path is the requests' resource, which DELETE is not allowed on.
    r.add_delete("/v1/me/friends/{player_id:(?!requests$)[^/]+}", _path_move(Move.REMOVE))
    r.add_get("/v1/me/friends/requests", list_requests)
    r.add_post("/v1/me/friends/requests", send_request)
    r.add_post("/v1/me/friends/requests/{player_id}/accept", _path_move(Move.ACCEPT))
    r.add_post("/v1/me/friends/requests/{player_id}/decline", _path_move(Move.DECLINE))
    r.add_delete("/v1/me/friends/requests/{player_id}", _path_move(Move.CANCEL))
    r.add_get("/v1/me/blocks", list_blocks)
    r.add_post("/v1/me/blocks", block)
    r.add_delete("/v1/me/blocks/{player_id}", _path_move(Move.UNBLOCK))
    r.add_get("/v1/players/{player_id}", public_profile)


# --- OpenAPI ---------------------------------------------------------------------------------

PLAYER_PARAM = {"name": "player_id", "in": "path", "required": True,
                "schema": {"type": "string", "pattern": f"^{friendship.PLAYER_ID}$"}}
PERSON = {"id": {"type": "string"}, "display_name": {"type": "string"}, "avatar_url": {"type": ["string", "null"]}}
TIME = {"type": ["string", "null"], "format": "date-time"}
SCHEMAS: dict[str, Any] = {
    "Presence": {"type": "object", "description": "The most specific live state: " + ", ".join(PRIORITY)
                                                  + "; none of them is offline",
                 "properties": {"state": {"enum": [s.value for s in State]},
                                "match_id": {"type": ["string", "null"]},
                                "watch": {"type": ["string", "null"],
                                          "description": "path on the spectator relay that watches the match"},
                                "since_ms": {"type": ["integer", "null"]}}},
    "Friend": {"type": "object", "properties": {**PERSON, "since": TIME, "presence": _ref("Presence")}},
    "Person": {"type": "object", "properties": PERSON},
    "PendingRequest": {"type": "object", "properties": {**PERSON, "at": TIME}},
    "Relation": {"type": "object", "properties": {
        "player_id": {"type": "string"}, "state": {"enum": ["none", "requested", "friends"]},
        "blocked": {"type": "boolean", "description": "whether you block the player"}, "since": TIME}},
    "PublicProfile": {"type": "object", "properties": {
        **PERSON, "created_at": {"type": "string", "format": "date-time"},
        "ratings": {"type": ["array", "null"], "items": {"type": "object"},
                    "description": "per mode and season: mode, season, ordinal, mu, sigma, matches, wins"},
        "recent_matches": {"type": ["array", "null"], "items": {"type": "object"},
                           "description": "the newest matches, as the matchmaker's match history lists them"},
        "unavailable": {"type": "array", "items": {"enum": ["ratings", "recent_matches"]},
                        "description": "parts the matchmaker could not give just now (they are null)"}}},
}


def _list(key: str, schema: str) -> dict[str, Any]:
    return {"type": "object", "properties": {key: {"type": "array", "items": _ref(schema)}}}


def _path_op(op_id: str, summary: str, *, post: bool) -> dict[str, Any]:
    op = _op(op_id, "friends", summary, 204, None, (401, 404, 409), auth="player",
             body=EMPTY_BODY if post else None, params=[PLAYER_PARAM])
    if post:
        op["requestBody"]["required"] = False
    return op


def openapi_paths() -> dict[str, Any]:
    target = object_schema(TARGET)
    return {
        "/v1/me/friends": {"get": _op("listFriends", "friends", "Your friends, newest first, each with presence",
                                      200, _list("friends", "Friend"), (400, 401), auth="player")},
        "/v1/me/friends/{player_id}": {"delete": _path_op("removeFriend", "End a friendship (for both players)",
                                                          post=False)},
        "/v1/me/friends/requests": {
            "get": _op("listFriendRequests", "friends", "Pending requests to you and from you, newest first", 200,
                       {"type": "object", "properties": {
                           "incoming": {"type": "array", "items": _ref("PendingRequest")},
                           "outgoing": {"type": "array", "items": _ref("PendingRequest")}}}, (400, 401),
                       auth="player"),
            "post": _op("sendFriendRequest", "friends",
                        "Ask a player to be friends; if they had asked you, you are friends at once (200)", 201,
                        _ref("Relation"), (401, 403, 404, 409, 422), auth="player", body=target)},
        "/v1/me/friends/requests/{player_id}/accept": {"post": _path_op(
            "acceptFriendRequest", "Accept the player's request", post=True)},
        "/v1/me/friends/requests/{player_id}/decline": {"post": _path_op(
            "declineFriendRequest", "Decline the player's request", post=True)},
        "/v1/me/friends/requests/{player_id}": {"delete": _path_op(
            "cancelFriendRequest", "Withdraw your request to the player", post=False)},
        "/v1/me/blocks": {
            "get": _op("listBlocks", "friends", "The players you block", 200, _list("blocks", "Person"),
                       (400, 401), auth="player"),
            "post": _op("blockPlayer", "friends", "Block a player: any friendship and pending request between you "
                                                  "end, and they cannot request, invite or message you", 201,
                        _ref("Relation"), (401, 404, 409, 422), auth="player", body=target)},
        "/v1/me/blocks/{player_id}": {"delete": _path_op("unblockPlayer", "Stop blocking the player", post=False)},
        "/v1/players/{player_id}": {"get": _op(
            "getPublicProfile", "profiles", "A player's public profile: name, avatar, ratings per mode and recent "
                                            "matches (nothing private)", 200, _ref("PublicProfile"),
            (400, 401, 404), auth="player", params=[PLAYER_PARAM])},
    }
