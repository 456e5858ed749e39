"""Commerce purchase benchmark: purchases per second and latency at N concurrent buyers.

    .venv/bin/python benchmarks/commerce_purchases.py [--buyers 50] [--seconds 10]

Starts its own Redis and embedded MongoDB server (or uses ELYSIUM_REDIS_URL and
ELYSIUM_MONGO_URL) and an ``elysium commerce`` child process. Three runs, same server:

* ``service``: each buyer has its own account and wallet and buys one item per request
  through the HTTP API (bearer token check, body validation, Idempotency-Key, the purchase
  transaction, JSON answer);
* ``raw_same_ops``: the very database operations one purchase makes (a catalog read, then
  one transaction: wallet read, item insert, ledger insert, conditional wallet update,
  commit), issued straight from PyMongo by the same number of buyers;
* ``raw_conditional_update``: a bare conditional ``$inc`` debit per purchase, the floor of
  what any wallet change costs.

The service's own overhead is service / raw_same_ops. Results print as one JSON line;
docs/benchmarks.md (Commerce) records them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from hdrh.histogram import HdrHistogram
from pymongo import AsyncMongoClient

from commerce.store import Store
from elysium import procs, tokens

ITEM = "health-potion"
PRICE = 25


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used per purchase by each process of a run: the database server, the service, this client."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def snapshot(self) -> dict[str, float]:
        return {name: cpu_s(pid) for name, pid in self.pids.items()}

    @staticmethod
    def per_purchase(before: dict[str, float], after: dict[str, float], purchases: int) -> dict[str, float]:
        return {name: round((after[name] - before[name]) * 1000 / max(1, purchases), 2) for name in before}


def histogram() -> HdrHistogram:
    return HdrHistogram(1, 60_000_000, 3)  # microseconds


async def drive(buyers: int, seconds: float, buy: Callable[[int, int], Awaitable[bool]]) -> dict[str, Any]:
    hist = histogram()
    done = failed = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def buyer(b: int) -> None:
        nonlocal done, failed
        n = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            ok = await buy(b, n)
            hist.record_value(max(1, int((time.perf_counter() - t0) * 1e6)))
            n += 1
            if ok:
                done += 1
            else:
                failed += 1

    await asyncio.gather(*[buyer(b) for b in range(buyers)])
    elapsed = time.perf_counter() - start
    return {"purchases": done, "failed": failed, "seconds": elapsed, "hist": hist}


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    hist = histogram()
    cpu: dict[str, float] = {}
    for r in runs:
        hist.add(r["hist"])
        for name, ms in r.get("cpu_ms", {}).items():
            cpu[name] = cpu.get(name, 0.0) + ms * r["purchases"]
    done = sum(r["purchases"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {"purchases": done, "failed": sum(r["failed"] for r in runs), "seconds": round(seconds, 2),
            "per_s": round(done / seconds, 1),
            "per_s_by_round": [round(r["purchases"] / r["seconds"], 1) for r in runs],
            "p50_ms": round(hist.get_value_at_percentile(50) / 1000, 2),
            "p99_ms": round(hist.get_value_at_percentile(99) / 1000, 2),
            "cpu_ms_per_purchase": {k: round(v / max(1, done), 2) for k, v in cpu.items()}}


async def service_run(url: str, tokens_: list[str], buyers: int, seconds: float) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    conn = aiohttp.TCPConnector(limit=buyers)
    async with aiohttp.ClientSession(base_url=url, connector=conn) as http:
        async def buy(b: int, n: int) -> bool:
            async with http.post("/v1/purchases", json={"item_id": ITEM, "currency": "soft"},
                                 headers={"Authorization": f"Bearer {tokens_[b]}",
                                          "Idempotency-Key": f"{run}-{b}-{n}"}) as resp:
                await resp.read()
                return resp.status == 201

        return await drive(buyers, seconds, buy)


async def raw_same_ops(mongo_url: str, buyers: int, seconds: float) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client[f"bench_raw_{uuid.uuid4().hex[:6]}"]
    try:
        await Store(client, db.name).ensure_indexes()  # the service's indexes: each insert maintains the same
        await db.catalog.insert_one({"_id": ITEM, "price": {"soft": PRICE}, "stackable": True, "supply_cap": None})
        await db.wallets.insert_many([{"_id": f"b{b}:soft", "account": f"b{b}", "currency": "soft",
                                       "balance": 10**9} for b in range(buyers)])

        async def buy(b: int, n: int) -> bool:
            eid = f"purchase:{b}:{n}"
            await db.catalog.find_one({"_id": ITEM})
            for _ in range(60):
                try:
                    async with client.start_session() as s:
                        async with await s.start_transaction():
                            w = await db.wallets.find_one({"_id": f"b{b}:soft"}, {"balance": 1}, session=s)
                            if w is None:
                                raise RuntimeError(f"wallet b{b}:soft was not seeded")
                            item = {"_id": uuid.uuid4().hex, "owner": f"b{b}", "type": ITEM, "attributes": {},
                                    "origin": {"kind": "purchase", "ledger": eid}, "custody": "in_game",
                                    "created_at": datetime.now(UTC)}
                            await db.items.insert_one(item, session=s)
                            after = w["balance"] - PRICE
                            at = datetime.now(UTC)
                            await db.ledger.insert_one({"_id": eid, "kind": "purchase", "reason": f"bought 1 x {ITEM}",
                                                        "ref": ITEM, "item_id": ITEM, "quantity": 1,
                                                        "fingerprint": uuid.uuid4().hex * 2, "items": [item["_id"]],
                                                        "account": f"b{b}", "currency": "soft", "delta": -PRICE,
                                                        "balance_after": after, "at": at}, session=s)
                            r = await db.wallets.update_one({"_id": f"b{b}:soft", "balance": w["balance"]},
                                                            {"$set": {"balance": after, "updated_at": at}}, session=s)
                            if r.matched_count != 1:
                                raise RuntimeError("conflict")
                    return True
                except Exception:  # noqa: BLE001 - a write conflict: retry like the service does
                    await asyncio.sleep(0.002)
            return False

        return await drive(buyers, seconds, buy)
    finally:
        await client.drop_database(db.name)
        await client.close()


async def raw_conditional_update(mongo_url: str, buyers: int, seconds: float) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    db = client[f"bench_cond_{uuid.uuid4().hex[:6]}"]
    try:
        await db.wallets.insert_many([{"_id": f"b{b}", "balance": 10**9} for b in range(buyers)])

        async def buy(b: int, n: int) -> bool:
            r = await db.wallets.update_one({"_id": f"b{b}", "balance": {"$gte": PRICE}}, {"$inc": {"balance": -PRICE}})
            return r.modified_count == 1

        return await drive(buyers, seconds, buy)
    finally:
        await client.drop_database(db.name)
        await client.close()


async def setup_accounts(url: str, admin: str, buyers: int) -> list[str]:
    out: list[str] = []
    async with aiohttp.ClientSession(base_url=url) as http:
        for b in range(buyers):
            async with http.post("/v1/accounts", json={"username": f"buyer{b}-{uuid.uuid4().hex[:6]}",
                                                       "password": "benchmark password"}) as resp:
                body = await resp.json()
            async with http.post("/v1/admin/grants", json={"account_id": body["account_id"], "currency": "soft",
                                                           "amount": 10**9, "reason": "benchmark"},
                                 headers={"Authorization": f"Bearer {admin}", "Idempotency-Key": f"bench-{b}"}) as r:
                assert r.status == 201, await r.text()
            out.append(body["access_token"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of (service, raw_same_ops, raw_conditional_update), interleaved so that "
                             "load from elsewhere on the machine falls on all three alike")
    args = parser.parse_args()
    children: list[procs.Child] = []
    tmp = Path(tempfile.mkdtemp(prefix="commerce-bench-"))
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
        env = {**os.environ, "ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_REDIS_URL": redis_url,
               "ELYSIUM_COMMERCE_DB": f"bench_{uuid.uuid4().hex[:6]}",
               "ELYSIUM_PLAYER_PRIVATE_KEY_FILE": str(tmp / "player.key"),
               "ELYSIUM_SERVICE_PUBLIC_KEY_FILE": str(tmp / "service.pub"),
               "ELYSIUM_ARGON2_MEMORY_KIB": "1024", "ELYSIUM_ARGON2_TIME_COST": "1",
               "ELYSIUM_COMMERCE_REWARDS": "false", "ELYSIUM_LOG_LEVEL": "warning"}
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
            toks = await setup_accounts(url, admin, args.buyers)
            await service_run(url, toks, args.buyers, 2.0)  # warm-up
            runs: dict[str, list[dict[str, Any]]] = {"service": [], "same": [], "cond": []}
            meter = CpuMeter(pids)

            async def measured(kind: str, job: Awaitable[dict[str, Any]]) -> None:
                before = meter.snapshot()
                result = await job
                result["cpu_ms"] = meter.per_purchase(before, meter.snapshot(), result["purchases"])
                runs[kind].append(result)

            for _ in range(args.rounds):
                await measured("service", service_run(url, toks, args.buyers, args.seconds))
                await measured("same", raw_same_ops(mongo_url, args.buyers, args.seconds))
                await measured("cond", raw_conditional_update(mongo_url, args.buyers, args.seconds))
            service, same, cond = merge(runs["service"]), merge(runs["same"]), merge(runs["cond"])
            return {"rounds": args.rounds, "seconds_per_run": args.seconds, "buyers": args.buyers,
                    "service": service, "raw_same_ops": same, "raw_conditional_update": cond,
                    "service_vs_raw_same_ops": round(service["per_s"] / same["per_s"], 3),
                    "service_vs_raw_conditional_update": round(service["per_s"] / cond["per_s"], 3)}

        import uvloop

        report = uvloop.run(run())  # the same event loop as the service, for every run
        print(json.dumps(report))
        return 0
    finally:
        for child in reversed(children):
            child.stop()

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
