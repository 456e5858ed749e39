"""The OpenAPI 3.1 document of the game server's plain HTTP endpoints (served at ``/v1/openapi.json``).

The websocket endpoint ``/v1/play`` is not HTTP JSON; ``docs/protocol.md`` describes it.
"""

from __future__ import annotations

from typing import Any

from elysium import openapi


def build() -> dict[str, Any]:
    checks = {"redis": {"type": "boolean", "description": "Redis answered the last heartbeat"},
              "draining": {"type": "boolean", "description": "the server is draining after SIGTERM"}}
    return openapi.document(
        "Elysium game server",
        "Probes and metrics of a game server. Players play over the websocket at /v1/play "
        "(docs/protocol.md), not over this API. Errors are application/problem+json.",
        openapi.probe_paths("Redis reachable and not draining", checks))
