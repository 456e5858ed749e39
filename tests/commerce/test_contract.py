"""Rules the OpenAPI document states and the app keeps (each was a schemathesis finding)."""

from __future__ import annotations

import re
from typing import Any

from commerce import ledger
from commerce.openapi import build
from tests.commerce.conftest import admin_headers, register
from tests.commerce.test_accounts import _problem
from tests.commerce.test_store import _buy, _state


async def test_a_whole_number_written_with_a_zero_fraction_is_that_number(client: Any, admin_token: str) -> None:
    p = await register(client)
    resp = await _buy(client, p, "potions", item_id="health-potion", currency="soft", quantity=2.0)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["quantity"] == 2 and (await resp.json())["price"] == 50
    grant = await client.post("/v1/admin/grants", headers=admin_headers(admin_token, "g-1"),
                              json={"account_id": p["account_id"], "currency": "premium", "amount": 30.0,
                                    "reason": "test"})
    assert grant.status == 201, await grant.text()
    assert (await grant.json())["amount"] == 30
    item = await client.put("/v1/admin/catalog/sword", headers=admin_headers(admin_token),
                            json={"name": "Sword", "rarity": "rare", "stackable": False, "tradeable": True,
                                  "price": {"soft": 40.0}})
    assert item.status == 200, await item.text()
    assert (await item.json())["price"] == {"soft": 40}
    before = await _state(client, p["account_id"])
    await _problem(await _buy(client, p, "half", item_id="health-potion", currency="soft", quantity=1.5), 400,
                   "invalid-request")
    assert await _state(client, p["account_id"]) == before


async def test_a_quantity_past_the_item_types_limit_is_a_conflict(client: Any) -> None:
    p = await register(client)
    boots = await (await client.get("/v1/catalog/speed-boots")).json()
    potion = await (await client.get("/v1/catalog/health-potion")).json()
    assert (boots["max_per_purchase"], potion["max_per_purchase"]) == (1, 100)
    before = await _state(client, p["account_id"])
    await _problem(await _buy(client, p, "two-boots", item_id="speed-boots", currency="soft", quantity=2), 409,
                   "quantity-limit")
    assert await _state(client, p["account_id"]) == before
    listed = (await (await client.get("/v1/catalog")).json())["items"]
    assert all(i["max_per_purchase"] >= 1 for i in listed)


async def test_a_page_cursor_is_an_id_of_your_own(client: Any) -> None:
    p = await register(client)
    other = await register(client)
    theirs = (await (await client.get("/v1/me/ledger", headers=other["headers"])).json())["entries"][0]["id"]
    assert re.fullmatch(build()["paths"]["/v1/me/ledger"]["get"]["parameters"][1]["schema"]["pattern"], theirs)
    assert re.fullmatch(ledger.ENTRY_ID, theirs)
    await _problem(await client.get("/v1/me/ledger", params={"before": theirs}, headers=p["headers"]), 404,
                   "unknown-ledger-entry")
    for bad in ("", "nope", theirs.upper()):
        await _problem(await client.get("/v1/me/ledger", params={"before": bad}, headers=p["headers"]), 400,
                       "invalid-request")
    await _problem(await client.get("/v1/me/items", params={"before": "0" * 32}, headers=p["headers"]), 404,
                   "unknown-owned-item")
    await _problem(await client.get("/v1/me/items", params={"before": theirs}, headers=p["headers"]), 400,
                   "invalid-request")


async def test_unknown_query_parameters_are_refused(client: Any) -> None:
    p = await register(client)
    for path in ("/v1/me/ledger", "/v1/me/items"):
        await _problem(await client.get(path, params={"limt": "5"}, headers=p["headers"]), 400, "invalid-request")
        assert (await client.get(path, params={"limit": "5"}, headers=p["headers"])).status == 200


async def test_the_admin_catalog_takes_its_id_from_the_path(client: Any, admin_token: str) -> None:
    body = build()["paths"]["/v1/admin/catalog/{item_id}"]["put"]["requestBody"]["content"]["application/json"]
    assert "id" not in body["schema"]["properties"]
    fields = {"name": "Shield", "rarity": "common", "stackable": False, "tradeable": True}
    assert (await client.put("/v1/admin/catalog/shield", json=fields, headers=admin_headers(admin_token))).status == 200
    same = await client.put("/v1/admin/catalog/shield", json={**fields, "id": "shield"},
                            headers=admin_headers(admin_token))
    assert same.status == 200
    await _problem(await client.put("/v1/admin/catalog/shield", json={**fields, "id": "other"},
                                    headers=admin_headers(admin_token)), 400, "invalid-request")


def test_every_body_operation_documents_400_413_and_415() -> None:
    for path, item in build()["paths"].items():
        for method, op in item.items():
            if "requestBody" in op:
                assert {"400", "413", "415"} <= set(op["responses"]), (method, path)


def test_the_text_rules_are_in_the_schema() -> None:
    """The schema's patterns refuse exactly what the handlers' text rules refuse."""
    from commerce.validation import document_problem, name_problem, password_problem

    props = build()["paths"]["/v1/accounts"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]
    names = ("Zoë", "ok name", "日本語", "a" * 32, "<script>", "line\nbreak", "nul\x00", "evil\u202egnp", "zero\u200bw",
             "   ", "soft\u00adhyphen", "para\u2029", "\u0085next")
    for name in names:
        assert bool(re.fullmatch(props["display_name"]["pattern"], name)) == (name_problem(name) is None), name
    for password in ("correct horse", "tab\there", "c1\x90", "        ", "ünïcödé pass", "\u3000\u3000"):
        assert bool(re.fullmatch(props["password"]["pattern"], password)) == (password_problem(password) is None)
    document = build()
    key = document["components"]["schemas"]["SettingsKey"]["pattern"]
    for k in ("theme", "", "$where", "a.b", "nul\x00", "ok-key"):
        assert bool(re.fullmatch(key, k)) == (document_problem({k: 1}) is None), k
