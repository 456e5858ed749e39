"""Chain benchmark: item withdrawals per second end to end on the embedded chain.

    .venv/bin/python benchmarks/chain_withdrawals.py [--players 10] [--withdrawals 5]

Starts its own Redis, embedded MongoDB server and embedded chain (``elysium chain``), and one
``elysium commerce`` child process reaching the chain over JSON-RPC, as ``elysium up`` runs them.
``--players`` players, each with a linked wallet and ``--withdrawals`` items bought (not timed),
then withdraw them all, every player at once, one request after another (timed). A withdrawal's
time is the whole request: the custody transaction in MongoDB, the mint signed, recorded, sent and
mined, its receipt, and the item's move to ``on_chain``. Prints one JSON line; docs/benchmarks.md
(Chain: withdrawals) records it.
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
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account
from hdrh.histogram import HdrHistogram
from pymongo import AsyncMongoClient

from elysium import procs, tokens


def _summary(latencies: list[float], done: int, failed: int, seconds: float) -> dict[str, Any]:
    hist = HdrHistogram(1, 60_000_000, 3)
    for s in latencies:
        hist.record_value(max(1, int(s * 1e6)))
    return {"done": done, "failed": failed, "seconds": round(seconds, 2), "per_s": round(done / seconds, 1),
            "p50_ms": round(hist.get_value_at_percentile(50) / 1000, 1),
            "p99_ms": round(hist.get_value_at_percentile(99) / 1000, 1)}


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "elysium", *argv], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    assert proc.stdout is not None
    json.loads(proc.stdout.readline())  # its listening line
    return proc


async def _bench(url: str, mongo_url: str, db_name: str, players: int, per_player: int) -> dict[str, Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    accounts = mongo[db_name]["accounts"]
    async with aiohttp.ClientSession(base_url=url, connector=aiohttp.TCPConnector(limit=200)) as http:
        owners: list[tuple[dict[str, str], list[str]]] = []
        for _ in range(players):
            async with http.post("/v1/accounts", json={"username": f"w{uuid.uuid4().hex[:12]}",
                                                       "password": "benchmark password"}) as r:
                body = await r.json()
            headers = {"Authorization": f"Bearer {body['access_token']}"}
            await accounts.update_one({"_id": body["account_id"]}, {"$set": {"eth_address": Account.create().address}})
            async with http.post("/v1/purchases", json={"item_id": "health-potion", "currency": "soft",
                                                        "quantity": per_player},
                                 headers={**headers, "Idempotency-Key": "buy"}) as r:
                assert r.status == 201, await r.text()
                owners.append((headers, (await r.json())["items"]))
        latencies: list[float] = []
        done = failed = 0

        async def player(headers: dict[str, str], items: list[str]) -> None:
            nonlocal done, failed
            for item in items:
                t0 = time.perf_counter()
                async with http.post(f"/v1/me/items/{item}/withdraw",
                                     headers={**headers, "Idempotency-Key": uuid.uuid4().hex}) as r:
                    body = await r.json()
                latencies.append(time.perf_counter() - t0)
                ok = r.status == 201 and body.get("state") == "on_chain"
                done += ok
                failed += not ok

        start = time.perf_counter()
        await asyncio.gather(*[player(h, items) for h, items in owners])
        report = _summary(latencies, done, failed, time.perf_counter() - start)
    await mongo.close()
    return {"players": players, "withdrawals_per_player": per_player, "withdraw": report}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", type=int, default=10, help="players withdrawing at once")
    parser.add_argument("--withdrawals", type=int, default=5, help="items each player withdraws, one after another")
    args = parser.parse_args()
    children: list[procs.Child] = []
    tmp = Path(tempfile.mkdtemp(prefix="chain-withdrawals-bench-"))
    try:
        children.append(procs.start_redis())
        children.append(procs.start_mongo())
        redis_url, mongo_url = children[0].url, children[1].url
        for name in ("player", "service"):
            tokens.generate_keypair(tmp, name)
        base = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
        chain_port = procs.free_port()
        chain = _start(["chain", "--port", str(chain_port)], {**base, "ELYSIUM_CHAIN_STATE_DIR": str(tmp / "chain"),
                                                              "ELYSIUM_LOG_LEVEL": "warning"})
        children.append(procs.Child("chain", chain, f"http://127.0.0.1:{chain_port}"))
        from commerce.cli import embedded_chain_env

        port = procs.free_port()
        db_name = f"bench_{uuid.uuid4().hex[:6]}"
        env = {**base, "ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_COMMERCE_DB": db_name,
               "ELYSIUM_PLAYER_PRIVATE_KEY_FILE": str(tmp / "player.key"),
               "ELYSIUM_SERVICE_PUBLIC_KEY_FILE": str(tmp / "service.pub"),
               "ELYSIUM_ARGON2_MEMORY_KIB": "1024", "ELYSIUM_ARGON2_TIME_COST": "1",
               "ELYSIUM_COMMERCE_MONGO_TIMEOUT_S": "60", "ELYSIUM_COMMERCE_REWARDS": "false",
               "ELYSIUM_LOG_LEVEL": "warning", "ELYSIUM_CHAIN_URL": f"http://127.0.0.1:{chain_port}",
               **embedded_chain_env(tmp / "chain")}
        proc = _start(["commerce", "--port", str(port)], env)
        children.append(procs.Child("commerce", proc, f"http://127.0.0.1:{port}"))
        report = asyncio.run(_bench(f"http://127.0.0.1:{port}", mongo_url, db_name, args.players, args.withdrawals))
        print(json.dumps(report))
        return 0 if report["withdraw"]["failed"] == 0 else 1
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
