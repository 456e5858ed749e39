"""Pieces of OpenAPI 3.1 documents that services share: the problem schema and the probe routes.

Pure: plain dicts, no I/O. The game server and the relay build their documents from these;
each service serves its own document at ``/v1/openapi.json`` (``docs/http.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elysium.problem import CONTENT_TYPE as PROBLEM_CONTENT_TYPE

VERSION = "3.1.0"
PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "description": "RFC 9457 problem details; docs/http.md lists the shared codes",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {"type": {"type": "string", "pattern": "^urn:elysium:problem:[a-z][a-z0-9-]*$"},
                   "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                   "code": {"type": "string"}, "instance": {"type": "string"},
                   "errors": {"type": "object", "additionalProperties": {"type": "string"}}},
}


def problem_response(description: str = "Problem") -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}}}


def json_response(description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": dict(schema)}}}


def operation(op_id: str, tag: str, summary: str, responses: Mapping[str, Any], *,
              parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "tags": [tag], "summary": summary}
    if parameters:
        op["parameters"] = parameters
    op["responses"] = dict(responses)
    return op


def probe_paths(ready: str, ready_checks: Mapping[str, Any]) -> dict[str, Any]:
    """``/healthz``, ``/readyz`` (its body: ``ready`` and ``ready_checks``), ``/metrics`` and this document."""
    readiness = {"type": "object", "required": ["ready", *ready_checks], "additionalProperties": False,
                 "properties": {"ready": {"type": "boolean"}, **ready_checks}}
    health = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    return {
        "/healthz": {"get": operation("getHealth", "probes", "Liveness: 200 while the process runs",
                                      {"200": json_response("Alive", health)})},
        "/readyz": {"get": operation("getReadiness", "probes", f"Readiness: {ready}",
                                     {"200": json_response("Ready", readiness),
                                      "503": json_response("Not ready", readiness)})},
        "/metrics": {"get": operation("getMetrics", "probes", "Prometheus metrics",
                                      {"200": {"description": "Prometheus text format",
                                               "content": {"text/plain": {"schema": {"type": "string"}}}}})},
        "/v1/openapi.json": {"get": operation("getOpenApiDocument", "meta", "This document",
                                              {"200": json_response("OpenAPI 3.1", {"type": "object"})})},
    }


def document(title: str, description: str, paths: Mapping[str, Any]) -> dict[str, Any]:
    return {"openapi": VERSION, "info": {"title": title, "version": "1", "description": description},
            "paths": dict(paths), "components": {"schemas": {"Problem": PROBLEM_SCHEMA}}}
