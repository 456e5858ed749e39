"""The OpenAPI 3.1 document of the game server's plain HTTP endpoints (served at ``/v1/openapi.json``).

The websocket endpoint ``/v1/play`` is not HTTP JSON; ``docs/protocol.md`` describes it.
"""

from __future__ import annotations

from typing import Any

from elysium import openapi


def build() -> dict[str, Any]:
    checks = {"redis": {"type": "boolean", "description": "Redis answered the last heartbeat"},
              "draining": {"type": "boolean", "description": "the server is draining after SIGTERM"}}
    doc = openapi.document(
        "Elysium game server",
        "Probes and metrics of a game server, and its admin API (a service token with the gameserver:admin scope). "
        "Players play over the websocket at /v1/play (docs/protocol.md), not over this API. Errors are "
        "application/problem+json.",
        {**openapi.probe_paths("Redis reachable and not draining", checks), **admin_paths()})
    doc["components"]["securitySchemes"] = {"service": {"type": "http", "scheme": "bearer", "bearerFormat":
                                                        "JWT (EdDSA, aud elysium:service, scope gameserver:admin)"}}
    return doc


PLAYER = {"type": "object", "properties": {
    "seat": {"type": "integer"}, "player_id": {"type": "string"}, "name": {"type": "string"},
    "team": {"type": "integer"}, "connected": {"type": "boolean"}, "score": {"type": ["integer", "null"]},
    "dropped_for_s": {"type": ["number", "null"], "description": "seconds since the connection dropped (seat held)"},
    "in_match_s": {"type": "number"},
    "last_input_seq": {"type": "integer", "description": "the newest input sequence number received (-1: none)"},
    "last_applied_seq": {"type": "integer", "description": "the newest one a tick applied"},
    "inputs_waiting": {"type": "integer", "description": "inputs queued for the next tick"},
    "send_backlog_bytes": {"type": "integer", "description": "bytes written that the client has not taken yet"},
    "slow_for_s": {"type": ["number", "null"], "description": "how long the fan-out has skipped this slow reader"},
    "rtt_ms": {"type": "null", "description": "not measured by the server (clients time their pings)"}}}
ROOM = {"type": "object", "properties": {
    "match_id": {"type": "string"}, "mode": {"type": "string"},
    "state": {"enum": ["waiting", "running", "finished", "disposed"]}, "tick": {"type": "integer"},
    "tick_hz": {"type": "integer"}, "age_s": {"type": "number"}, "seats": {"type": "integer"},
    "late_ticks": {"type": "integer", "description": "ticks that started more than one period late"},
    "skipped_ticks": {"type": "integer", "description": "steps skipped because the process fell behind"},
    "players": {"type": "array", "items": PLAYER}}}


def admin_paths() -> dict[str, Any]:
    errors = {str(code): openapi.problem_response() for code in (400, 401, 403, 404, 405)}
    rooms = openapi.operation("listRooms", "admin", "The rooms of this server with their players and lateness", {
        "200": openapi.json_response("Rooms", {"type": "object", "properties": {
            "server_id": {"type": "string"}, "rooms": {"type": "array", "items": ROOM}}}), **errors})
    kick = openapi.operation("kickPlayer", "admin", "Remove a player from one match: they get the error kicked "
                             "with the reason and a close 1008; the seat is freed", {
                                 "200": openapi.json_response("Kicked", {"type": "object", "properties": {
                                     "match_id": {"type": "string"}, "player_id": {"type": "string"},
                                     "seat": {"type": "integer"}, "reason": {"type": "string"},
                                     "by": {"type": "string"}, "at_ms": {"type": "integer"}}}),
                                 **errors, "413": openapi.problem_response()},
                             parameters=[{"name": "match_id", "in": "path", "required": True,
                                          "schema": {"type": "string"}},
                                         {"name": "player_id", "in": "path", "required": True,
                                          "schema": {"type": "string"}}])
    kick["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["reason"], "additionalProperties": False,
        "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 200}}}}}}
    for op in (rooms, kick):
        op["security"] = [{"service": []}]
    return {"/v1/admin/rooms": {"get": rooms}, "/v1/admin/rooms/{match_id}/players/{player_id}/kick": {"post": kick}}
