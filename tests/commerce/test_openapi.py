"""The served OpenAPI document names exactly the app's real routes."""

from __future__ import annotations

from typing import Any

from commerce.app import create_app
from commerce.errors import PROBLEMS
from commerce.settings import CommerceSettings
from elysium.problem import type_uri

METHODS = {"get", "post", "put", "patch", "delete"}
# Bodies read as bytes, not validated by a schema: a signed provider event, a form button with no body.
RAW_BODIES = {"/v1/openapi.json", "/v1/payments/webhook", "/v1/payments/sandbox/{payment_id}"}


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops if m in METHODS}


async def test_openapi_matches_the_routes_of_the_real_app(client: Any, settings: CommerceSettings) -> None:
    resp = await client.get("/v1/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    app = create_app(settings)
    routes = {(r.method, res.canonical) for res in app.router.resources() for r in res if r.method != "HEAD"}
    assert routes == _documented(doc)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    assert "{" + param["name"] + "}" in path
            if method in ("post", "put", "patch") and path.startswith("/v1/") and path not in RAW_BODIES:
                body = op["requestBody"]["content"]["application/json"]["schema"]
                assert body["additionalProperties"] is False, (method, path)
    problem_types = doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
    assert problem_types == [type_uri(c) for c in PROBLEMS]
