"""The OpenAPI 3.1 document of the relay's plain HTTP endpoints (served at ``/v1/openapi.json``).

The websocket endpoints ``/v1/watch/{match_id}`` and ``/v1/social`` are not HTTP JSON;
``docs/spectator.md`` and ``docs/protocol.md`` (*Social socket*) describe them.
"""

from __future__ import annotations

from typing import Any

from elysium import openapi
from spectator.listing import MAX_LIST_LIMIT

_MATCH = {
    "type": "object",
    "required": ["match_id", "mode", "state", "players", "score", "top_score", "tick", "elapsed_s", "viewers",
                 "end_reason", "watch"],
    "properties": {
        "match_id": {"type": "string"}, "mode": {"type": "string"},
        "state": {"type": ["string", "null"], "enum": ["waiting", "running", "finished", None]},
        "players": {"type": "array", "items": {"type": "object"}},
        "score": {"type": "array", "description": "[team, total score] pairs",
                  "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}},
        "top_score": {"type": "integer"}, "tick": {"type": "integer", "minimum": 0},
        "elapsed_s": {"type": "number", "minimum": 0}, "viewers": {"type": "integer", "minimum": 0},
        "end_reason": {"type": ["string", "null"]},
        "watch": {"type": "string", "description": "the websocket path to watch it (replays: from the start)"},
    },
}


def build() -> dict[str, Any]:
    checks = {"redis": {"type": "boolean", "description": "Redis answered the last clock sync"},
              "draining": {"type": "boolean", "description": "the relay is draining after SIGTERM"},
              "watchers": {"type": "integer", "minimum": 0}, "matches": {"type": "integer", "minimum": 0}}
    paths = openapi.probe_paths("Redis reachable and not draining", checks)
    limit = {"name": "limit", "in": "query", "required": False, "description": "matches listed at most",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": 50}}
    listing = {"type": "object", "required": ["live", "replays"], "additionalProperties": False,
               "properties": {"live": {"type": "array", "items": _MATCH},
                              "replays": {"type": "array", "items": _MATCH}}}
    paths["/v1/matches"] = {"get": openapi.operation(
        "listMatches", "matches", "Live matches and finished ones still watchable, with viewer counts",
        {"200": openapi.json_response("Matches", listing), "400": openapi.problem_response(),
         "503": openapi.problem_response("Match listings are unavailable; retry")},
        parameters=[limit])}
    return openapi.document(
        "Elysium spectator relay",
        "Probes, metrics and the match listing of a relay. Spectators watch over the websocket at "
        "/v1/watch/{match_id} (docs/protocol.md), and players chat over the websocket at /v1/social "
        "(docs/protocol.md, Social socket), not over this API. Errors are application/problem+json.",
        paths)
