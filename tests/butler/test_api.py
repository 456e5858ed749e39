"""The butler's HTTP edge through the real app factory, on the embedded MongoDB and real Redis:
probes, the OpenAPI document, auth, settings, conversations, confirmation refusals, the rate
limit, draining and the SSE framing. Chats here need no tool (an unrecognised message), so
commerce and the matchmaker are not called; ``test_chat.py`` runs the tools against them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from butler import sse, turns
from butler.app import create_app
from butler.appkeys import SERVICES, Services
from butler.proposals import Proposals
from butler.settings import ButlerSettings
from butler.tools import Plan
from elysium import config, tokens
from tests.test_metrics import check

Client = TestClient[web.Request, web.Application]
NOWHERE = "http://127.0.0.1:9"  # no tool call reaches it in these tests


def butler_settings(mongo_url: str, db_name: str, redis_url: str, keys_dir: Path, *, commerce_url: str = NOWHERE,
                    matchmaker_url: str = NOWHERE, environ: dict[str, str] | None = None,
                    **overrides: Any) -> ButlerSettings:
    base: dict[str, Any] = dict(mongo_url=mongo_url, db_name=db_name, redis_url=redis_url,
                                player_public_key_file=str(keys_dir / "player.pub"), commerce_url=commerce_url,
                                matchmaker_url=matchmaker_url, mongo_timeout_s=5.0)
    base.update(overrides)
    return config.load(ButlerSettings, environ=environ or {}, **base)


@pytest.fixture
async def butler_for() -> AsyncIterator[Callable[[ButlerSettings], Any]]:
    """Starts the real butler app on a free port; closed after the test."""
    started: list[Client] = []

    async def start(settings: ButlerSettings) -> Client:
        client: Client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        started.append(client)
        return client

    yield start
    for c in reversed(started):
        await c.close()


@pytest.fixture
async def butler(butler_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> Client:
    client: Client = await butler_for(butler_settings(mongo_url, mongo_db_name, redis_url, keys_dir))
    return client


@pytest.fixture
def auth(player_signer: tokens.Signer) -> Callable[[str], dict[str, str]]:
    def headers(player: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {player_signer.issue(player, tokens.PLAYER_AUDIENCE, 600, {'name': player})}"}

    return headers


def services(client: Client) -> Services:
    return client.app[SERVICES]


async def chat(client: Client, headers: dict[str, str], message: str,
               conversation_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    body: dict[str, Any] = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    resp = await client.post("/v1/chat", json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert "X-Request-Id" in resp.headers
    return sse.parse(await resp.read())


async def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = await resp.json()
    assert body["code"] == code, body
    return body


# --- probes and the document --------------------------------------------------------------

async def test_probes_answer_and_readyz_checks_mongo_and_redis(butler: Client, auth: Any) -> None:
    assert (await butler.get("/healthz")).status == 200
    ready = await butler.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"ready": True, "mongo": True, "redis": True, "draining": False, "engine": "offline"}
    await chat(butler, auth("alice"), "xyzzy")  # so the turn's labelled samples exist
    text = await (await butler.get("/metrics")).text()
    check(text, "elysium_butler_")  # the project's naming rules and the exposition format
    for name in ("elysium_butler_http_requests_total", "elysium_butler_tool_calls", "elysium_butler_confirmations",
                 "elysium_butler_tokens", "elysium_butler_provider_errors", "elysium_butler_first_event_seconds"):
        assert name in text, name


async def test_readyz_fails_when_redis_is_gone(butler_for: Any, mongo_url: str, mongo_db_name: str,
                                               keys_dir: Path) -> None:
    from elysium import procs

    dead = f"redis://127.0.0.1:{procs.free_port()}/0"
    client = await butler_for(butler_settings(mongo_url, mongo_db_name, dead, keys_dir))
    ready = await client.get("/readyz")
    assert ready.status == 503
    body = await ready.json()
    assert body["redis"] is False and body["mongo"] is True


async def test_the_openapi_document_is_valid_and_matches_the_routes(butler: Client) -> None:
    from openapi_spec_validator import validate

    doc = await (await butler.get("/v1/openapi.json")).json()
    validate(doc)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for resource in butler.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        for route in resource:
            if route.method != "HEAD":
                served.add((path, route.method))
    assert documented == served
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == len(documented)
    auto = doc["components"]["schemas"]["Settings"]["properties"]["auto_approve"]["items"]["enum"]
    assert auto == list(turns.MAY_SKIP_ASKING)


# --- auth ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/chat"), ("POST", "/v1/chat/confirm"),
                                              ("GET", "/v1/butler/settings"), ("PUT", "/v1/butler/settings"),
                                              ("GET", "/v1/conversations"),
                                              ("GET", "/v1/conversations/0123456789abcdef01234567"),
                                              ("DELETE", "/v1/conversations/0123456789abcdef01234567")])
async def test_every_route_needs_a_player_token(butler: Client, method: str, path: str, keys_dir: Path) -> None:
    await problem(await butler.request(method, path, json={}), 401, "unauthorized")
    forged = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "elysium-commerce")
    bad = {"Authorization": f"Bearer {forged.issue('eve', tokens.PLAYER_AUDIENCE, 600)}"}
    await problem(await butler.request(method, path, json={}, headers=bad), 401, "invalid-token")


# --- settings -----------------------------------------------------------------------------

async def test_settings_default_and_change(butler: Client, auth: Any) -> None:
    alice = auth("alice")
    got = await (await butler.get("/v1/butler/settings", headers=alice)).json()
    assert got == {"persona": "a courteous concierge", "tone": "friendly", "language": "en", "auto_approve": [],
                   "daily_token_budget": 50_000}
    resp = await butler.put("/v1/butler/settings", json={"tone": "concise", "auto_approve": ["queue"],
                                                         "language": "fr"}, headers=alice)
    assert resp.status == 200
    assert (await resp.json())["auto_approve"] == ["queue"]
    again = await (await butler.get("/v1/butler/settings", headers=alice)).json()
    assert again["tone"] == "concise" and again["language"] == "fr" and again["persona"] == "a courteous concierge"
    bob = await (await butler.get("/v1/butler/settings", headers=auth("bob"))).json()
    assert bob["tone"] == "friendly"


@pytest.mark.parametrize(("body", "field"), [
    ({"auto_approve": ["spend"]}, "auto_approve"),
    ({"auto_approve": ["queue", "sell"]}, "auto_approve"),
    ({"auto_approve": ["trade"]}, "auto_approve"),
    ({"auto_approve": ["withdraw"]}, "auto_approve"),
    ({"auto_approve": ["queue", "queue"]}, "auto_approve"),
    ({"persona": "p" * 201}, "persona"),
    ({"tone": "rude"}, "tone"),
    ({"language": "x"}, "language"),
    ({"daily_token_budget": 200_001}, "daily_token_budget"),
    ({"unknown": 1}, "unknown"),
    ([], ""),
])
async def test_bad_settings_answer_422_naming_the_field_and_change_nothing(butler: Client, auth: Any,
                                                                           body: Any, field: str) -> None:
    alice = auth("alice")
    before = await (await butler.get("/v1/butler/settings", headers=alice)).json()
    answer = await problem(await butler.put("/v1/butler/settings", json=body, headers=alice), 422, "invalid-settings")
    assert field in answer["errors"]
    if field == "auto_approve" and body["auto_approve"] != ["queue", "queue"]:
        assert any(c in answer["errors"]["auto_approve"] for c in turns.ALWAYS_ASK)
    assert await (await butler.get("/v1/butler/settings", headers=alice)).json() == before


async def test_settings_bodies_that_are_not_json_objects(butler: Client, auth: Any) -> None:
    alice = auth("alice")
    await problem(await butler.put("/v1/butler/settings", data=b"{", headers={**alice, "Content-Type":
                                                                              "application/json"}),
                  400, "invalid-json")
    await problem(await butler.put("/v1/butler/settings", data=b"tone=formal", headers=alice), 415,
                  "unsupported-media-type")


# --- chat and conversations -------------------------------------------------------------------

async def test_a_chat_streams_its_events_and_is_kept_for_its_player(butler: Client, auth: Any) -> None:
    alice = auth("alice")
    events = await chat(butler, alice, "xyzzy plugh")
    assert events[0][0] == "conversation"
    conversation_id = events[0][1]["id"]
    assert events[-1][0] == turns.DONE
    assert events[-1][1]["usage"] == {"prompt_tokens": 0, "completion_tokens": 0}
    assert {e for e, _ in events[1:]} <= {turns.TEXT, turns.DONE}
    said = events[-1][1]["message"]
    assert said
    # The same conversation goes on.
    more = await chat(butler, alice, "frobnicate", conversation_id)
    assert more[0] == ("conversation", {"id": conversation_id})
    got = await butler.get(f"/v1/conversations/{conversation_id}", headers=alice)
    assert got.status == 200
    doc = await got.json()
    assert [(e["role"], e.get("text")) for e in doc["entries"]][:2] == [("user", "xyzzy plugh"), ("assistant", said)]
    assert doc["entries"][2] == {**doc["entries"][2], "role": "user", "text": "frobnicate"}
    assert doc["title"] == "xyzzy plugh" and doc["messages"] == 4
    listed = await (await butler.get("/v1/conversations", headers=alice)).json()
    assert [c["id"] for c in listed["items"]] == [conversation_id] and listed["next_cursor"] is None
    # Bob sees none of it, and cannot add to it.
    bob = auth("bob")
    await problem(await butler.get(f"/v1/conversations/{conversation_id}", headers=bob), 404,
                  "conversation-not-found")
    await problem(await butler.post("/v1/chat", json={"message": "hi", "conversation_id": conversation_id},
                                    headers=bob), 404, "conversation-not-found")
    await problem(await butler.delete(f"/v1/conversations/{conversation_id}", headers=bob), 404,
                  "conversation-not-found")
    assert (await (await butler.get("/v1/conversations", headers=bob)).json())["items"] == []
    # Alice deletes it.
    assert (await butler.delete(f"/v1/conversations/{conversation_id}", headers=alice)).status == 204
    await problem(await butler.get(f"/v1/conversations/{conversation_id}", headers=alice), 404,
                  "conversation-not-found")


async def test_conversations_page_newest_first(butler: Client, auth: Any) -> None:
    alice = auth("alice")
    ids = [(await chat(butler, alice, f"talk {n}"))[0][1]["id"] for n in range(3)]
    first = await (await butler.get("/v1/conversations?limit=2", headers=alice)).json()
    assert [c["id"] for c in first["items"]] == ids[:0:-1]
    rest = await (await butler.get(f"/v1/conversations?limit=2&cursor={first['next_cursor']}", headers=alice)).json()
    assert [c["id"] for c in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    for query in ("limit=0", "limit=51", "limit=ten", "cursor=nope", "cursor="):
        await problem(await butler.get(f"/v1/conversations?{query}", headers=alice), 400, "invalid-request")


@pytest.mark.parametrize("body", [
    {}, {"message": ""}, {"message": "   "}, {"message": 5}, {"message": "x" * 4001},
    {"message": "hi", "conversation_id": "nope"}, {"message": "hi", "conversation_id": 7},
    {"message": "hi", "conversation_id": None},
    {"message": "hi", "extra": True}, ["hi"],
])
async def test_bad_chats_are_refused_and_store_nothing(butler: Client, auth: Any, body: Any) -> None:
    alice = auth("alice")
    await problem(await butler.post("/v1/chat", json=body, headers=alice), 422, "invalid-chat")
    assert (await (await butler.get("/v1/conversations", headers=alice)).json())["items"] == []


async def test_a_message_of_4000_characters_is_taken(butler: Client, auth: Any) -> None:
    events = await chat(butler, auth("alice"), "z" * 4000)
    assert events[-1][0] in (turns.DONE, turns.ERROR)


async def test_an_unknown_conversation_is_404(butler: Client, auth: Any) -> None:
    await problem(await butler.post("/v1/chat", json={"message": "hi", "conversation_id": "0" * 24},
                                    headers=auth("alice")), 404, "conversation-not-found")


async def test_chat_is_rate_limited_per_player(butler_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str,
                                               keys_dir: Path, auth: Any) -> None:
    client = await butler_for(butler_settings(mongo_url, mongo_db_name, redis_url, keys_dir, chat_per_window=2,
                                              rate_window_s=3600))
    alice = auth("alice")
    for n in range(2):
        await chat(client, alice, f"hello {n}")
    refused = await client.post("/v1/chat", json={"message": "one more"}, headers=alice)
    await problem(refused, 429, "rate-limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    await chat(client, auth("bob"), "bob is not limited by alice")
    assert len((await (await client.get("/v1/conversations", headers=alice)).json())["items"]) == 2


async def test_a_draining_butler_takes_no_new_chat(butler: Client, auth: Any) -> None:
    services(butler).draining = True
    resp = await butler.post("/v1/chat", json={"message": "hi"}, headers=auth("alice"))
    await problem(resp, 503, "draining")
    assert resp.headers["Retry-After"] == "1"
    assert (await butler.get("/readyz")).status == 503


# --- confirm refusals -------------------------------------------------------------------------

PLAN = Plan(tool="buy_from_store", category=turns.SPEND, terms={"item_id": "ember-blade", "price": 100,
                                                                "currency": "soft"},
            summary="Buy Ember Blade from the store for 100 soft.")


async def test_confirm_refusals(butler: Client, auth: Any) -> None:
    alice, bob = auth("alice"), auth("bob")
    svc = services(butler)
    await problem(await butler.post("/v1/chat/confirm", json={"proposal_id": "missing"}, headers=alice), 404,
                  "proposal-not-found")
    mine = await svc.proposals.create("alice", PLAN)
    await problem(await butler.post("/v1/chat/confirm", json={"proposal_id": mine.id}, headers=bob), 404,
                  "proposal-not-found")  # bound to alice: bob cannot even tell it exists
    await svc.proposals.take("alice", mine.id)
    await problem(await butler.post("/v1/chat/confirm", json={"proposal_id": mine.id}, headers=alice), 409,
                  "proposal-used")
    past = Proposals(_collection(svc), ttl_s=10.0, clock=lambda: datetime.now(UTC) - timedelta(hours=1))
    old = await past.create("alice", PLAN)
    await problem(await butler.post("/v1/chat/confirm", json={"proposal_id": old.id}, headers=alice), 410,
                  "proposal-expired")
    metrics = await (await butler.get("/metrics")).text()
    assert 'elysium_butler_confirmations_total{outcome="proposal-used"} 1.0' in metrics


def _collection(svc: Services) -> Any:
    from butler.app import PROPOSALS

    return svc.mongo[svc.settings.db_name][PROPOSALS]


@pytest.mark.parametrize("body", [{}, {"proposal_id": ""}, {"proposal_id": 5}, {"proposal_id": "a b"},
                                  {"proposal_id": "x", "also": 1}, ["x"]])
async def test_bad_confirmations_are_422(butler: Client, auth: Any, body: Any) -> None:
    await problem(await butler.post("/v1/chat/confirm", json=body, headers=auth("alice")), 422,
                  "invalid-confirmation")


async def test_confirm_is_rate_limited(butler_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str,
                                       keys_dir: Path, auth: Any) -> None:
    client = await butler_for(butler_settings(mongo_url, mongo_db_name, redis_url, keys_dir, confirm_per_window=1,
                                              rate_window_s=3600))
    alice = auth("alice")
    await problem(await client.post("/v1/chat/confirm", json={"proposal_id": "a"}, headers=alice), 404,
                  "proposal-not-found")
    await problem(await client.post("/v1/chat/confirm", json={"proposal_id": "a"}, headers=alice), 429,
                  "rate-limited")


# --- the SSE framing ----------------------------------------------------------------------------

def test_events_are_framed_one_data_line_each() -> None:
    raw = sse.frame("text", {"delta": "two\nlines\n\nevent: done"}) + sse.frame("done", {"message": "ok"})
    assert raw.count(b"\n\n") == 2
    assert raw.startswith(b"event: text\ndata: {")
    assert sse.parse(raw) == [("text", {"delta": "two\nlines\n\nevent: done"}), ("done", {"message": "ok"})]


@pytest.mark.parametrize("name", ["", "Text", "done\nevent: x", "a" * 40])
def test_an_event_type_cannot_forge_another(name: str) -> None:
    with pytest.raises(ValueError):
        sse.frame(name, {})


def test_every_turn_event_type_frames() -> None:
    for name in (sse.CONVERSATION, turns.TEXT, turns.TOOL_START, turns.TOOL_END, turns.PROPOSAL, turns.DONE,
                 turns.ERROR):
        assert json.loads(sse.frame(name, {"x": 1}).split(b"data: ")[1]) == {"x": 1}


async def test_no_message_text_or_token_reaches_the_logs(butler: Client, auth: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO)
    alice = auth("alice")
    await chat(butler, alice, "my very private words 8472")
    await butler.post("/v1/chat", json={"message": "x" * 4001}, headers=alice)
    token = alice["Authorization"].removeprefix("Bearer ")
    assert caplog.records  # the access log at least
    for record in caplog.records:
        said = json.dumps({k: str(v) for k, v in vars(record).items()})
        assert "8472" not in said and token not in said and "xxxx" not in said
