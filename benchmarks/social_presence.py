"""Social kernel benchmark: what a friends list and a chat or invite check cost in Redis.

    .venv/bin/python benchmarks/social_presence.py [--players 20000] [--friends 200] [--seconds 5] [--clients 8]

Starts its own Redis. Writes ``--players`` mirrors (``elysium.social.write_graph``, each with
``--friends`` friends) and a presence for every player (a quarter each online, in a queue, in a
match, watching), then for ``--seconds`` each, with ``--clients`` concurrent callers:

- ``read_many``: one friends list's presence (``elysium.presence.read_many`` of ``--friends`` players,
  one MGET), what ``GET /v1/me/friends`` adds to its MongoDB reads;
- ``checks``: ``are_friends`` plus ``blocked_between`` for a random pair, what a direct message or
  an invitation checks before it is sent.

Prints one JSON line: calls per second and p50/p99 latency (ms) of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from elysium import presence, procs, redisclient, social
from elysium.presence import State


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3) if ordered else float("nan")


async def fill(client: aioredis.Redis, players: list[str], friends: int) -> None:
    rng = random.Random(7)
    for start in range(0, len(players), 500):
        for p in players[start:start + 500]:
            await social.write_graph(client, p, rng.sample(players, friends), rng.sample(players, 3))
    states = [State.ONLINE, State.IN_QUEUE, State.IN_MATCH, State.WATCHING]
    for i, state in enumerate(states):
        group = players[i::4]
        for start in range(0, len(group), 1000):
            await presence.set_state(client, group[start:start + 1000], state, 3600,
                                     match_id="m-1" if state in presence.WITH_MATCH else None)


async def measure(call: Callable[[random.Random], Awaitable[object]], seconds: float, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            began = time.perf_counter()
            await call(rng)
            latencies.append(time.perf_counter() - began)

    began = time.monotonic()
    await asyncio.gather(*[worker(n) for n in range(clients)])
    took = time.monotonic() - began
    return {"calls_per_s": round(len(latencies) / took, 1), "p50_ms": pct(latencies, 0.5),
            "p99_ms": pct(latencies, 0.99), "calls": len(latencies)}


async def main(args: argparse.Namespace) -> dict[str, object]:
    server = procs.start_redis()
    client = redisclient.connect(server.url)
    try:
        players = [f"{n:032x}" for n in range(args.players)]
        began = time.monotonic()
        await fill(client, players, args.friends)
        filled_s = time.monotonic() - began

        async def friends_list(rng: random.Random) -> object:
            return await presence.read_many(client, rng.sample(players, args.friends))

        async def checks(rng: random.Random) -> object:
            a, b = rng.choice(players), rng.choice(players)
            return await social.are_friends(client, a, b) or await social.blocked_between(client, a, b)

        return {"players": args.players, "friends": args.friends, "clients": args.clients, "fill_s": round(filled_s, 1),
                "read_many": await measure(friends_list, args.seconds, args.clients),
                "checks": await measure(checks, args.seconds, args.clients)}
    finally:
        await client.aclose()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", type=int, default=20_000)
    parser.add_argument("--friends", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
