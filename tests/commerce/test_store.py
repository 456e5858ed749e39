"""Purchases, inventory, the catalog and the admin API through the real app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from commerce.appkeys import STORE
from commerce.settings import DEFAULT_CATALOG
from elysium import tokens
from elysium.config import ConfigError
from tests.commerce.conftest import admin_headers, make_settings, register
from tests.commerce.test_accounts import _problem


def _buy(client: Any, p: dict[str, Any], key: str | None, **body: Any) -> Any:
    headers = dict(p["headers"])
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/purchases", json=body, headers=headers)


async def _state(client: Any, account: str) -> tuple[Any, ...]:
    store = client.app[STORE]
    wallets = sorted([(w["_id"], w["balance"]) async for w in store.wallets.find({"account": account})])
    return (wallets, await store.ledger.count_documents({}), await store.items.count_documents({}),
            sorted([(s["_id"], s["minted"]) async for s in store.supply.find({})]))


async def test_purchase_debits_once_and_replays_the_first_outcome(client: Any) -> None:
    p = await register(client)
    resp = await _buy(client, p, "order-1", item_id="health-potion", currency="soft", quantity=4)
    assert resp.status == 201 and resp.headers["Idempotent-Replayed"] == "false"
    first = await resp.json()
    assert first["price"] == 100 and first["balance"] == 400 and len(first["items"]) == 4
    again = await _buy(client, p, "order-1", item_id="health-potion", currency="soft", quantity=4)
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == first
    await _problem(await _buy(client, p, "order-1", item_id="health-potion", currency="soft", quantity=5), 422,
                   "idempotency-key-reused")
    wallet = await (await client.get("/v1/me/wallet", headers=p["headers"])).json()
    assert wallet["balances"] == {"soft": 400, "premium": 0}
    items = (await (await client.get("/v1/me/items", headers=p["headers"])).json())["items"]
    assert sorted(i["id"] for i in items) == sorted(first["items"])
    assert all(i["custody"] == "in_game" and i["origin"]["kind"] == "purchase" for i in items)
    entries = (await (await client.get("/v1/me/ledger", headers=p["headers"])).json())["entries"]
    assert [(e["kind"], e["delta"], e["balance_after"]) for e in entries] == [("purchase", -100, 400),
                                                                              ("signup", 500, 500)]
    older = await client.get("/v1/me/ledger", params={"limit": "1", "before": entries[0]["id"]},
                             headers=p["headers"])
    assert [e["kind"] for e in (await older.json())["entries"]] == ["signup"]


async def test_refusals_change_nothing(client: Any) -> None:
    p = await register(client)
    other = await register(client)
    assert (await _buy(client, p, "boots", item_id="speed-boots", currency="soft")).status == 201
    before = await _state(client, p["account_id"])
    cases = [
        (await _buy(client, p, "k2", item_id="speed-boots", currency="soft"), 409, "already-owned"),
        (await _buy(client, p, "k3", item_id="founders-blade", currency="soft"), 409, "insufficient-funds"),
        (await _buy(client, p, "k4", item_id="arena-banner", currency="soft"), 409, "not-for-sale"),
        (await _buy(client, p, "k5", item_id="no-such-thing", currency="soft"), 404, "unknown-item"),
        (await _buy(client, p, None, item_id="health-potion", currency="soft"), 400, "idempotency-key-missing"),
        (await _buy(client, p, "bad key with spaces", item_id="health-potion", currency="soft"), 400,
         "idempotency-key-invalid"),
        (await _buy(client, p, "k"*129, item_id="health-potion", currency="soft"), 400, "idempotency-key-invalid"),
    ]
    bad_bodies: list[dict[str, Any]] = [
        {"item_id": "health-potion", "currency": "soft", "quantity": -1},
        {"item_id": "health-potion", "currency": "soft", "quantity": 0},
        {"item_id": "health-potion", "currency": "soft", "quantity": 10**30},
        {"item_id": "health-potion", "currency": "soft", "quantity": 2.5},
        {"item_id": "health-potion", "currency": "soft", "quantity": True},
        {"item_id": "health-potion", "currency": "soft", "quantity": "2"},
        {"item_id": "health-potion", "currency": "gold"},
        {"item_id": "health-potion", "currency": "soft", "price": 0},
        {"item_id": "health-potion"},
        {"item_id": 7, "currency": "soft"},
        {"item_id": "speed-boots", "currency": "soft", "quantity": 2, "owner": other["account_id"]},
    ]
    for i, body in enumerate(bad_bodies):
        cases.append((await _buy(client, p, f"bad-{i}", **body), 400, "invalid-request"))
    # Quantities above one for a unique item pass the schema and meet the item type's limit.
    cases.append((await _buy(client, other, "u2", item_id="speed-boots", currency="soft", quantity=2), 409,
                  "quantity-limit"))
    replay = await _buy(client, p, "boots", item_id="speed-boots", currency="soft")
    assert replay.status == 200 and replay.headers["Idempotent-Replayed"] == "true"
    for resp, status, code in cases:
        body = await _problem(resp, status, code)
        if code == "invalid-request" and "errors" in body:
            assert body["errors"]
    assert await _state(client, p["account_id"]) == before


async def test_supply_cap_is_never_exceeded_under_concurrent_buyers(client: Any, admin_token: str) -> None:
    cap = 3
    resp = await client.put("/v1/admin/catalog/relic", json={
        "name": "Relic", "rarity": "epic", "stackable": False, "tradeable": True, "price": {"soft": 10},
        "supply_cap": cap}, headers=admin_headers(admin_token))
    assert resp.status == 200, await resp.text()
    buyers = [await register(client) for _ in range(8)]
    results = await asyncio.gather(*[_buy(client, b, f"relic-{i}", item_id="relic", currency="soft")
                                     for i, b in enumerate(buyers)])
    statuses = sorted(r.status for r in results)
    assert statuses.count(201) == cap and statuses.count(409) == len(buyers) - cap
    for r in results:
        if r.status == 409:
            assert (await r.json())["code"] == "sold-out"
    store = client.app[STORE]
    assert await store.items.count_documents({"type": "relic"}) == cap
    item = await (await client.get("/v1/catalog/relic")).json()
    assert item["supply_left"] == 0
    # The cap cannot be lowered below what exists; raising it sells again.
    body = {"name": "Relic", "rarity": "epic", "stackable": False, "tradeable": True, "price": {"soft": 10}}
    await _problem(await client.put("/v1/admin/catalog/relic", json={**body, "supply_cap": 2},
                                    headers=admin_headers(admin_token)), 409, "cap-below-supply")
    assert (await client.put("/v1/admin/catalog/relic", json={**body, "supply_cap": 4},
                             headers=admin_headers(admin_token))).status == 200
    await _problem(await client.put("/v1/admin/catalog/relic", json=body, headers=admin_headers(admin_token)),
                   409, "cap-change")
    await _problem(await client.put("/v1/admin/catalog/health-potion", json={
        "name": "Potion", "rarity": "common", "stackable": True, "tradeable": True, "supply_cap": 10},
        headers=admin_headers(admin_token)), 409, "cap-change")
    loser = next(b for b, r in zip(buyers, results, strict=True) if r.status == 409)
    assert (await _buy(client, loser, "relic-again", item_id="relic", currency="soft")).status == 201


async def test_catalog_and_admin_api(client: Any, admin_token: str, keys_dir: Any, player_signer: Any) -> None:
    listing = (await (await client.get("/v1/catalog")).json())["items"]
    ids = {i["id"] for i in listing}
    assert {"health-potion", "speed-boots", "founders-blade"} <= ids
    blade = next(i for i in listing if i["id"] == "founders-blade")
    assert blade["supply_cap"] == 500 and blade["supply_left"] == 500
    await _problem(await client.get("/v1/catalog/NOT VALID"), 404, "unknown-item")

    # Admin: price change takes effect on the next purchase.
    p = await register(client)
    item = {k: v for k, v in next(i for i in listing if i["id"] == "health-potion").items()}
    item["price"] = {"soft": 30}
    assert (await client.put("/v1/admin/catalog/health-potion", json=item,
                             headers=admin_headers(admin_token))).status == 200
    bought = await (await _buy(client, p, "hp", item_id="health-potion", currency="soft")).json()
    assert bought["price"] == 30

    # Grants: idempotent, validated, only with an admin service token.
    grant = {"account_id": p["account_id"], "currency": "premium", "amount": 250, "reason": "support ticket 7"}
    resp = await client.post("/v1/admin/grants", json=grant, headers=admin_headers(admin_token, "g-1"))
    assert resp.status == 201 and (await resp.json())["balance"] == 250
    assert (await client.post("/v1/admin/grants", json=grant, headers=admin_headers(admin_token, "g-1"))).status == 200
    await _problem(await client.post("/v1/admin/grants", json={**grant, "amount": 1},
                                     headers=admin_headers(admin_token, "g-1")), 422, "idempotency-key-reused")
    for bad in ({**grant, "amount": -5}, {**grant, "amount": 0}, {**grant, "amount": 10**12}, {**grant, "x": 1},
                {**grant, "currency": "gems"}):
        await _problem(await client.post("/v1/admin/grants", json=bad, headers=admin_headers(admin_token, "g-2")),
                       400, "invalid-request")
    await _problem(await client.post("/v1/admin/grants", json={**grant, "account_id": "ghost"},
                                     headers=admin_headers(admin_token, "g-3")), 404, "unknown-account")
    await _problem(await client.post("/v1/admin/grants", json=grant, headers=p["headers"] | {"Idempotency-Key": "x"}),
                   401, "invalid-token")
    no_scope = tokens.Signer(tokens.load_private_key(path=str(keys_dir / "service.key")), "t").issue(
        "ops", tokens.SERVICE_AUDIENCE, 60, {"scope": "matchmaker:admin"})
    await _problem(await client.post("/v1/admin/grants", json=grant, headers=admin_headers(no_scope, "g-4")),
                   403, "forbidden")
    for bad_item in ({"name": "X"}, {**item, "price": {"soft": -3}}, {**item, "id": "other-id"}):
        await _problem(await client.put("/v1/admin/catalog/health-potion", json=bad_item,
                                        headers=admin_headers(admin_token)), 400, "invalid-request")
    wallet = await (await client.get("/v1/me/wallet", headers=p["headers"])).json()
    assert wallet["balances"] == {"soft": 470, "premium": 250}
    bought = await (await _buy(client, p, "banner", item_id="arena-banner", currency="premium")).json()
    assert bought["balance"] == 130


@pytest.mark.parametrize("limit", ["0", "201", "abc", "-1"])
async def test_bad_paging_is_refused(client: Any, limit: str) -> None:
    p = await register(client)
    await _problem(await client.get("/v1/me/items", params={"limit": limit}, headers=p["headers"]), 400,
                   "invalid-request")


async def test_catalog_file_versions_load_once_and_admin_edits_survive_restarts(
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Any, admin_token: str,
        tmp_path: Any) -> None:
    with open(DEFAULT_CATALOG) as fh:
        raw = json.load(fh)
    path = tmp_path / "catalog.json"

    def settings_for(version: int, potion_price: int, **changes: Any) -> Any:
        data = json.loads(json.dumps(raw))
        data["version"] = version
        for item in data["items"]:
            if item["id"] == "health-potion":
                item["price"] = {"soft": potion_price}
                item.update(changes)
        path.write_text(json.dumps(data))
        return make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, catalog_file=str(path))

    first = await client_for(settings_for(1, 25))
    assert (await (await first.get("/v1/catalog/health-potion")).json())["price"] == {"soft": 25}
    edited = {"name": "Potion", "rarity": "common", "stackable": True, "tradeable": True, "price": {"soft": 33}}
    assert (await first.put("/v1/admin/catalog/health-potion", json=edited,
                            headers=admin_headers(admin_token))).status == 200
    # The same version again: the admin's edit stays.
    again = await client_for(settings_for(1, 25))
    assert (await (await again.get("/v1/catalog/health-potion")).json())["price"] == {"soft": 33}
    # A newer version: the file wins.
    newer = await client_for(settings_for(2, 40))
    assert (await (await newer.get("/v1/catalog/health-potion")).json())["price"] == {"soft": 40}
    # A version that would add a cap to a type on sale is refused at start, naming the file variable.
    with pytest.raises(ConfigError) as exc:
        await client_for(settings_for(3, 40, supply_cap=5))
    assert exc.value.variable == "ELYSIUM_COMMERCE_CATALOG_FILE"


async def _walk(client: Any, path: str, key: str, headers: dict[str, str], limit: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    params = {"limit": str(limit)}
    while True:
        resp = await client.get(path, params=params, headers=headers)
        assert resp.status == 200, await resp.text()
        page: list[dict[str, Any]] = (await resp.json())[key]
        assert len(page) <= limit
        if not page:
            return seen
        known = {e["id"] for e in seen}
        assert not [e["id"] for e in page if e["id"] in known], "a page repeats what an earlier one held"
        seen += page
        params = {"limit": str(limit), "before": page[-1]["id"]}


async def test_items_and_ledger_walk_in_stable_pages(client: Any, admin_token: str) -> None:
    p = await register(client)
    resp = await client.post("/v1/admin/grants", json={"account_id": p["account_id"], "currency": "soft",
                                                        "amount": 450 * 25, "reason": "test stock"},
                             headers=admin_headers(admin_token, "stock"))
    assert resp.status == 201, await resp.text()
    made: list[str] = []
    for n, quantity in enumerate((100, 100, 100, 100, 50)):  # items of one purchase share their millisecond
        resp = await _buy(client, p, f"bulk-{n}", item_id="health-potion", currency="soft", quantity=quantity)
        assert resp.status == 201, await resp.text()
        made += (await resp.json())["items"]
    for limit in (200, 7):
        walked = await _walk(client, "/v1/me/items", "items", p["headers"], limit)
        ids = [i["id"] for i in walked]
        assert len(ids) == 450 and set(ids) == set(made), (limit, len(ids), len(set(ids)))
        assert [i["created_at"] for i in walked] == sorted((i["created_at"] for i in walked), reverse=True)
        assert walked == await _walk(client, "/v1/me/items", "items", p["headers"], limit)  # the same order twice
    # The ledger pages the same way, here one entry at a time.
    entries = await _walk(client, "/v1/me/ledger", "entries", p["headers"], 1)
    assert sorted(e["kind"] for e in entries) == ["grant"] + ["purchase"] * 5 + ["signup"]
    assert len({e["id"] for e in entries}) == len(entries)
    for bad in ({"before": "not-an-item"}, {"before": "x" * 200}, {"limit": "0"}):
        await _problem(await client.get("/v1/me/items", params=bad, headers=p["headers"]), 400, "invalid-request")
