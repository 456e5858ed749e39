"""The gateway's own OpenAPI 3.1 document (``GET /v1/openapi.json``): its status route and probes.

The proxied APIs are the services' own (each serves its document, reachable through the gateway
as ``/api/<service>/v1/openapi.json``); GraphQL describes itself (``gateway/schema.graphql``).
"""

from __future__ import annotations

from typing import Any

from elysium import openapi
from gateway.upstreams import SERVICES

STATUS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["version", "services", "grafana_url"], "additionalProperties": False,
    "properties": {
        "version": {"type": "string"},
        "services": {"type": "object", "required": list(SERVICES), "additionalProperties": False,
                     "properties": {name: {"type": "object", "required": ["ready"],
                                           "properties": {"ready": {"type": "boolean"}}} for name in SERVICES}},
        "grafana_url": {"type": ["string", "null"], "format": "uri"}}}


def build() -> dict[str, Any]:
    paths = {
        "/api/gateway/v1/status": {"get": openapi.operation(
            "getGatewayStatus", "status", "The version, each service's readiness (cached a few seconds) and "
            "Grafana's address", {"200": openapi.json_response("The status", STATUS_SCHEMA)})},
        **openapi.probe_paths("the web client's services can be reached (commerce answers its /readyz) and the "
                              "gateway is not draining", {"services": {"type": "object"}}),
    }
    doc = openapi.document("Elysium gateway", "One origin for the web client: its files, the services' APIs under "
                           "/api/<service>/ (each documents itself), the game servers' under "
                           "/api/gameservers/<server_id>/, and GraphQL at /graphql. See docs/gateway.md.", paths)
    return doc
