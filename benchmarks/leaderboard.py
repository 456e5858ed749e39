"""Leaderboard benchmark: rank lookups per second and their p99 at a million rated players, and
the time to rebuild the Redis index from MongoDB.

    .venv/bin/python benchmarks/leaderboard.py [--players 1000000] [--mongo-players N] [--seconds 10]
                                               [--processes 2] [--concurrency 32]

Starts its own Redis and embedded MongoDB server. Seeds ``season_ratings`` in MongoDB in bulk
(``insert_many``, 10,000 documents a call) with ``--mongo-players`` standings (default: all of
them) and times :meth:`Leaderboard.rebuild` from it; the rest, if any, are written straight
to the index in bulk with the same version-checked script the results path uses. Then
``--processes`` client processes, each with ``--concurrency`` lookups in flight, look up
random players' ranks for ``--seconds`` through the adapter the HTTP routes use
(``Leaderboard.around``: one script call checks that the index is whole and answers), once
with the rank alone and once with five neighbours on each side (``/me``'s Redis part), and
reads from Redis's command statistics what each lookup cost Redis itself.
Prints one JSON line; docs/benchmarks.md (Leaderboards) records it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from elysium import procs
from matchmaker import keys
from matchmaker.leaderboard import Leaderboard

MODE, SEASON = "arena", "bench"
SEED_BATCH = 10_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3) if ordered else float("nan")


async def script_cost(client: aioredis.Redis) -> float | None:
    """Microseconds Redis spent per script call since the last stats reset (its own cost, without
    the network and the client)."""
    stats = await client.info("commandstats")
    row = stats.get("cmdstat_evalsha")
    return round(float(row["usec_per_call"]), 2) if isinstance(row, dict) else None


def standing(i: int, rng: random.Random) -> dict[str, Any]:
    mu = rng.gauss(25.0, 6.0)
    sigma = rng.uniform(1.0, 8.33)
    matches = rng.randint(1, 400)
    pid = f"p{i:07d}"
    return {"_id": f"{MODE}:{SEASON}:{pid}", "mode": MODE, "season": SEASON, "player_id": pid, "name": pid,
            "mu": mu, "sigma": sigma, "ordinal": mu - 3 * sigma, "matches": matches,
            "wins": rng.randint(0, matches), "v": 1}


async def seed_mongo(collection: Any, count: int, rng: random.Random) -> float:
    start = time.perf_counter()
    for first in range(0, count, SEED_BATCH):
        await collection.insert_many([standing(i, rng) for i in range(first, min(count, first + SEED_BATCH))],
                                     ordered=False)
    return time.perf_counter() - start


async def seed_index(board: Leaderboard, first: int, count: int, rng: random.Random) -> float:
    start = time.perf_counter()
    for lo in range(first, first + count, SEED_BATCH):
        await board.write(MODE, SEASON, [standing(i, rng) for i in range(lo, min(first + count, lo + SEED_BATCH))],
                          only_when_live=False)
    return time.perf_counter() - start


async def _lookups(redis_url: str, mongo_url: str, players: int, seconds: float, concurrency: int,
                   neighbours: int, seed: int) -> tuple[list[float], float]:
    client = aioredis.from_url(redis_url, max_connections=concurrency + 4)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    board = Leaderboard(client, mongo["bench"]["season_ratings"])
    latencies: list[float] = []
    try:
        await board.rank(MODE, SEASON, "rating", "p0000000")  # scripts loaded, connections opened
        deadline = time.perf_counter() + seconds

        async def worker(n: int) -> None:
            rng = random.Random(seed * 1000 + n)
            while time.perf_counter() < deadline:
                pid = f"p{rng.randrange(players):07d}"
                t0 = time.perf_counter()
                await board.around(MODE, SEASON, "rating", pid, neighbours)
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*[worker(i) for i in range(concurrency)])
        return latencies, time.perf_counter() - t0
    finally:
        await client.aclose()
        await mongo.close()


def _lookups_process(*args: Any) -> tuple[list[float], float]:
    return asyncio.run(_lookups(*args))


def lookups(redis_url: str, mongo_url: str, players: int, seconds: float, concurrency: int, processes: int,
            neighbours: int) -> dict[str, Any]:
    """Rank lookups (with ``neighbours`` on each side) from ``processes`` client processes."""
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = list(pool.map(_lookups_process, *zip(*[(redis_url, mongo_url, players, seconds, concurrency,
                                                         neighbours, i) for i in range(processes)], strict=True)))
    latencies = [x for run, _ in runs for x in run]
    elapsed = max(e for _, e in runs)
    return {"lookups": len(latencies), "per_s": round(len(latencies) / elapsed), "p50_ms": pct(latencies, 0.5),
            "p99_ms": pct(latencies, 0.99), "client_processes": processes, "concurrency_each": concurrency}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    redis_child = procs.start_redis()
    mongo_child = procs.start_mongo()
    client = aioredis.from_url(redis_child.url)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_child.url)
    try:
        rng = random.Random(7)
        collection = mongo["bench"]["season_ratings"]
        board = Leaderboard(client, collection, lock_s=600)
        in_mongo = min(args.players, args.mongo_players if args.mongo_players is not None else args.players)
        seed_s = await seed_mongo(collection, in_mongo, rng)
        t0 = time.perf_counter()
        rebuilt = await board.rebuild(MODE, SEASON)
        rebuild_s = time.perf_counter() - t0
        direct_s = await seed_index(board, in_mongo, args.players - in_mongo, rng)
        size = int(await client.zcard(keys.leaderboard(MODE, SEASON, "rating")))
        memory = int((await client.info("memory"))["used_memory"])
        loop = asyncio.get_running_loop()
        phases = {}
        for name, neighbours in (("rank", 0), ("rank_with_10_neighbours", 5)):
            await client.config_resetstat()
            phases[name] = await loop.run_in_executor(None, lookups, redis_child.url, mongo_child.url, args.players,
                                                      args.seconds, args.concurrency, args.processes, neighbours)
            phases[name]["redis_us_per_lookup"] = await script_cost(client)
        rank, around = phases["rank"], phases["rank_with_10_neighbours"]
        return {"players": size, "mongo_players": in_mongo, "mongo_seed_s": round(seed_s, 1),
                "rebuild_s": round(rebuild_s, 1), "rebuilt": rebuilt,
                "rebuild_per_s": round(rebuilt / rebuild_s) if rebuild_s else None,
                "index_seed_s": round(direct_s, 1), "redis_used_mb": round(memory / 2**20),
                "rank": rank, "rank_with_10_neighbours": around}
    finally:
        await client.aclose()
        await mongo.close()
        mongo_child.stop()
        redis_child.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--mongo-players", type=int, default=None,
                        help="standings seeded in MongoDB and rebuilt from it (default: all)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32, help="lookups in flight per client process")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
