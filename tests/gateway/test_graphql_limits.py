"""The limits around GraphQL (depth, tokens, aliases, cost) and the HTTP edge of /graphql, through the real
gateway and services: a refused query is answered with a clear error and makes no upstream request."""

from __future__ import annotations

from typing import Any

import aiohttp

from gateway.graphql.schema import MAX_ALIASES, MAX_COST, MAX_DEPTH, MAX_FIELD_LEVELS, MAX_TOKENS
from tests.gateway.graphql_stack import (Stack, admin_token, client_for, made, mm_factory,  # noqa: F401
                                         mm_settings, relay_factory, stack, world)
from tests.gateway.servers import dead_url, gateway


async def refused(stack: Stack, query: str, variables: dict[str, Any] | None = None,
                  player: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error of a refused query, after checking that no service was asked anything."""
    before = stack.reads()
    body = await stack.query(query, variables, player)
    assert made(before, stack.reads()) == {}, "a refused query reached a service"
    assert body.get("data") is None and len(body["errors"]) >= 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


DEEP = ("{ viewer { trades(role: SENT, first: 2) { trades { offerer { matches(first: 2) { items { players { %s } } } } } }"
        " } }")


async def test_a_query_deeper_than_the_limit_is_refused(stack: Stack) -> None:
    ayla = await stack.player("Ayla")
    assert MAX_FIELD_LEVELS == 8
    error = await refused(stack, DEEP % "ratingAfter { mu }", player=ayla)  # 9 levels of fields
    assert error["extensions"] == {"code": "query-too-deep", "status": 400}
    assert f"exceeds maximum operation depth of {MAX_DEPTH}" in error["message"]
    fine = await stack.query(DEEP % "name", player=ayla)  # 8 levels
    assert "errors" not in fine, fine


async def test_too_many_aliases_are_refused(stack: Stack) -> None:
    many = " ".join(f"a{n}: packs {{ id }}" for n in range(MAX_ALIASES + 1))
    error = await refused(stack, "{ %s }" % many)
    assert error["extensions"]["code"] == "too-many-aliases" and str(MAX_ALIASES) in error["message"]
    few = " ".join(f"a{n}: queues {{ mode }}" for n in range(3))
    assert "errors" not in await stack.query("{ %s }" % few)


async def test_a_document_of_too_many_tokens_is_refused(stack: Stack) -> None:
    error = await refused(stack, "{ packs { %s } }" % " ".join(["id"] * MAX_TOKENS))
    assert error["extensions"]["code"] == "query-too-large"


COSTLY = "query($n: Int!) { listings(first: $n) { listings { seller { matches(first: 50) { items { matchId } } } } } }"


async def test_a_too_costly_query_is_refused_before_any_upstream_read(stack: Stack) -> None:
    ayla = await stack.player("Ayla")
    error = await refused(stack, COSTLY, {"n": 200}, player=ayla)
    ext = error["extensions"]
    assert ext["code"] == "query-too-costly" and ext["status"] == 400 and ext["max_cost"] == MAX_COST
    assert ext["cost"] > MAX_COST and "first" in error["message"]
    cheap = await stack.query(COSTLY.replace("first: 50", "first: 2"), {"n": 10}, player=ayla)
    assert "errors" not in cheap, cheap
    # Aliases do not dodge it: each copy counts.
    copies = " ".join(f"p{n}: listings(first: 200) {{ listings {{ id price currency state }} }}" for n in range(5))
    assert (await refused(stack, "{ %s }" % copies))["extensions"]["code"] == "query-too-costly"


async def test_the_http_edge_of_graphql(stack: Stack) -> None:
    body = await stack.post({"query": "{ viewer { id } }"}, {"Authorization": "Basic dXNlcjpwYXNz"})
    assert body.status == 401 and body.content_type == "application/problem+json"
    not_json = await stack.session.post(stack.url + "/graphql", data=b"{nope",
                                        headers={"Content-Type": "application/json"})
    assert not_json.status == 400 and not_json.content_type == "application/problem+json"
    async with stack.session.get(stack.url + "/graphql", params={"query": "{ packs { id } }"}) as resp:
        assert resp.status == 405 and resp.headers["Allow"] == "POST"
        assert (await resp.json())["code"] == "method-not-allowed"
    no_writes = await stack.query('mutation { packs { id } }')
    assert no_writes["errors"] and no_writes.get("data") is None
    syntax = await stack.query("{ packs { id }")
    assert syntax["errors"][0]["extensions"]["code"] == "invalid-query"
    unknown_field = await stack.query("{ nope }")
    assert unknown_field["errors"][0]["extensions"] == {"code": "invalid-query", "status": 400}


async def test_graphiql_only_when_enabled() -> None:
    async with gateway(ELYSIUM_GATEWAY_GRAPHIQL="1") as url, aiohttp.ClientSession() as s:
        async with s.get(url + "/graphql", headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200 and "graphiql" in (await resp.text()).lower()


async def test_a_service_that_is_down_fails_its_fields_only(stack: Stack) -> None:
    urls = {"commerce": dead_url(), "matchmaker": stack.world.matchmaker_url}
    async with gateway(urls) as url, aiohttp.ClientSession() as s:
        async with s.post(url + "/graphql", json={"query": "{ packs { id } queues { mode } }"}) as resp:
            assert resp.status == 200
            body = await resp.json()
    assert body["data"]["packs"] is None and {q["mode"] for q in body["data"]["queues"]} == {"arena", "duel", "squads"}
    [error] = body["errors"]
    assert error["path"] == ["packs"] and error["message"] == "commerce is unreachable"
    assert error["extensions"] == {"code": "upstream-unavailable", "status": 502}
