"""Bad trade requests: each gets problem+json and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from commerce.appkeys import STORE
from tests.commerce.conftest import register
from tests.commerce.trade_fixtures import act, offer, player, snapshot

ITEM = "0" * 32


@pytest.mark.parametrize("body,field", [
    ({"receiver_id": "R", "offer": {"currency": {"soft": 1}}, "colour": "red"}, "colour"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 1}, "extra": 1}}, "offer.extra"),
    ({"receiver_id": "R", "offer": {"currency": {"gold": 1}}}, "offer.currency.gold"),
    ({"receiver_id": 7, "offer": {"currency": {"soft": 1}}}, "receiver_id"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": "10"}}}, "offer.currency.soft"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": True}}}, "offer.currency.soft"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": -5}}}, "offer.currency.soft"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 0}}}, "offer.currency.soft"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 10**9 + 1}}}, "offer.currency.soft"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 2**70}}}, "offer.currency.soft"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 2.5}}}, "offer.currency.soft"),
    ({"receiver_id": "R", "request": {"currency": {"premium": -1}}}, "request.currency.premium"),
    ({"receiver_id": "R", "offer": {"items": "abc"}}, "offer.items"),
    ({"receiver_id": "R", "offer": {"items": ["not-an-id"]}}, "offer.items[0]"),
    ({"receiver_id": "R", "offer": {"items": [ITEM, ITEM]}}, "offer.items[1]"),
    ({"receiver_id": "R", "offer": {"items": []}}, "offer.items"),
    ({"receiver_id": "R", "offer": {"currency": {}}}, "offer.currency"),
    ({"receiver_id": "R", "offer": {}}, "offer"),
    ({"receiver_id": "R", "offer": {"items": [f"{n:032x}" for n in range(26)]}}, "offer.items"),
    ({"receiver_id": "R", "offer": []}, "offer"),
    ({"receiver_id": "R"}, ""),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 1}}, "request": {}}, "request"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 1}}, "expires_in_s": 59}, "expires_in_s"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 1}}, "expires_in_s": 7 * 86_400 + 1}, "expires_in_s"),
    ({"receiver_id": "R", "offer": {"currency": {"soft": 1}}, "expires_in_s": 90.5}, "expires_in_s"),
    ({"offer": {"currency": {"soft": 1}}}, "receiver_id"),
    (["receiver_id"], ""),
])
async def test_malformed_offers_are_refused(client: Any, body: Any, field: str) -> None:
    alice = await player(client)
    bob = await player(client)
    if isinstance(body, dict) and body.get("receiver_id") == "R":
        body["receiver_id"] = bob["account_id"]
    start = await snapshot(client)
    resp = await client.post("/v1/trades", json=body, headers={**alice["headers"], "Idempotency-Key": "k"})
    problem = await resp.json()
    assert resp.status == 400 and resp.content_type == "application/problem+json", problem
    assert problem["code"] == "invalid-request" and field in problem["errors"], problem
    assert await snapshot(client) == start


async def test_offers_the_rules_refuse(client: Any) -> None:
    alice = await player(client, "health-potion", "speed-boots")
    bob = await player(client, "health-potion")
    crate = (await client.app[STORE].items.find_one({}))  # any doc, to copy its shape
    assert crate is not None
    # An item of a type that is not tradeable (crates only drop).
    await client.app[STORE].items.insert_one({**crate, "_id": uuid.uuid4().hex, "owner": alice["account_id"],
                                              "type": "arena-crate", "custody": "in_game"})
    crate_id = (await client.app[STORE].items.find_one({"type": "arena-crate"}))["_id"]
    # An item of Alice's that is already in escrow of another trade.
    boots = alice["items"]["speed-boots"][0]
    assert (await offer(client, alice, bob["account_id"], offer={"items": [boots]})).status == 201
    mine = alice["items"]["health-potion"][0]
    theirs = bob["items"]["health-potion"][0]
    start = await snapshot(client)
    cases = [
        ({"receiver_id": alice["account_id"], "offer": {"items": [mine]}}, 422, "trade-with-self"),
        ({"receiver_id": uuid.uuid4().hex, "offer": {"items": [mine]}}, 404, "player-not-found"),
        ({"receiver_id": "escrow", "offer": {"items": [mine]}}, 404, "player-not-found"),
        ({"receiver_id": bob["account_id"], "offer": {"items": [ITEM]}}, 404, "unknown-owned-item"),
        ({"receiver_id": bob["account_id"], "offer": {"items": [theirs]}}, 404, "unknown-owned-item"),
        ({"receiver_id": bob["account_id"], "request": {"items": [mine]}}, 404, "unknown-requested-item"),
        ({"receiver_id": bob["account_id"], "offer": {"items": [mine]}, "request": {"items": [mine]}}, 404,
         "unknown-requested-item"),
        ({"receiver_id": bob["account_id"], "offer": {"items": [boots]}}, 409, "item-unavailable"),
        ({"receiver_id": bob["account_id"], "offer": {"items": [crate_id]}}, 409, "item-not-tradeable"),
        ({"receiver_id": bob["account_id"], "offer": {"currency": {"soft": 176}}}, 409, "insufficient-funds"),
        ({"receiver_id": bob["account_id"], "offer": {"currency": {"premium": 1}}}, 409, "insufficient-funds"),
        ({"receiver_id": bob["account_id"], "offer": {"items": [mine], "currency": {"soft": 176}}}, 409,
         "insufficient-funds"),
    ]
    for body, status, code in cases:
        resp = await client.post("/v1/trades", json=body, headers={**alice["headers"],
                                                                   "Idempotency-Key": uuid.uuid4().hex})
        problem = await resp.json()
        assert (resp.status, problem["code"]) == (status, code), (body, problem)
        assert problem["type"] == f"urn:elysium:problem:{code}"
        assert await snapshot(client) == start, body


async def test_bad_requests_on_the_edge(client: Any, settings: Any) -> None:
    alice = await player(client)
    bob = await player(client)
    start = await snapshot(client)
    body = {"receiver_id": bob["account_id"], "offer": {"currency": {"soft": 1}}}
    no_key = await client.post("/v1/trades", json=body, headers=alice["headers"])
    assert (no_key.status, (await no_key.json())["code"]) == (400, "idempotency-key-missing")
    no_token = await client.post("/v1/trades", json=body, headers={"Idempotency-Key": "k"})
    assert no_token.status == 401
    big = {**body, "receiver_id": "x" * settings.max_body_bytes}
    resp = await client.post("/v1/trades", json=big, headers={**alice["headers"], "Idempotency-Key": "k"})
    assert (resp.status, (await resp.json())["code"]) == (413, "body-too-large")
    resp = await client.post("/v1/trades", data="{", headers={**alice["headers"], "Idempotency-Key": "k",
                                                              "Content-Type": "application/json"})
    assert (resp.status, (await resp.json())["code"]) == (400, "invalid-json")
    assert await snapshot(client) == start


async def test_bad_moves_and_reads(client: Any) -> None:
    alice = await player(client)
    bob = await player(client)
    trade = await (await offer(client, alice, bob["account_id"], offer={"currency": {"soft": 3}})).json()
    tid = trade["trade_id"]
    start = await snapshot(client)
    for path in (f"/v1/trades/{'f' * 32}/accept", "/v1/trades/nope/accept", f"/v1/trades/{tid.upper()}/accept"):
        resp = await client.post(path, headers={**bob["headers"], "Idempotency-Key": "k"})
        assert (resp.status, (await resp.json())["code"]) == (404, "unknown-trade"), path
    resp = await act(client, bob, tid, "accept", json={"really": True})
    assert (resp.status, (await resp.json())["code"]) == (400, "invalid-request")
    resp = await client.post(f"/v1/trades/{tid}/accept", headers=bob["headers"])
    assert (resp.status, (await resp.json())["code"]) == (400, "idempotency-key-missing")
    assert await snapshot(client) == start
    assert (await act(client, bob, tid, "accept", json={})).status == 200  # an empty object is no field at all
    for params, field in (({}, "role"), ({"role": "both"}, "role"), ({"role": "sent", "state": "gone"}, "state"),
                          ({"role": "sent", "cursor": "!!"}, "cursor"), ({"role": "sent", "cursor": "YWJj"}, "cursor"),
                          ({"role": "sent", "limit": "0"}, "limit"), ({"role": "sent", "page": "2"}, "page")):
        resp = await client.get("/v1/trades", params=params, headers=alice["headers"])
        problem = await resp.json()
        assert resp.status == 400 and field in problem.get("errors", {}), (params, problem)
    assert (await client.get(f"/v1/trades/{'0' * 32}", headers=alice["headers"])).status == 404
    assert (await client.get("/v1/trades", params={"role": "sent"})).status == 401


async def test_system_accounts_cannot_log_in(client: Any) -> None:
    await register(client)  # the escrow account exists once the app started
    for name in ("escrow", "system:escrow"):
        resp = await client.post("/v1/sessions", json={"username": name, "password": "anything at all"})
        assert resp.status == 401 and (await resp.json())["code"] == "invalid-credentials"
    escrow = await client.app[STORE].accounts.find_one({"_id": "escrow"})
    assert escrow["system"] is True
