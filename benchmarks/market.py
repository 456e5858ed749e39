"""Marketplace benchmark: listing purchases per second with and without contention, as a ratio to the
store purchase measured in the same run, and searches per second over 100,000 listings.

    .venv/bin/python benchmarks/market.py [--buyers 100] [--hot 10] [--seconds 8] [--rounds 2]
                                          [--listings 100000] [--search-seconds 10]

Starts its own Redis, embedded MongoDB server and an ``elysium commerce`` child process (or uses
ELYSIUM_REDIS_URL and ELYSIUM_MONGO_URL). Runs, interleaved round by round:

* ``store``: every buyer buys one ``health-potion`` from the store per request (``POST /v1/purchases``);
* ``contended``: ``--hot`` listings (10) and all buyers (100) racing for them. A buyer picks one at
  random and tries to buy it; the winner lists the potion it just bought at once in the same slot
  (relisting as they sell), the losers get 409 and try again. Counted: purchases won per second;
* ``uncontended``: every buyer has a slot of its own, worked by two accounts taking turns: one
  buys the other's listing and lists the potion again for the other to buy. No two buyers touch
  the same listing (they still share the house's fee wallet: every sale with a fee credits it).

Both market runs do the same work per purchase (a purchase and a listing). Then ``search``:
``--listings`` open listings are written straight into MongoDB through the store's collection
(``Store.listings``, with the service's indexes), and ``--searchers`` clients run a mix of
searches through the HTTP API for ``--search-seconds``. Prints one JSON line;
docs/benchmarks.md (Marketplace) records it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from commerce_purchases import CpuMeter, drive, histogram, merge  # noqa: E402

from commerce import market  # noqa: E402
from commerce.store import Store, mongo_client  # noqa: E402
from elysium import procs, tokens  # noqa: E402

ITEM = "health-potion"
PRICE = 25
TYPES = [("health-potion", "common"), ("speed-boots", "uncommon"), ("arena-banner", "rare"),
         ("founders-blade", "legendary"), ("storm-relic", "epic")]


class Api:
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def account(self, admin: str, n: int) -> tuple[str, str]:
        async with self.http.post("/v1/accounts", json={"username": f"m{n}-{uuid.uuid4().hex[:8]}",
                                                        "password": "benchmark password"}) as resp:
            body = await resp.json()
        async with self.http.post("/v1/admin/grants", json={"account_id": body["account_id"], "currency": "soft",
                                                            "amount": 10**9, "reason": "benchmark"},
                                  headers={"Authorization": f"Bearer {admin}",
                                           "Idempotency-Key": uuid.uuid4().hex}) as r:
            assert r.status == 201, await r.text()
        return body["account_id"], body["access_token"]

    async def store_buy(self, token: str, quantity: int = 1) -> tuple[int, Any]:
        async with self.http.post("/v1/purchases", json={"item_id": ITEM, "currency": "soft", "quantity": quantity},
                                  headers=_h(token)) as resp:
            return resp.status, await resp.json()

    async def list(self, token: str, item: str) -> str:
        for _ in range(50):
            async with self.http.post("/v1/listings", json={"item": item, "currency": "soft", "price": PRICE},
                                      headers=_h(token)) as resp:
                body = await resp.json()
                if resp.status == 201:
                    return str(body["id"])
                if resp.status != 503:
                    raise AssertionError(body)
        raise AssertionError("busy 50 times")

    async def buy(self, token: str, lid: str) -> tuple[int, Any]:
        async with self.http.post(f"/v1/listings/{lid}/purchase", headers=_h(token)) as resp:
            return resp.status, await resp.json()


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}


async def store_run(api: Api, toks: list[str], seconds: float) -> dict[str, Any]:
    async def buy(b: int, n: int) -> bool:
        status, _ = await api.store_buy(toks[b])
        return status == 201

    return await drive(len(toks), seconds, buy)


async def contended_run(api: Api, toks: list[str], slots: list[str], seconds: float) -> dict[str, Any]:
    """All buyers race for ``slots``; a winner relists what it bought into the slot it won."""
    lost = 0

    async def buy(b: int, n: int) -> bool:
        nonlocal lost
        k = random.randrange(len(slots))
        lid = slots[k]
        status, body = await api.buy(toks[b], lid)
        if status == 201:
            slots[k] = await api.list(toks[b], body["items"][0])
            return True
        if status not in (409, 503):
            raise AssertionError(body)
        lost += 1
        return False

    out = await drive(len(toks), seconds, buy)
    out["lost"] = lost
    return out


async def uncontended_run(api: Api, pairs: list[tuple[str, str]], slots: list[tuple[int, str]],
                          seconds: float) -> dict[str, Any]:
    """Each buyer works its own slot with two accounts taking turns (``slots[b]``: whose turn, listing)."""

    async def buy(b: int, n: int) -> bool:
        turn, lid = slots[b]
        token = pairs[b][turn]
        status, body = await api.buy(token, lid)
        if status != 201:
            if status == 503:
                return False
            raise AssertionError(body)
        slots[b] = (1 - turn, await api.list(token, body["items"][0]))
        return True

    return await drive(len(pairs), seconds, buy)


async def seed_listings(store: Store, count: int, sellers: int) -> float:
    """Write ``count`` open listings straight into the service's collection; the seconds it took."""
    rnd = random.Random(7)
    start = time.perf_counter()
    base = datetime.now(UTC) - timedelta(days=10)
    batch: list[dict[str, Any]] = []
    for n in range(count):
        item_type, rarity = TYPES[n % len(TYPES)]
        at = base + timedelta(milliseconds=n * 7)
        price = rnd.randint(1, 10_000)
        batch.append({"_id": uuid.uuid4().hex, "seller": f"seller{rnd.randrange(sellers):05d}", "item_type": item_type,
                      "rarity": rarity, "items": [uuid.uuid4().hex], "quantity": 1,
                      "currency": rnd.choice(("soft", "premium")), "price": price, "total": price, "fee_bps": 500,
                      "state": "open", "created_at": at, "expires_at": at + timedelta(days=30),
                      "fingerprint": "seed"})
        if len(batch) == 1000:
            await store.listings.insert_many(batch, ordered=False)
            batch = []
    if batch:
        await store.listings.insert_many(batch, ordered=False)
    return time.perf_counter() - start


