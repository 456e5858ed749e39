"""Commerce trade benchmark: trade accepts per second, beside store purchases in the same run.

    .venv/bin/python benchmarks/commerce_trades.py [--pairs 20] [--trades 15]

Starts its own Redis and embedded MongoDB server (or uses ELYSIUM_REDIS_URL and
ELYSIUM_MONGO_URL) and one ``elysium commerce`` child process. ``--pairs`` pairs of players;
each offerer makes ``--trades`` offers to its receiver (not timed), then every receiver accepts
its offers one after another, all receivers at once (timed). Two kinds of trade, then purchases:

* ``item_for_currency``: one item offered for 10 soft: the accept moves the item and pays the
  offerer, with no escrowed currency, so receivers never write the same wallet;
* ``currency_for_currency``: 10 soft offered for 1 premium: every accept also releases escrowed
  currency, so every accept writes the one ``escrow:soft`` wallet (the hot document);
* ``purchase``: the same number of concurrent players buy one item per request.

Prints one JSON line; docs/benchmarks.md (Commerce: trades) records it.
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
from hdrh.histogram import HdrHistogram

from elysium import procs, tokens


def _summary(latencies: list[float], done: int, failed: int, seconds: float) -> dict[str, Any]:
    hist = HdrHistogram(1, 60_000_000, 3)
    for s in latencies:
        hist.record_value(max(1, int(s * 1e6)))
    return {"done": done, "failed": failed, "seconds": round(seconds, 2), "per_s": round(done / seconds, 1),
            "p50_ms": round(hist.get_value_at_percentile(50) / 1000, 1),
            "p99_ms": round(hist.get_value_at_percentile(99) / 1000, 1)}


class Bench:
    def __init__(self, http: aiohttp.ClientSession, admin: str) -> None:
        self.http = http
        self.admin = admin

    async def player(self) -> dict[str, Any]:
        async with self.http.post("/v1/accounts", json={"username": f"t{uuid.uuid4().hex[:12]}",
                                                        "password": "benchmark password"}) as resp:
            body: dict[str, Any] = await resp.json()
        for currency in ("soft", "premium"):
            async with self.http.post("/v1/admin/grants", json={"account_id": body["account_id"], "currency": currency,
                                                                "amount": 10**8, "reason": "benchmark"},
                                      headers={"Authorization": f"Bearer {self.admin}",
                                               "Idempotency-Key": uuid.uuid4().hex}) as r:
                assert r.status == 201, await r.text()
        body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
        return body

    async def post(self, who: dict[str, Any], path: str, body: dict[str, Any] | None,
                   key: str | None = None) -> tuple[int, Any]:
        async with self.http.post(path, json=body, headers={**who["headers"],
                                                            "Idempotency-Key": key or uuid.uuid4().hex}) as resp:
            return resp.status, await resp.json()

    async def retried(self, who: dict[str, Any], path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        """Retry what the service says to retry (503), with the same Idempotency-Key."""
        key = uuid.uuid4().hex
        for _ in range(30):
            status, answer = await self.post(who, path, body, key)
            if status != 503:
                break
        return status, answer

    async def item(self, who: dict[str, Any]) -> str:
        status, body = await self.retried(who, "/v1/purchases", {"item_id": "health-potion", "currency": "soft"})
        assert status == 201, body
        item: str = body["items"][0]
        return item

    async def offers(self, pairs: list[tuple[dict[str, Any], dict[str, Any]]], n: int, kind: str) -> list[list[str]]:
        async def one_pair(offerer: dict[str, Any], receiver: dict[str, Any]) -> list[str]:
            made = []
            for _ in range(n):
                if kind == "item_for_currency":
                    terms = {"offer": {"items": [await self.item(offerer)]}, "request": {"currency": {"soft": 10}}}
                else:
                    terms = {"offer": {"currency": {"soft": 10}}, "request": {"currency": {"premium": 1}}}
                status, body = await self.retried(offerer, "/v1/trades", {"receiver_id": receiver["account_id"],
                                                                          **terms})
                assert status == 201, body
                made.append(body["trade_id"])
            return made

        return list(await asyncio.gather(*[one_pair(o, r) for o, r in pairs]))

    async def accepts(self, pairs: list[tuple[dict[str, Any], dict[str, Any]]],
                      trades: list[list[str]]) -> dict[str, Any]:
        latencies: list[float] = []
        done = failed = 0

        async def receiver(who: dict[str, Any], mine: list[str]) -> None:
            nonlocal done, failed
            for tid in mine:
                t0 = time.perf_counter()  # retries of a 503 are part of an accept's time
                status, _ = await self.retried(who, f"/v1/trades/{tid}/accept", None)
                latencies.append(time.perf_counter() - t0)
                done += status == 200
                failed += status != 200

        start = time.perf_counter()
        await asyncio.gather(*[receiver(r, mine) for (_, r), mine in zip(pairs, trades)])
        return _summary(latencies, done, failed, time.perf_counter() - start)

    async def purchases(self, buyers: list[dict[str, Any]], n: int) -> dict[str, Any]:
        latencies: list[float] = []
        done = failed = 0

        async def buyer(who: dict[str, Any]) -> None:
            nonlocal done, failed
            for _ in range(n):
                t0 = time.perf_counter()
                status, _ = await self.retried(who, "/v1/purchases", {"item_id": "health-potion", "currency": "soft"})
                latencies.append(time.perf_counter() - t0)
                done += status == 201
                failed += status != 201

        start = time.perf_counter()
        await asyncio.gather(*[buyer(b) for b in buyers])
        return _summary(latencies, done, failed, time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=20, help="pairs of players, and so concurrent receivers")
    parser.add_argument("--trades", type=int, default=15, help="offers per pair and kind")
    args = parser.parse_args()
    children: list[procs.Child] = []
    tmp = Path(tempfile.mkdtemp(prefix="commerce-trades-bench-"))
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
               "ELYSIUM_COMMERCE_MONGO_TIMEOUT_S": "60",
               "ELYSIUM_COMMERCE_REWARDS": "false", "ELYSIUM_LOG_LEVEL": "warning"}
        proc = subprocess.Popen([sys.executable, "-m", "elysium", "commerce", "--port", str(port)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        children.append(procs.Child("commerce", proc, f"http://127.0.0.1:{port}"))
        assert proc.stdout is not None
        json.loads(proc.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        admin = tokens.Signer(tokens.load_private_key(path=str(tmp / "service.key")), "bench").issue(
            "bench", tokens.SERVICE_AUDIENCE, 3600, {"scope": "commerce:admin"})

        async def run() -> dict[str, Any]:
            async with aiohttp.ClientSession(base_url=url, connector=aiohttp.TCPConnector(limit=200)) as http:
                bench = Bench(http, admin)
                players = [await bench.player() for _ in range(2 * args.pairs)]
                pairs = list(zip(players[::2], players[1::2]))
                report: dict[str, Any] = {"pairs": args.pairs, "trades_per_pair": args.trades}
                for kind in ("item_for_currency", "currency_for_currency"):
                    trades = await bench.offers(pairs, args.trades, kind)
                    report[kind] = await bench.accepts(pairs, trades)
                report["purchase"] = await bench.purchases([r for _, r in pairs], args.trades)
                for kind in ("item_for_currency", "currency_for_currency"):
                    report[f"{kind}_vs_purchase"] = round(report[kind]["per_s"] / report["purchase"]["per_s"], 2)
                return report

        print(json.dumps(asyncio.run(run())))
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
