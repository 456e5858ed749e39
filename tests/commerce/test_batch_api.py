"""The batch read of players (GET /v1/players?ids=...) through the real app: the single read's
rules (signed in, public fields only, no system accounts), the order asked, and bad input refused."""

from __future__ import annotations

from typing import Any

from tests.commerce.conftest import register
from tests.commerce.test_moderation import act

PUBLIC_KEYS = {"id", "display_name", "avatar_url", "created_at"}


async def test_many_players_in_one_read_in_the_order_asked(client: Any) -> None:
    a, b, c = await register(client), await register(client), await register(client)
    resp = await client.patch("/v1/me", json={"display_name": "Bee", "avatar_url": "https://cdn.example/b.png",
                                              "settings": {"secret": "x"}, "region": "eu-west"},
                              headers=b["headers"])
    assert resp.status == 200
    unknown = "0" * 32
    ids = [c["account_id"], unknown, b["account_id"], "house", a["account_id"], b["account_id"]]
    resp = await client.get("/v1/players", params={"ids": ",".join(ids)}, headers=a["headers"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert set(body) == {"players", "missing"}
    assert [p["id"] for p in body["players"]] == [c["account_id"], b["account_id"], a["account_id"]]
    assert all(set(p) == PUBLIC_KEYS for p in body["players"])  # no username, settings, region or wallet
    bee = body["players"][1]
    assert bee["display_name"] == "Bee" and bee["avatar_url"] == "https://cdn.example/b.png"
    assert body["missing"] == [unknown, "house"]  # a system account is never shown, as in the single read
    single = await (await client.get(f"/v1/players/{b['account_id']}", headers=a["headers"])).json()
    assert {k: single[k] for k in PUBLIC_KEYS} == bee


async def test_signed_in_players_only_and_banned_tokens_refused(client: Any, admin_token: str) -> None:
    a, b = await register(client), await register(client)
    resp = await client.get("/v1/players", params={"ids": b["account_id"]})
    assert resp.status == 401 and (await resp.json())["code"] == "unauthorized"
    assert (await act(client, admin_token, a["account_id"], "ban", {"reason": "cheating"})).status == 201
    resp = await client.get("/v1/players", params={"ids": b["account_id"]}, headers=a["headers"])
    assert resp.status == 403 and (await resp.json())["code"] == "account-banned"


async def test_bad_batches_are_refused_with_a_problem(client: Any) -> None:
    a = await register(client)
    too_many = ",".join(f"p{i}" for i in range(101))
    for query, field in ((None, "ids"), ("ids=", "ids"), (f"ids={too_many}", "ids"), ("ids=a,,b", "ids"),
                         ("ids=a%20b", "ids"), ("ids=a&ids=b", "ids"), ("ids=a&x=1", "x")):
        path = "/v1/players" + (f"?{query}" if query else "")
        resp = await client.get(path, headers=a["headers"])
        assert resp.status == 400, (query, await resp.text())
        assert resp.content_type == "application/problem+json"
        problem = await resp.json()
        assert problem["code"] == "invalid-request" and field in problem["errors"], (query, problem)
    ok = await client.get("/v1/players", params={"ids": ",".join(f"p{i}" for i in range(100))},
                          headers=a["headers"])
    assert ok.status == 200 and len((await ok.json())["missing"]) == 100
