"""The HTTP API through the real app factory, real Redis and the embedded MongoDB server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from elysium import config, tokens
from elysium.config import ConfigError
from matchmaker import keys
from matchmaker.settings import MatchmakerSettings

REGIONS = {"local": 20}


async def key_count(client: aioredis.Redis) -> int:
    return int(await client.dbsize())


async def create(mm: Any, headers: dict[str, str], **body: Any) -> Any:
    payload = {"mode": "arena", "regions": REGIONS, **body}
    return await mm.post("/v1/tickets", json=payload, headers=headers)


async def test_create_get_and_cancel_a_ticket(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    resp = await create(mm, auth("alice"))
    assert resp.status == 201
    ticket = await resp.json()
    assert ticket["status"] == "queued" and ticket["players"] == ["alice"] and ticket["mode"] == "arena"
    assert resp.headers["Location"] == f"/v1/tickets/{ticket['id']}"
    # One active ticket per player: a second create answers the same ticket.
    again = await create(mm, auth("alice"), mode="duel")
    assert again.status == 200 and (await again.json())["id"] == ticket["id"]
    assert await rclient.zcard(keys.queue("arena")) == 1 and not await rclient.exists(keys.queue("duel"))

    got = await mm.get(f"/v1/tickets/{ticket['id']}", headers=auth("alice"))
    assert got.status == 200 and (await got.json())["id"] == ticket["id"]
    foreign = await mm.get(f"/v1/tickets/{ticket['id']}", headers=auth("mallory"))
    assert foreign.status == 403
    assert (await foreign.json())["type"] == "urn:elysium:problem:not-your-ticket"
    assert foreign.content_type == "application/problem+json"
    # Mallory cannot cancel it either.
    assert (await mm.delete(f"/v1/tickets/{ticket['id']}", headers=auth("mallory"))).status == 403

    queues = await (await mm.get("/v1/queues")).json()
    arena = next(m for m in queues["modes"] if m["mode"] == "arena")
    assert arena["players_waiting"] == 1 and arena["regions"] == {"local": 1}

    gone = await mm.delete(f"/v1/tickets/{ticket['id']}", headers=auth("alice"))
    assert gone.status == 200 and (await gone.json())["status"] == "cancelled"
    twice = await mm.delete(f"/v1/tickets/{ticket['id']}", headers=auth("alice"))
    assert twice.status == 409 and (await twice.json())["type"] == "urn:elysium:problem:ticket-final"
    assert not await rclient.exists(keys.queue("arena"), keys.waiting("arena"), keys.player("alice"))
    # After cancelling, the player may queue again with a new ticket.
    fresh = await create(mm, auth("alice"))
    assert fresh.status == 201 and (await fresh.json())["id"] != ticket["id"]


@pytest.mark.parametrize(("body", "status", "kind"), [
    ({"mode": "nope", "regions": REGIONS}, 422, "unknown-mode"),
    ({"mode": 3, "regions": REGIONS}, 400, "invalid-request"),
    ({"mode": "arena"}, 400, "invalid-request"),
    ({"mode": "arena", "regions": {}}, 400, "invalid-request"),
    ({"mode": "arena", "regions": {"Bad Region": 10}}, 400, "invalid-request"),
    ({"mode": "arena", "regions": {"eu": -1}}, 400, "invalid-request"),
    ({"mode": "arena", "regions": {"eu": True}}, 400, "invalid-request"),
    ({"mode": "arena", "regions": REGIONS, "accept_fallback": "yes"}, 400, "invalid-request"),
    ({"mode": "arena", "regions": REGIONS, "party": "lower"}, 400, "invalid-request"),
    ({"mode": "arena", "regions": REGIONS, "party": ""}, 400, "invalid-request"),
    ({"mode": "arena", "regions": REGIONS, "party": 7}, 400, "invalid-request"),
    ({"mode": "arena", "regions": REGIONS, "party": "ZZZZZZ"}, 404, "party-not-found"),
    ({"mode": "arena", "regions": REGIONS, "colour": "red"}, 400, "invalid-request"),
    ([1, 2], 400, "invalid-request"),
])
async def test_bad_ticket_requests_are_rejected_and_change_nothing(mm: Any, auth: Any, rclient: aioredis.Redis,
                                                                   body: Any, status: int, kind: str) -> None:
    before = await key_count(rclient)
    resp = await mm.post("/v1/tickets", json=body, headers=auth("bob"))
    assert resp.status == status
    problem = await resp.json()
    assert problem["type"] == f"urn:elysium:problem:{kind}" and problem["status"] == status
    assert await key_count(rclient) == before


async def test_bad_tokens_are_rejected_and_change_nothing(mm: Any, player_signer: tokens.Signer,
                                                          join_signer: tokens.Signer, rclient: aioredis.Redis) -> None:
    before = await key_count(rclient)
    body = {"mode": "arena", "regions": REGIONS}
    cases = {
        "token_missing": {},
        "token_expired": {"Authorization": "Bearer " + player_signer.issue(
            "bob", tokens.PLAYER_AUDIENCE, 10, now=1_000_000)},
        "token_audience": {"Authorization": "Bearer " + player_signer.issue("bob", tokens.JOIN_AUDIENCE, 60)},
        "token_signature": {"Authorization": "Bearer " + join_signer.issue("bob", tokens.PLAYER_AUDIENCE, 60)},
        "token_malformed": {"Authorization": "Bearer not.a.token"},
    }
    for reason, headers in cases.items():
        resp = await mm.post("/v1/tickets", json=body, headers=headers)
        assert resp.status == 401, reason
        assert resp.headers["WWW-Authenticate"].startswith("Bearer "), reason
        problem = await resp.json()
        if reason == "token_missing":
            assert problem["type"] == "urn:elysium:problem:unauthorized" and "token_error" not in problem
        else:
            assert problem["type"] == "urn:elysium:problem:invalid-token" and problem["token_error"] == reason
    assert await key_count(rclient) == before
    bad_json = await mm.post("/v1/tickets", data=b"{", headers={
        "Content-Type": "application/json",
        "Authorization": "Bearer " + player_signer.issue("bob", tokens.PLAYER_AUDIENCE, 60)})
    assert bad_json.status == 400 and (await bad_json.json())["type"] == "urn:elysium:problem:invalid-json"
    form = await mm.post("/v1/tickets", data=b"mode=arena", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "Bearer " + player_signer.issue("bob", tokens.PLAYER_AUDIENCE, 60)})
    assert form.status == 415 and (await form.json())["type"] == "urn:elysium:problem:unsupported-media-type"
    unknown = await mm.get("/v1/tickets/" + "0" * 32, headers={
        "Authorization": "Bearer " + player_signer.issue("bob", tokens.PLAYER_AUDIENCE, 60)})
    assert unknown.status == 404 and (await unknown.json())["type"] == "urn:elysium:problem:ticket-not-found"
    nowhere = await mm.get("/v1/nowhere")
    assert nowhere.status == 404 and (await nowhere.json())["type"] == "urn:elysium:problem:not-found"
    assert await key_count(rclient) == before


async def test_parties_queue_together(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    made = await mm.post("/v1/parties", headers=auth("lead"))
    assert made.status == 201
    party = await made.json()
    code = party["code"]
    assert party["leader"] == "lead" and [m["id"] for m in party["members"]] == ["lead"]
    assert (await mm.post("/v1/parties", headers=auth("lead"))).status == 409  # already in one
    joined = await mm.post(f"/v1/parties/{code}/members", headers=auth("friend"))
    assert joined.status == 200 and [m["id"] for m in (await joined.json())["members"]] == ["lead", "friend"]
    assert (await mm.get(f"/v1/parties/{code}", headers=auth("stranger"))).status == 403
    # Only the leader queues the party.
    not_leader = await create(mm, auth("friend"), mode="squads", party=code)
    assert not_leader.status == 403 and (await not_leader.json())["type"] == "urn:elysium:problem:not-party-leader"
    queued = await create(mm, auth("lead"), mode="squads", party=code)
    assert queued.status == 201
    ticket = await queued.json()
    assert ticket["players"] == ["lead", "friend"] and ticket["party"] == code
    # Members see the party's ticket and can read it.
    seen = await (await mm.get(f"/v1/parties/{code}", headers=auth("friend"))).json()
    assert seen["ticket"] == {"id": ticket["id"], "status": "queued", "mode": "squads"}
    assert (await mm.get(f"/v1/tickets/{ticket['id']}", headers=auth("friend"))).status == 200
    # A member's own second create returns the party ticket; nobody joins a queued party.
    assert (await (await create(mm, auth("friend"))).json())["id"] == ticket["id"]
    late = await mm.post(f"/v1/parties/{code}/members", headers=auth("late"))
    assert late.status == 409 and (await late.json())["type"] == "urn:elysium:problem:party-queued"
    # A member leaving cancels the party's ticket.
    left = await mm.delete(f"/v1/parties/{code}/members/me", headers=auth("friend"))
    assert left.status == 200 and (await left.json()) == {"left": True, "disbanded": False,
                                                          "cancelled_ticket": ticket["id"]}
    status = await (await mm.get(f"/v1/tickets/{ticket['id']}", headers=auth("lead"))).json()
    assert status["status"] == "cancelled" and status["reason"] == "party_changed"
    assert not await rclient.exists(keys.member("friend"), keys.player("friend"), keys.player("lead"))
    # The leader leaving disbands the party.
    bye = await mm.delete(f"/v1/parties/{code}/members/me", headers=auth("lead"))
    assert (await bye.json())["disbanded"] is True
    assert not await rclient.exists(keys.party(code), keys.member("lead"))


async def test_party_too_large_for_the_mode(mm: Any, auth: Any, rclient: aioredis.Redis) -> None:
    code = (await (await mm.post("/v1/parties", headers=auth("a"))).json())["code"]
    for p in ("b", "c", "d"):
        assert (await mm.post(f"/v1/parties/{code}/members", headers=auth(p))).status == 200
    before = await key_count(rclient)
    resp = await create(mm, auth("a"), mode="squads", party=code)  # teams of 3
    assert resp.status == 409 and (await resp.json())["type"] == "urn:elysium:problem:party-too-large"
    assert await key_count(rclient) == before


async def test_party_full(mm_factory: Any, auth: Any) -> None:
    mm = await mm_factory(party_max_size=2)
    code = (await (await mm.post("/v1/parties", headers=auth("a"))).json())["code"]
    assert (await mm.post(f"/v1/parties/{code}/members", headers=auth("b"))).status == 200
    full = await mm.post(f"/v1/parties/{code}/members", headers=auth("c"))
    assert full.status == 409 and (await full.json())["type"] == "urn:elysium:problem:party-full"


async def test_operations_endpoints(mm: Any, auth: Any) -> None:
    assert (await mm.get("/healthz")).status == 200
    ready = await mm.get("/readyz")
    assert ready.status == 200 and (await ready.json())["redis"] is True
    await create(mm, auth("m1"))
    text = await (await mm.get("/metrics")).text()
    assert 'elysium_matchmaker_tickets_total{mode="arena",outcome="created"} 1.0' in text
    ratings = await (await mm.get("/v1/players/me/ratings", headers=auth("m1"))).json()
    assert ratings["ratings"]["arena"] == {"mu": 25.0, "sigma": 8.3333, "ordinal": 0.0, "matches": 0}


async def test_openapi_document_states_the_request_rules(mm: Any) -> None:
    """The ticket request's schema carries the rules the handler applies (schemathesis findings)."""
    import re

    from matchmaker import api

    doc = await (await mm.get("/v1/openapi.json")).json()
    request = doc["components"]["schemas"]["TicketRequest"]["properties"]
    assert request["mode"]["enum"] == sorted(api_modes(mm))
    names = request["regions"]["propertyNames"]["pattern"]
    assert names == api.REGION_RE.pattern
    assert re.fullmatch(names, "eu-west") and not re.fullmatch(names, "") and not re.fullmatch(names, "Bad Region")
    assert request["party"]["pattern"] == api.CODE_RE.pattern
    events = doc["paths"]["/v1/tickets/{ticket_id}/events"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in events


def api_modes(mm: Any) -> list[str]:
    from tests.matchmaker.conftest import services

    return list(services(mm).modes)


async def test_openapi_document_matches_the_routes(mm: Any) -> None:
    doc = await (await mm.get("/v1/openapi.json")).json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for resource in mm.server.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        for route in resource:
            if route.method != "HEAD":
                served.add((path, route.method))
    assert documented == served
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op.get("responses"), path


def test_settings_name_the_missing_variable(keys_dir: Path) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(MatchmakerSettings, environ={})
    assert err.value.variable == "ELYSIUM_REDIS_URL"
    with pytest.raises(ConfigError) as err:
        config.load(MatchmakerSettings, environ={"ELYSIUM_REDIS_URL": "redis://x", "ELYSIUM_MONGO_URL": "mongodb://x",
                                                 "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": "p"})
    assert err.value.variable == "ELYSIUM_JOIN_PRIVATE_KEY_FILE"
    with pytest.raises(ConfigError) as err:
        config.load(MatchmakerSettings, environ={"ELYSIUM_MATCHMAKER_ALLOCATION": "random"})
    assert err.value.variable == "ELYSIUM_MATCHMAKER_ALLOCATION"
    with pytest.raises(ConfigError) as err:
        config.load(MatchmakerSettings, environ={"ELYSIUM_JOIN_TOKEN_TTL_S": "300"})
    assert err.value.variable == "ELYSIUM_JOIN_TOKEN_TTL_S"




async def test_modes_file_errors_name_the_variable(mm_settings: Any, tmp_path: Path) -> None:
    from matchmaker.app import create_app

    bad = tmp_path / "modes.json"
    bad.write_text('[{"name": "squads", "teams": 2, "team_size": 3, "max_players": 5}]')
    with pytest.raises(ConfigError) as err:
        create_app(mm_settings(modes_file=str(bad)))
    assert err.value.variable == "ELYSIUM_MATCHMAKER_MODES_FILE" and "max_players" in err.value.problem
    with pytest.raises(ConfigError) as err:
        create_app(mm_settings(modes_file=str(tmp_path / "missing.json")))
    assert err.value.variable == "ELYSIUM_MATCHMAKER_MODES_FILE"
    good = tmp_path / "good.json"
    good.write_text('[{"name": "brawl", "max_players": 6, "min_players": 3}]')
    app = create_app(mm_settings(modes_file=str(good)))
    from matchmaker.app import SERVICES

    assert list(app[SERVICES].modes) == ["brawl"]
    await app[SERVICES].redis.aclose()
    await app[SERVICES].mongo.close()