SEARCHES = {
    "newest": "sort=newest",
    "type_cheapest": "item_type=speed-boots&currency=soft&sort=price_asc",
    "rarity_newest": "rarity=legendary",
    "price_range": "currency=premium&min_price=1000&max_price=2000&sort=price_desc",
    "seller": "seller=seller00042",
    "type_page_2": "item_type=arena-banner&currency=soft&sort=price_asc",  # follows the first page's cursor
}


async def search_run(http: aiohttp.ClientSession, searchers: int, seconds: float) -> dict[str, Any]:
    hists = {k: histogram() for k in SEARCHES}
    total = histogram()
    done = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()

    async def one(kind: str) -> None:
        async with http.get(f"/v1/listings?{SEARCHES[kind]}&limit=50") as resp:
            body = await resp.json()
            assert resp.status == 200, body
        if kind == "type_page_2" and body["next"]:
            async with http.get(f"/v1/listings?{SEARCHES[kind]}&limit=50&cursor={body['next']}") as resp:
                assert resp.status == 200, await resp.text()

    async def searcher(s: int) -> None:
        nonlocal done
        kinds = list(SEARCHES)
        n = s
        while time.perf_counter() < deadline:
            kind = kinds[n % len(kinds)]
            n += 1
            t0 = time.perf_counter()
            await one(kind)
            us = max(1, int((time.perf_counter() - t0) * 1e6))
            hists[kind].record_value(us)
            total.record_value(us)
            done += 1

    await asyncio.gather(*[searcher(s) for s in range(searchers)])
    elapsed = time.perf_counter() - start
    return {"searches": done, "seconds": round(elapsed, 2), "per_s": round(done / elapsed, 1),
            "p50_ms": round(total.get_value_at_percentile(50) / 1000, 1),
            "p99_ms": round(total.get_value_at_percentile(99) / 1000, 1),
            "by_kind": {k: {"n": h.get_total_count(), "p50_ms": round(h.get_value_at_percentile(50) / 1000, 1),
                            "p99_ms": round(h.get_value_at_percentile(99) / 1000, 1)} for k, h in hists.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=100)
    parser.add_argument("--hot", type=int, default=10, help="listings the contended run's buyers race for")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each purchase run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--searchers", type=int, default=20)
    parser.add_argument("--search-seconds", type=float, default=10.0)
    parser.add_argument("--fee-bps", type=int, default=500, help="the house's fee (0: no sale writes the house "
                                                                 "wallet); --listings 0 skips the searches")
    args = parser.parse_args()
    children: list[procs.Child] = []
    tmp = Path(tempfile.mkdtemp(prefix="market-bench-"))
    try:
        redis_url = os.environ.get("ELYSIUM_REDIS_URL")
        if not redis_url:
            children.append(procs.start_redis())
            redis_url = children[-1].url
        mongo_url = os.environ.get("ELYSIUM_MONGO_URL")
        if not mongo_url:
            children.append(procs.start_mongo())
            mongo_url = children[-1].url
        for name in ("player", "service"):
            tokens.generate_keypair(tmp, name)
        port = procs.free_port()
        db_name = f"bench_market_{uuid.uuid4().hex[:6]}"
        env = {**os.environ, "ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_REDIS_URL": redis_url,
               "ELYSIUM_COMMERCE_DB": db_name, "ELYSIUM_COMMERCE_MONGO_TIMEOUT_S": "60",
               "ELYSIUM_PLAYER_PRIVATE_KEY_FILE": str(tmp / "player.key"),
               "ELYSIUM_SERVICE_PUBLIC_KEY_FILE": str(tmp / "service.pub"),
               "ELYSIUM_ARGON2_MEMORY_KIB": "1024", "ELYSIUM_ARGON2_TIME_COST": "1",
               "ELYSIUM_COMMERCE_REWARDS": "false", "ELYSIUM_LOG_LEVEL": "warning",
               "ELYSIUM_COMMERCE_MARKET_FEE_BPS": str(args.fee_bps)}
        proc = subprocess.Popen([sys.executable, "-m", "elysium", "commerce", "--port", str(port)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        children.append(procs.Child("commerce", proc, f"http://127.0.0.1:{port}"))
        pids = {"client": os.getpid(), "commerce": proc.pid}
        if not os.environ.get("ELYSIUM_MONGO_URL"):
            pids["mongodb"] = next(c.proc.pid for c in children if c.name == "mongo")
        assert proc.stdout is not None
        json.loads(proc.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        admin = tokens.Signer(tokens.load_private_key(path=str(tmp / "service.key")), "bench").issue(
            "bench", tokens.SERVICE_AUDIENCE, 3600, {"scope": "commerce:admin"})

        async def run() -> dict[str, Any]:
            conn = aiohttp.TCPConnector(limit=args.buyers * 2)
            async with aiohttp.ClientSession(base_url=url, connector=conn) as http:
                api = Api(http)
                buyers = [await api.account(admin, n) for n in range(args.buyers)]
                partners = [await api.account(admin, args.buyers + n) for n in range(args.buyers)]
                toks = [t for _, t in buyers]
                # The hot slots, listed by the partners; each buyer's own slot, listed by its partner.
                hot: list[str] = []
                for n in range(args.hot):
                    _, body = await api.store_buy(partners[n][1])
                    hot.append(await api.list(partners[n][1], body["items"][0]))
                own: list[tuple[int, str]] = []
                for n in range(args.buyers):
                    _, body = await api.store_buy(partners[n][1])
                    own.append((0, await api.list(partners[n][1], body["items"][0])))
                pairs = [(buyers[n][1], partners[n][1]) for n in range(args.buyers)]
                await store_run(api, toks, 2.0)  # warm-up
                runs: dict[str, list[dict[str, Any]]] = {"store": [], "contended": [], "uncontended": []}
                meter = CpuMeter(pids)

                async def measured(kind: str, job: Awaitable[dict[str, Any]]) -> None:
                    before = meter.snapshot()
                    result = await job
                    result["cpu_ms"] = meter.per_purchase(before, meter.snapshot(), result["purchases"])
                    runs[kind].append(result)

                lost = 0
                for _ in range(args.rounds):
                    await measured("store", store_run(api, toks, args.seconds))
                    await measured("contended", contended_run(api, toks, hot, args.seconds))
                    lost += runs["contended"][-1]["lost"]
                    await measured("uncontended", uncontended_run(api, pairs, own, args.seconds))
                store_m, cont, unc = merge(runs["store"]), merge(runs["contended"]), merge(runs["uncontended"])
                cont["lost_409"] = lost

                if not args.listings:
                    return {"rounds": args.rounds, "seconds_per_run": args.seconds, "buyers": args.buyers,
                            "hot": args.hot, "fee_bps": args.fee_bps, "store": store_m, "contended": cont,
                            "uncontended": unc, "contended_vs_store": round(cont["per_s"] / store_m["per_s"], 3),
                            "uncontended_vs_store": round(unc["per_s"] / store_m["per_s"], 3)}
                client = mongo_client(mongo_url)
                try:
                    seeded_s = await seed_listings(Store(client, db_name), args.listings, 5000)
                    open_listings = await Store(client, db_name).listings.count_documents({"state": "open"})
                finally:
                    await client.close()
                async with aiohttp.ClientSession(base_url=url) as http2:
                    await search_run(http2, args.searchers, 2.0)  # warm-up
                    search = await search_run(http2, args.searchers, args.search_seconds)
                search.update(listings_open=open_listings, seeded_in_s=round(seeded_s, 1))
            return {"rounds": args.rounds, "seconds_per_run": args.seconds, "buyers": args.buyers, "hot": args.hot,
                    "fee_bps": args.fee_bps, "store": store_m, "contended": cont, "uncontended": unc,
                    "contended_vs_store": round(cont["per_s"] / store_m["per_s"], 3),
                    "uncontended_vs_store": round(unc["per_s"] / store_m["per_s"], 3),
                    "search": search, "indexes": len(market.INDEXES)}

        import uvloop

        report = uvloop.run(run())
        print(json.dumps(report))
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
