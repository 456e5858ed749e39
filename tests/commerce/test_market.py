"""The marketplace through the real app against the real MongoDB wire server and Redis: listing,
browsing, detail, purchase, cancel, expiry, the races each guard exists for, and the audit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from commerce import market
from commerce.appkeys import STORE
from commerce.market_api import MARKET
from tests.commerce.conftest import admin_headers, make_settings, register
from tests.commerce.test_storm import audit
from tests.waiting import until

FEE_BPS = 500


def _h(p: dict[str, Any], key: str | None = None) -> dict[str, str]:
    return {**p["headers"], "Idempotency-Key": key or uuid.uuid4().hex}


async def _buy_store(client: Any, p: dict[str, Any], item: str, quantity: int = 1, currency: str = "soft") -> list[str]:
    resp = await client.post("/v1/purchases", json={"item_id": item, "currency": currency, "quantity": quantity},
                             headers=_h(p))
    assert resp.status == 201, await resp.text()
    items: list[str] = (await resp.json())["items"]
    return items


async def _grant(client: Any, admin_token: str, account: str, amount: int, currency: str = "soft") -> None:
    resp = await client.post("/v1/admin/grants", json={"account_id": account, "currency": currency, "amount": amount,
                                                       "reason": "test"},
                             headers=admin_headers(admin_token, uuid.uuid4().hex))
    assert resp.status == 201, await resp.text()


async def _list(client: Any, p: dict[str, Any], key: str | None = None, **body: Any) -> tuple[int, Any]:
    resp = await client.post("/v1/listings", json=body, headers=_h(p, key))
    return resp.status, await resp.json()


async def _wallet(client: Any, p: dict[str, Any]) -> dict[str, int]:
    balances: dict[str, int] = (await (await client.get("/v1/me/wallet", headers=p["headers"])).json())["balances"]
    return balances


async def _custody(client: Any, ids: list[str]) -> list[tuple[str, str]]:
    return [(d["owner"], d["custody"]) async for d in client.app[STORE].items.find({"_id": {"$in": ids}}).sort("_id")]


async def _totals(client: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    async for w in client.app[STORE].wallets.find({}):
        out[w["currency"]] = out.get(w["currency"], 0) + w["balance"]
    return out


async def _snapshot(client: Any) -> tuple[Any, ...]:
    store = client.app[STORE]
    return (sorted([(w["_id"], w["balance"]) async for w in store.wallets.find({})]),
            sorted([(i["_id"], i["owner"], i["custody"]) async for i in store.items.find({})]),
            sorted([(x["_id"], x["state"]) async for x in store.listings.find({})]),
            await store.ledger.count_documents({}))


def _audit_ok(mongo_url: str, db: str) -> None:
    done = audit(mongo_url, db)
    assert done.returncode == 0, done.stderr
    assert "audit passed" in done.stdout


# --- flows ---------------------------------------------------------------------------------------

async def test_list_buy_and_the_money_moves(client: Any, admin_token: str, mongo_url: str,
                                            mongo_db_name: str) -> None:
    seller, buyer = await register(client), await register(client)
    potions = await _buy_store(client, seller, "health-potion", 5)
    status, listing = await _list(client, seller, "l1", item_type="health-potion", quantity=3, currency="soft",
                                  price=40)
    assert status == 201, listing
    assert (listing["state"], listing["quantity"], listing["total"], listing["fee_bps"]) == ("open", 3, 120, FEE_BPS)
    assert set(listing["items"]) <= set(potions) and len(listing["items"]) == 3
    assert sorted(c for _, c in await _custody(client, potions)) == ["in_game"] * 2 + ["listed"] * 3
    # The same request again answers the same listing; a different one under the key is refused.
    again = await client.post("/v1/listings", json={"item_type": "health-potion", "quantity": 3, "currency": "soft",
                                                    "price": 40}, headers=_h(seller, "l1"))
    assert again.status == 200 and (await again.json()) == listing
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await _list(client, seller, "l1", item_type="health-potion", quantity=2, currency="soft",
                        price=40))[0] == 422

    before = await _totals(client)
    seller_before, buyer_before = await _wallet(client, seller), await _wallet(client, buyer)
    resp = await client.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyer, "b1"))
    assert resp.status == 201, await resp.text()
    sale = await resp.json()
    assert (sale["price"], sale["listing_id"], sale["items"]) == (120, listing["id"], listing["items"])
    fee = 120 * FEE_BPS // 10_000
    assert (await _wallet(client, buyer))["soft"] == buyer_before["soft"] - 120 == sale["balance"]
    assert (await _wallet(client, seller))["soft"] == seller_before["soft"] + 120 - fee
    _audit_ok(mongo_url, mongo_db_name)  # the fee's entry is written, waiting to be credited to the house
    assert await client.app[MARKET].settle_fees() == 1
    house = await client.app[STORE].wallets.find_one({"_id": "house:soft"})
    assert house["balance"] == fee
    assert await client.app[MARKET].settle_fees() == 0  # once
    assert await _totals(client) == before  # a sale moves money, it makes none
    assert await _custody(client, sorted(listing["items"])) == [(buyer["account_id"], "in_game")] * 3
    # A retry answers the first outcome and moves nothing more.
    retry = await client.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyer, "b1"))
    assert retry.status == 200 and (await retry.json()) == sale
    assert (await _wallet(client, buyer))["soft"] == sale["balance"]
    # The buyer's ledger shows the purchase; the bought items are the buyer's to list again.
    page = await (await client.get("/v1/me/ledger", headers=buyer["headers"])).json()
    assert page["entries"][0]["kind"] == "market_buy" and page["entries"][0]["delta"] == -120
    assert (await client.get(f"/v1/me/ledger?before={page['entries'][0]['id']}", headers=buyer["headers"])).status \
        == 200
    status, relist = await _list(client, buyer, item=listing["items"][0], currency="soft", price=60)
    assert status == 201, relist

    detail = await (await client.get(f"/v1/listings/{relist['id']}")).json()
    assert detail["provenance"][0]["previous_owners"] == [seller["account_id"]]
    assert detail["provenance"][0]["sales"][0]["price"] == 40
    assert detail["provenance"][0]["origin"] == "purchase"
    soft = detail["price_stats"]["soft"]
    assert soft["last"]["unit_price"] == 40 and soft["last"]["quantity"] == 3
    assert soft["24h"] == {"sales": 1, "units": 3, "turnover": 120, "min": 40, "max": 40, "median": 40}
    assert detail["price_stats"]["premium"]["last"] is None
    sold = await (await client.get(f"/v1/listings/{listing['id']}")).json()
    assert (sold["state"], sold["buyer"], sold["fee"], sold["proceeds"]) == ("sold", buyer["account_id"], fee,
                                                                             120 - fee)
    _audit_ok(mongo_url, mongo_db_name)


async def test_unique_item_premium_listing_and_cancel(client: Any, mongo_url: str, mongo_db_name: str) -> None:
    seller, other = await register(client), await register(client)
    [boots] = await _buy_store(client, seller, "speed-boots")
    status, listing = await _list(client, seller, item=boots, currency="premium", price=25, expires_in_s=3600)
    assert status == 201, listing
    # Listed: not listable again, by id or by type.
    assert (await _list(client, seller, item=boots, currency="soft", price=5))[1]["code"] == "item-unavailable"
    assert (await _list(client, seller, item_type="speed-boots", currency="soft", price=5))[1]["code"] \
        == "item-unavailable"
    # Only the seller cancels.
    assert (await client.delete(f"/v1/listings/{listing['id']}", headers=other["headers"])).status == 403
    resp = await client.delete(f"/v1/listings/{listing['id']}", headers=seller["headers"])
    assert resp.status == 200 and (await resp.json())["state"] == "cancelled"
    assert await _custody(client, [boots]) == [(seller["account_id"], "in_game")]
    again = await client.delete(f"/v1/listings/{listing['id']}", headers=seller["headers"])
    assert again.status == 200 and (await again.json())["state"] == "cancelled"
    # A cancelled listing cannot be bought.
    resp = await client.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(other))
    assert resp.status == 409 and (await resp.json())["code"] == "listing-cancelled"
    assert (await resp.json())["type"] == "urn:elysium:problem:listing-cancelled"
    _audit_ok(mongo_url, mongo_db_name)


async def test_buyer_who_owns_a_unique_item_cannot_buy_another(client: Any) -> None:
    seller, buyer = await register(client), await register(client)
    [boots] = await _buy_store(client, seller, "speed-boots")
    await _buy_store(client, buyer, "speed-boots")
    _, listing = await _list(client, seller, item=boots, currency="soft", price=10)
    before = await _snapshot(client)
    resp = await client.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyer))
    assert resp.status == 409 and (await resp.json())["code"] == "already-owned"
    assert await _snapshot(client) == before


async def test_browse_filters_sorts_and_stable_cursors(client: Any, admin_token: str) -> None:
    a, b = await register(client), await register(client)
    await _grant(client, admin_token, a["account_id"], 5000)
    await _buy_store(client, a, "health-potion", 30)
    await _buy_store(client, b, "speed-boots")
    prices = [7, 3, 9, 3, 5, 1, 8, 3, 6, 2]
    made = []
    for price in prices:
        status, body = await _list(client, a, item_type="health-potion", quantity=2, currency="soft", price=price)
        assert status == 201, body
        made.append(body)
    _, boots = await _list(client, b, item_type="speed-boots", currency="premium", price=4)

    async def walk(query: str, limit: int = 3) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            url = f"/v1/listings?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            resp = await client.get(url)
            assert resp.status == 200, await resp.text()
            page = await resp.json()
            out += page["listings"]
            cursor = page["next"]
            if cursor is None:
                return out

    asc = await walk("currency=soft&sort=price_asc")
    assert [x["price"] for x in asc] == sorted(prices)
    assert len({x["id"] for x in asc}) == len(prices)  # ties of price: each listing once
    assert [x["price"] for x in await walk("currency=soft&sort=price_desc", 4)] == sorted(prices, reverse=True)
    newest = await walk("sort=newest", 2)
    assert sorted(x["id"] for x in newest) == sorted([m["id"] for m in made] + [boots["id"]])
    assert [x["created_at"] for x in newest] == sorted((x["created_at"] for x in newest), reverse=True)
    oldest = await walk("sort=oldest", 5)
    assert [x["id"] for x in oldest] == [x["id"] for x in reversed(newest)]
    ranged = await walk("currency=soft&min_price=3&max_price=7&sort=price_asc")
    assert [x["price"] for x in ranged] == sorted(p for p in prices if 3 <= p <= 7)
    assert [x["id"] for x in await walk("rarity=uncommon")] == [boots["id"]]
    assert [x["id"] for x in await walk("currency=premium")] == [boots["id"]]
    assert len(await walk(f"seller={a['account_id']}&item_type=health-potion")) == len(prices)
    assert await walk("item_type=arena-banner") == []
    # A cursor stays valid as listings it has passed are sold: the next page neither repeats nor skips.
    first = await (await client.get("/v1/listings?currency=soft&sort=price_asc&limit=4")).json()
    await client.delete(f"/v1/listings/{first['listings'][0]['id']}", headers=a["headers"])
    rest = await walk(f"currency=soft&sort=price_asc&cursor={first['next']}", 100)
    assert [x["id"] for x in rest] == [x["id"] for x in asc[4:]]


async def test_expiry_returns_items_with_two_sweeping_replicas(client_for: Any, mongo_url: str, mongo_db_name: str,
                                                              redis_url: str, keys_dir: Path) -> None:
    r1, r2 = [await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name=name,
                                             market_sweep_interval_s=0.02)) for name in ("x1", "x2")]
    seller, buyer = await register(r1), await register(r1)
    potions = await _buy_store(r1, seller, "health-potion", 12)
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = {"now": t0}
    for r in (r1, r2):
        r.app[MARKET].clock = lambda: clock["now"]
    listings = []
    for n in range(12):
        status, body = await _list(r1 if n % 2 else r2, seller, item_type="health-potion", currency="soft", price=2,
                                   expires_in_s=60 + n)
        assert status == 201, body
        listings.append(body)
    clock["now"] = t0 + timedelta(seconds=59)
    assert (await r1.app[MARKET].sweep()) == 0  # nothing is due yet
    clock["now"] = t0 + timedelta(seconds=66)  # the first seven are due (60..66 s)

    async def expired() -> bool:
        return bool(await r1.app[STORE].listings.count_documents({"state": "expired"}) == 7)

    await until(expired, 20)
    # A due listing can no longer be bought, even before a sweeper reaches it.
    late = listings[8]
    clock["now"] = t0 + timedelta(seconds=200)
    resp = await r1.post(f"/v1/listings/{late['id']}/purchase", headers=_h(buyer))
    assert resp.status == 409 and (await resp.json())["code"] in ("listing-expired",)

    async def all_expired() -> bool:
        return bool(await r1.app[STORE].listings.count_documents({"state": "expired"}) == 12)

    await until(all_expired, 20)
    # A sweeper counts an expiry just after its transaction commits: wait for the counts too.
    await until(lambda: r1.app[MARKET].expired + r2.app[MARKET].expired >= 12, 10, what="both sweepers' counts")
    assert r1.app[MARKET].expired + r2.app[MARKET].expired == 12  # each expiry happened once
    assert await _custody(r1, sorted(potions)) == [(seller["account_id"], "in_game")] * 12
    assert await r1.app[STORE].ledger.count_documents({"kind": {"$regex": "^market_"}}) == 0
    resp = await r1.post(f"/v1/listings/{listings[0]['id']}/purchase", headers=_h(buyer))
    assert resp.status == 409 and (await resp.json())["code"] == "listing-expired"
    resp = await r1.delete(f"/v1/listings/{listings[0]['id']}", headers=seller["headers"])
    assert resp.status == 409 and (await resp.json())["code"] == "listing-expired"
    _audit_ok(mongo_url, mongo_db_name)


async def test_a_listing_past_its_time_is_not_sold_before_any_sweep(client_for: Any, mongo_url: str,
                                                                     mongo_db_name: str, redis_url: str,
                                                                     keys_dir: Path) -> None:
    c = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, market_sweep_interval_s=3600))
    seller, buyer = await register(c), await register(c)
    [boots] = await _buy_store(c, seller, "speed-boots")
    t0 = datetime.now(UTC)
    clock = {"now": t0}
    c.app[MARKET].clock = lambda: clock["now"]
    _, listing = await _list(c, seller, item=boots, currency="soft", price=10, expires_in_s=60)
    clock["now"] = t0 + timedelta(seconds=61)
    before = await _snapshot(c)
    resp = await c.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyer))
    assert resp.status == 409 and (await resp.json())["code"] == "listing-expired"
    assert await _snapshot(c) == before  # still open and listed: the sweeper has not run
    assert await c.app[MARKET].sweep() == 1
    assert await _custody(c, [boots]) == [(seller["account_id"], "in_game")]


async def test_the_house_never_logs_in_or_sells(client: Any) -> None:
    seller, buyer = await register(client), await register(client)
    [boots] = await _buy_store(client, seller, "speed-boots")
    assert await client.app[STORE].accounts.find_one({"_id": "house"}) is None  # made by the first fee
    _, listing = await _list(client, seller, item=boots, currency="soft", price=100)
    assert (await client.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyer))).status == 201
    await client.app[MARKET].settle_fees()
    assert (await client.get("/v1/listings?seller=house")).status == 200
    assert (await (await client.get("/v1/listings?seller=house")).json())["listings"] == []
    for name in ("house", "system:house", "SYSTEM:HOUSE"):
        resp = await client.post("/v1/sessions", json={"username": name, "password": "whatever it is"})
        assert resp.status == 401, await resp.text()
    assert (await client.app[STORE].accounts.find_one({"_id": "house"}))["system"] is True


# --- races ---------------------------------------------------------------------------------------

async def test_fifty_buyers_race_for_one_listing(client_for: Any, mongo_url: str, mongo_db_name: str,
                                                 redis_url: str, keys_dir: Path, admin_token: str) -> None:
    replicas = [await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name=f"r{n}",
                                               mongo_timeout_s=60.0)) for n in range(2)]
    r1 = replicas[0]
    seller = await register(r1)
    [blade] = await _buy_store(r1, seller, "speed-boots")
    _, listing = await _list(r1, seller, item=blade, currency="soft", price=100)
    buyers = [await register(r1) for _ in range(50)]
    totals = await _totals(r1)
    keys = [uuid.uuid4().hex for _ in buyers]

    async def attempt(n: int) -> tuple[int, Any]:
        for _ in range(20):
            resp = await replicas[n % 2].post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyers[n], keys[n]))
            if resp.status != 503:
                return resp.status, await resp.json()
            await asyncio.sleep(0.05)
        raise AssertionError("busy 20 times")

    outcomes = await asyncio.gather(*[attempt(n) for n in range(50)])
    won = [n for n, (status, _) in enumerate(outcomes) if status == 201]
    assert len(won) == 1, outcomes
    assert all(body["code"] == "listing-sold" for status, body in outcomes if status != 201)
    assert all(status == 409 for status, _ in outcomes if status != 201)
    winner = won[0]
    for n, b in enumerate(buyers):
        assert (await _wallet(r1, b))["soft"] == (400 if n == winner else 500)
    assert await _custody(r1, [blade]) == [(buyers[winner]["account_id"], "in_game")]
    await r1.app[MARKET].settle_fees()
    assert await _totals(r1) == totals
    # The winner's retry answers its first outcome; a loser's retry still loses, keeping its money.
    again = await r1.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyers[winner], keys[winner]))
    assert again.status == 200 and (await again.json()) == outcomes[winner][1]
    loser = (winner + 1) % 50
    again = await r1.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyers[loser], keys[loser]))
    assert again.status == 409
    _audit_ok(mongo_url, mongo_db_name)


async def test_two_replicas_settle_each_fee_once(client_for: Any, mongo_url: str, mongo_db_name: str,
                                                 redis_url: str, keys_dir: Path, admin_token: str) -> None:
    r1, r2 = [await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name=name,
                                             market_sweep_interval_s=3600, mongo_timeout_s=60.0))
              for name in ("f1", "f2")]
    seller, buyer = await register(r1), await register(r1)
    await _grant(r1, admin_token, buyer["account_id"], 10_000)
    potions = await _buy_store(r1, seller, "health-potion", 8)
    totals = await _totals(r1)
    fees = 0
    for n, item in enumerate(potions):
        _, listing = await _list(r1, seller, item=item, currency="soft", price=100 + n * 40)
        assert (await r2.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(buyer))).status == 201
        fees += (100 + n * 40) * FEE_BPS // 10_000
    assert await r1.app[STORE].ledger.count_documents({"pending": True}) == 8
    assert await _totals(r1) == {"soft": totals["soft"] - fees, "premium": totals["premium"]}  # held by the entries
    settled = await asyncio.gather(r1.app[MARKET].settle_fees(batch=3), r2.app[MARKET].settle_fees(batch=3))
    assert sum(settled) == 8
    assert (await r1.app[STORE].wallets.find_one({"_id": "house:soft"}))["balance"] == fees
    assert await r1.app[STORE].ledger.count_documents({"pending": True}) == 0
    assert await _totals(r1) == totals
    _audit_ok(mongo_url, mongo_db_name)


async def test_cancel_racing_purchases(client: Any, admin_token: str, mongo_url: str, mongo_db_name: str) -> None:
    seller = await register(client)
    buyers = [await register(client) for _ in range(4)]
    potions = await _buy_store(client, seller, "health-potion", 10)
    totals = await _totals(client)
    wins = {"cancel": 0, "buy": 0}
    for round_ in range(10):
        _, listing = await _list(client, seller, item=potions[round_], currency="soft", price=10)
        cancel = client.delete(f"/v1/listings/{listing['id']}", headers=seller["headers"])
        buys = [client.post(f"/v1/listings/{listing['id']}/purchase", headers=_h(b)) for b in buyers]
        answers = await asyncio.gather(cancel, *buys)
        codes = [(r.status, (await r.json()).get("code")) for r in answers]
        state = (await client.app[STORE].listings.find_one({"_id": listing["id"]}))["state"]
        winners = [c for c in codes if c[0] in (200, 201)]
        assert len(winners) == 1, codes
        if codes[0][0] == 200:
            wins["cancel"] += 1
            assert state == "cancelled"
            assert all(c == (409, "listing-cancelled") for c in codes[1:]), codes
        else:
            wins["buy"] += 1
            assert state == "sold"
            assert codes[0] == (409, "listing-sold")
    assert sum(wins.values()) == 10
    total_paid = 500 * 4 - sum([(await _wallet(client, b))["soft"] for b in buyers])
    assert total_paid == 10 * wins["buy"]
    await client.app[MARKET].settle_fees()
    assert await _totals(client) == totals
    _audit_ok(mongo_url, mongo_db_name)


# --- bad input: each refused with problem+json, changing nothing --------------------------------

BAD_BODIES: list[tuple[dict[str, Any], int, str]] = [
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "colour": "red"}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": "5"}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": -5}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 0}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 10 ** 12}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 2.5}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": True}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "gold", "price": 5}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "quantity": 0}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "quantity": -1}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "quantity": 1.5}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "quantity": 101}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 20_000_000, "quantity": 100}, 409,
     "price-limit"),
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "quantity": 4}, 409, "item-unavailable"),
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "expires_in_s": 59}, 400, "invalid-request"),
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "expires_in_s": 365 * 86_400}, 409,
     "expiry-limit"),
    ({"item_type": "health-potion", "currency": "soft", "price": 5, "expires_in_s": 365 * 86_400 + 1}, 400,
     "invalid-request"),
    ({"currency": "soft", "price": 5}, 400, "invalid-request"),
    ({"item_type": "health-potion", "item": "0" * 32, "currency": "soft", "price": 5}, 400, "invalid-request"),
    ({"item": "0" * 32, "currency": "soft", "price": 5}, 404, "unknown-owned-item"),
    ({"item": "not-an-id", "currency": "soft", "price": 5}, 400, "invalid-request"),
    ({"item_type": "no-such-thing", "currency": "soft", "price": 5}, 404, "unknown-item"),
    ({"item_type": "arena-banner", "currency": "soft", "price": 5}, 404, "unknown-owned-item"),
    ({"item_type": "speed-boots", "currency": "soft", "price": 5, "quantity": 2}, 400, "invalid-request"),
]


@pytest.mark.parametrize("body,status,code", BAD_BODIES)
async def test_bad_listings_are_refused_and_change_nothing(client: Any, body: dict[str, Any], status: int,
                                                           code: str) -> None:
    p = await register(client)
    await _buy_store(client, p, "health-potion", 3)
    before = await _snapshot(client)
    got, answer = await _list(client, p, **body)
    assert (got, answer["code"]) == (status, code), answer
    assert answer["type"] == f"urn:elysium:problem:{code}"
    assert await _snapshot(client) == before


async def test_foreign_untradeable_and_unavailable_items_are_refused(client: Any, admin_token: str) -> None:
    owner, thief = await register(client), await register(client)
    [boots] = await _buy_store(client, owner, "speed-boots")
    assert (await client.put("/v1/admin/catalog/bound-ring", json={
        "name": "Bound Ring", "rarity": "rare", "stackable": False, "tradeable": False, "price": {"soft": 10}},
        headers=admin_headers(admin_token))).status == 200
    [ring] = await _buy_store(client, owner, "bound-ring")
    await client.app[STORE].items.update_one({"_id": boots}, {"$set": {"custody": "on_chain"}})
    before = await _snapshot(client)
    cases = [(thief, {"item": boots}, 404, "unknown-owned-item"), (owner, {"item": ring}, 409, "item-not-tradeable"),
             (owner, {"item_type": "bound-ring"}, 409, "item-not-tradeable"),
             (owner, {"item": boots}, 409, "item-unavailable"),
             (owner, {"item_type": "speed-boots"}, 409, "item-unavailable")]
    for who, which, status, code in cases:
        got, answer = await _list(client, who, **which, currency="soft", price=5)
        assert (got, answer["code"]) == (status, code), (which, answer)
    assert await _snapshot(client) == before


async def test_bad_purchases_are_refused_and_change_nothing(client: Any, admin_token: str) -> None:
    seller, poor = await register(client), await register(client)
    await _grant(client, admin_token, seller["account_id"], 5000)
    potions = await _buy_store(client, seller, "health-potion", 2)
    _, listing = await _list(client, seller, item=potions[0], currency="soft", price=501)
    _, sold = await _list(client, seller, item=potions[1], currency="soft", price=1)
    rich = await register(client)
    assert (await client.post(f"/v1/listings/{sold['id']}/purchase", headers=_h(rich))).status == 201
    before = await _snapshot(client)
    lid = listing["id"]
    cases: list[tuple[str, dict[str, str], Any, int, str]] = [
        (f"/v1/listings/{lid}/purchase", _h(poor), None, 409, "insufficient-funds"),
        (f"/v1/listings/{lid}/purchase", _h(seller), None, 409, "own-listing"),
        (f"/v1/listings/{sold['id']}/purchase", _h(poor), None, 409, "listing-sold"),
        (f"/v1/listings/{'0' * 32}/purchase", _h(poor), None, 404, "unknown-listing"),
        ("/v1/listings/nonsense/purchase", _h(poor), None, 404, "unknown-listing"),
        (f"/v1/listings/{lid}/purchase", poor["headers"], None, 400, "idempotency-key-missing"),
        (f"/v1/listings/{lid}/purchase", {"Idempotency-Key": "k"}, None, 401, "unauthorized"),
        (f"/v1/listings/{lid}/purchase", _h(poor), {"price": 1}, 400, "invalid-request"),
        (f"/v1/listings/{lid}/purchase", _h(poor), [1], 400, "invalid-request"),
    ]
    for path, headers, body, status, code in cases:
        resp = await client.post(path, headers=headers, **({} if body is None else {"json": body}))
        answer = await resp.json()
        assert (resp.status, answer["code"]) == (status, code), (path, body, answer)
        assert resp.content_type == "application/problem+json"
    resp = await client.delete(f"/v1/listings/{sold['id']}", headers=seller["headers"])
    assert resp.status == 409 and (await resp.json())["code"] == "listing-sold"
    resp = await client.delete(f"/v1/listings/{'0' * 32}", headers=seller["headers"])
    assert resp.status == 404
    assert await _snapshot(client) == before


async def test_oversize_and_non_json_bodies(client: Any) -> None:
    p = await register(client)
    big = {"item_type": "health-potion", "currency": "soft", "price": 5, "pad": "x" * 20_000}
    resp = await client.post("/v1/listings", json=big, headers=_h(p))
    assert resp.status == 413 and (await resp.json())["code"] == "body-too-large"
    resp = await client.post("/v1/listings", data="{", headers={**_h(p), "Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["code"] == "invalid-json"
    assert await client.app[STORE].listings.count_documents({}) == 0


@pytest.mark.parametrize("query", [
    "sort=cheapest", "sort=price_asc", "min_price=5", "currency=soft&min_price=0", "currency=soft&max_price=1.5",
    "currency=soft&min_price=9&max_price=3", "rarity=mythic", "item_type=Bad Type", "seller=a%20b", "limit=0",
    "limit=201", "cursor=garbage", "cursor=" + "A" * 300, "colour=red", "currency=soft&currency=premium",
    "sort=oldest&cursor=" + market.encode_cursor("newest", datetime.now().astimezone(), "0" * 32),
    "sort=price_asc&currency=soft&cursor=" + market.encode_cursor("price_asc", 5, "xyz"),
])
async def test_bad_searches_are_refused(client: Any, query: str) -> None:
    resp = await client.get(f"/v1/listings?{query}")
    answer = await resp.json()
    assert resp.status == 400, answer
    assert answer["code"] == "invalid-request"


async def test_audit_finds_listing_damage(client: Any, mongo_url: str, mongo_db_name: str) -> None:
    seller, buyer = await register(client), await register(client)
    potions = await _buy_store(client, seller, "health-potion", 3)
    _, open_one = await _list(client, seller, item=potions[0], currency="soft", price=5)
    _, sold = await _list(client, seller, item=potions[1], currency="soft", price=100)
    assert (await client.post(f"/v1/listings/{sold['id']}/purchase", headers=_h(buyer))).status == 201
    _audit_ok(mongo_url, mongo_db_name)
    store = client.app[STORE]
    await store.items.update_one({"_id": potions[0]}, {"$set": {"custody": "in_game"}})  # escaped its listing
    await store.items.update_one({"_id": potions[2]}, {"$set": {"custody": "listed"}})  # listed under nothing
    await store.items.update_one({"_id": potions[1]}, {"$set": {"owner": seller["account_id"]}, "$pop":
                                                       {"provenance": 1}})  # the sale never moved it
    await store.ledger.update_one({"kind": "market_fee"}, {"$set": {"account": buyer["account_id"]}})
    done = audit(mongo_url, mongo_db_name)
    assert done.returncode == 1
    assert f"listing_item: listing {open_one['id']}" in done.stderr
    assert f"listed_item: item {potions[2]}" in done.stderr
    assert f"listing_item: listing {sold['id']}" in done.stderr
    assert "sale_entries: sale sale:" in done.stderr
