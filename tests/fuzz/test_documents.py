"""Every served OpenAPI document is valid OpenAPI 3 and names each operation uniquely, with tags."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


async def fetch(base_url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        resp = await session.get(f"{base_url}/v1/openapi.json")
        assert resp.status == 200 and resp.content_type == "application/json", await resp.text()
        document: dict[str, Any] = await resp.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS]


def check_document(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    ids = [str(op.get("operationId")) for _, _, op in operations(document)]
    for method, path, op in operations(document):
        op_id = op.get("operationId")
        assert isinstance(op_id, str) and op_id[:1].islower() and op_id.isalnum(), (method, path, op_id)
        assert op.get("tags") and all(isinstance(t, str) and t for t in op["tags"]), (method, path)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    validate(document)  # raises with the first violation of the OpenAPI 3.x schema


async def test_commerce_serves_a_valid_document(commerce_url: str) -> None:
    check_document(await fetch(commerce_url))


async def test_matchmaker_serves_a_valid_document_with_its_modes(matchmaker_url: str) -> None:
    document = await fetch(matchmaker_url)
    check_document(document)
    mode = document["components"]["schemas"]["TicketRequest"]["properties"]["mode"]
    assert mode["enum"] == ["arena", "duel", "squads"]  # the modes it was started with (tests.matchmaker)


async def test_game_server_serves_a_valid_document(gameserver_url: str) -> None:
    document = await fetch(gameserver_url)
    check_document(document)
    assert {"/healthz", "/readyz", "/metrics", "/v1/openapi.json"} <= set(document["paths"])


async def test_relay_serves_a_valid_document(relay_url: str) -> None:
    document = await fetch(relay_url)
    check_document(document)
    assert "/v1/matches" in document["paths"]


def test_the_checker_refuses_what_it_is_for() -> None:
    def op(op_id: str) -> dict[str, Any]:
        return {"operationId": op_id, "tags": ["x"], "responses": {"200": {"description": "ok"}}}

    document: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                                "paths": {"/a": {"get": op("getA")}, "/b": {"get": op("getA")}}}
    with pytest.raises(AssertionError):
        check_document(document)  # a duplicate id
    document["paths"]["/b"]["get"] = op("getB")
    check_document(document)
    del document["paths"]["/b"]["get"]["tags"]
    with pytest.raises(AssertionError):
        check_document(document)  # no tags
    document["paths"]["/b"]["get"] = op("get_b")
    with pytest.raises(AssertionError):
        check_document(document)  # not camelCase
    document["paths"]["/b"]["get"] = {**op("getB"), "responses": {"200": {}}}
    with pytest.raises(OpenAPIValidationError):
        check_document(document)  # a response without its required description


async def test_butler_serves_a_valid_document_with_its_chat_events(butler_url: str) -> None:
    document = await fetch(butler_url)
    check_document(document)
    events = document["components"]["schemas"]["ChatEvent"]["oneOf"]
    assert [e["properties"]["event"]["const"] for e in events] == ["conversation", "text", "tool_start", "tool_end",
                                                                    "proposal", "done", "error"]
