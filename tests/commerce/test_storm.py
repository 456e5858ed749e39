"""The race the ledger exists for: hundreds of purchases, grants and reward grants at once against
the same wallets, through two replicas, with retries and repeated idempotency keys. Afterwards
``elysium audit`` passes, no balance is negative and the supply cap held."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from commerce.appkeys import STORE
from gameserver.redisio import ResultsWriter
from tests.commerce.conftest import admin_headers, make_settings, register
from tests.commerce.test_rewards import _count, expected, result, wait_for

CAP = 7


def audit(mongo_url: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_COMMERCE_DB": db}
    return subprocess.run([sys.executable, "-m", "elysium", "audit"], env=env, capture_output=True, text=True,
                          timeout=60)


async def _send(client: Any, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    """A client that retries, with the same key, what the server says to retry (503 busy)."""
    for _ in range(20):
        resp = await client.request(method, path, json=body, headers=headers)
        data = await resp.json()
        if resp.status != 503:
            return resp.status, data
        await asyncio.sleep(0.05)
    raise AssertionError("still busy after 20 tries")


async def test_concurrency_storm_then_audit_passes(client_for: Any, mongo_url: str, mongo_db_name: str,
                                                   redis_url: str, keys_dir: Path, admin_token: str) -> None:
    rnd = random.Random(11)
    # The storm piles 50 concurrent writers onto five wallets of the embedded server. What it checks
    # is that retries and duplicates never create, lose or duplicate anything, not the deadline
    # (tests/commerce/test_timeouts.py does): on a slow host the 5 s default answered one request
    # 503 twenty times running, past this client's patience. A deadline the storm cannot reach:
    deadline_s = 60.0
    r1 = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name="s1",
                                        mongo_timeout_s=deadline_s))
    r2 = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name="s2",
                                        mongo_timeout_s=deadline_s))
    replicas = [r1, r2]
    assert (await r1.put("/v1/admin/catalog/storm-relic", json={
        "name": "Storm Relic", "rarity": "epic", "stackable": True, "tradeable": True, "price": {"soft": 40},
        "supply_cap": CAP}, headers=admin_headers(admin_token))).status == 200
    players = [await register(r1) for _ in range(5)]
    ids = [p["account_id"] for p in players]

    ops: list[tuple[str, str, str, dict[str, Any], dict[str, str]]] = []  # (kind, key, path, body, headers)
    for i in range(130):
        p = rnd.choice(players)
        item = "storm-relic" if i % 5 == 0 else "health-potion"
        key = f"buy-{i}"
        body = {"item_id": item, "currency": "soft", "quantity": rnd.randint(1, 3)}
        copies = rnd.choice((1, 1, 2, 3))  # the same request retried, maybe on the other replica
        ops += [("buy", key, "/v1/purchases", body, {**p["headers"], "Idempotency-Key": key})] * copies
    for i in range(25):
        p = rnd.choice(players)
        key = f"grant-{i}"
        body = {"account_id": p["account_id"], "currency": "soft", "amount": rnd.randint(1, 200), "reason": "storm"}
        ops += [("grant", key, "/v1/admin/grants", body, admin_headers(admin_token, key))] * rnd.choice((1, 2))
    rnd.shuffle(ops)
    results = [result(f"storm-{i}", [(pid, rnd.randint(0, 5), rnd.randint(0, 5)) for pid in rnd.sample(ids, 3)])
               for i in range(30)]

    redis = aioredis.from_url(redis_url)
    writer = ResultsWriter(redis)
    gate = asyncio.Semaphore(50)

    async def run(op: tuple[str, str, str, dict[str, Any], dict[str, str]]) -> tuple[str, str, int, Any]:
        kind, key, path, body, headers = op
        async with gate:
            status, data = await _send(rnd.choice(replicas), "POST", path, body, headers)
        return kind, key, status, data

    async def publish() -> None:
        for res in results:
            await writer.write(res)
            await asyncio.sleep(0)

    try:
        outcomes, _ = await asyncio.gather(asyncio.gather(*[run(op) for op in ops]), publish())
        store = r1.app[STORE]
        await wait_for(lambda: _count(store.rewards, {"match_id": {"$regex": "^storm-"}}, 30 * 3), 60)
    finally:
        await redis.aclose()

    by_key: dict[str, list[tuple[int, Any]]] = {}
    for kind, key, status, data in outcomes:
        by_key.setdefault(key, []).append((status, data))
        assert status in (200, 201, 409), (status, data)
        if status == 409:
            assert data["code"] in ("insufficient-funds", "sold-out"), data
    applied: dict[str, Any] = {}
    for key, answers in by_key.items():
        created = [d for s, d in answers if s == 201]
        assert len(created) <= 1, f"{key} applied twice"
        if created:
            applied[key] = created[0]
            # Every retry that succeeded answered with the very same outcome.
            assert all(d == created[0] for s, d in answers if s in (200, 201))
    store = r1.app[STORE]
    assert await store.ledger.count_documents({"kind": "purchase"}) == sum(k.startswith("buy-") for k in applied)
    assert await store.ledger.count_documents({"kind": "grant"}) == sum(k.startswith("grant-") for k in applied)
    relics = await store.items.count_documents({"type": "storm-relic"})
    assert relics <= CAP
    assert relics == sum(a["quantity"] for k, a in applied.items() if a.get("item_id") == "storm-relic")

    # Balances equal what the accepted operations say, and none is negative.
    want = {pid: 500 for pid in ids}
    for key, a in applied.items():
        if key.startswith("grant-"):
            want[a["account_id"]] += a["amount"]
    for key, a in applied.items():
        if key.startswith("buy-"):
            owner = (await store.ledger.find_one({"_id": a["purchase_id"]}))["account"]
            want[owner] -= a["price"]
    for res in results:
        for pid, reward in expected(res).items():
            want[pid] += reward.amount
    got = {w["account"]: w["balance"] async for w in store.wallets.find({"currency": "soft", "account": {"$in": ids}})}
    assert got == want
    assert all(b >= 0 for b in got.values())

    done = audit(mongo_url, mongo_db_name)
    assert done.returncode == 0, done.stderr
    assert "audit passed" in done.stdout


async def test_audit_names_what_is_wrong(client: Any, mongo_url: str, mongo_db_name: str) -> None:
    p = await register(client)
    buy = await client.post("/v1/purchases", json={"item_id": "health-potion", "currency": "soft", "quantity": 2},
                            headers={**p["headers"], "Idempotency-Key": "a1"})
    items = (await buy.json())["items"]
    assert audit(mongo_url, mongo_db_name).returncode == 0
    store = client.app[STORE]
    await store.wallets.update_one({"_id": f"{p['account_id']}:soft"}, {"$inc": {"balance": 1}})
    await store.items.update_one({"_id": items[0]}, {"$set": {"custody": ["in_game", "on_chain"]}})
    await store.items.update_one({"_id": items[1]}, {"$set": {"owner": None}})
    done = audit(mongo_url, mongo_db_name)
    assert done.returncode == 1
    assert f"wallet_ledger_mismatch: wallet {p['account_id']}/soft: balance 451 but its ledger entries sum to 450" \
        in done.stderr
    assert f"item_custody: item {items[0]}" in done.stderr
    assert f"item_owner: item {items[1]}" in done.stderr
    assert _audit_env_missing().returncode == 2


def _audit_env_missing() -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ELYSIUM_MONGO_URL"}
    done = subprocess.run([sys.executable, "-m", "elysium", "audit"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert "ELYSIUM_MONGO_URL" in done.stderr
    return done
