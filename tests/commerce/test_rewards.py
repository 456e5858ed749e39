"""Match rewards from the real results stream: exactly once per (match, player), across replicas and crashes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from commerce import rules
from commerce.rewards import Backoff
from commerce.app import read_catalog
from commerce.appkeys import STATUS, STORE
from commerce.settings import DEFAULT_CATALOG
from elysium import keys, matchids, redisreply
from elysium.results import MatchResult, PlayerRow
from gameserver.client import GameClient
from gameserver.redisio import ResultsWriter
from gameserver.server import GameServer
from tests.commerce.conftest import make_settings, register
from tests.gameserver.conftest import game_server, mint, server_factory, url  # noqa: F401 (fixtures)

ARENA = rules.parse_rules(read_catalog(DEFAULT_CATALOG).rewards["arena"])


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def result(match_id: str, players: list[tuple[str, int, int]]) -> MatchResult:
    """A free-for-all result as the game server builds it; players as (id, score, kills), best first."""
    return MatchResult.create(
        match_id=match_id, mode="arena", seed=1, server_id="test-gs-1", reason="score", ticks=400, duration_s=20.0,
        started_at_us=1, ended_at_us=2, teams=0,
        players=[PlayerRow(player_id=pid, seat=i, name=pid, team=0, score=s, time_played_s=20.0,
                           stats={"kills": k, "deaths": 0}) for i, (pid, s, k) in enumerate(players)])


def expected(res: MatchResult) -> dict[str, rules.Reward]:
    return {r.player_id: r for r in rules.rewards_for(MatchResult.parse(res.encode()), ARENA)}


async def test_results_are_granted_once_and_bad_entries_change_nothing(client: Any, redis_url: str) -> None:
    a, b = await register(client), await register(client)
    redis = aioredis.from_url(redis_url)
    writer = ResultsWriter(redis)
    store = client.app[STORE]
    consumer = client.app[STATUS].consumer
    try:
        res = result("match-1", [(a["account_id"], 3, 3), (b["account_id"], 1, 1), ("bot-not-an-account", 0, 0)])
        assert await writer.write(res)
        assert not await writer.write(res)  # the writer's own marker keeps it to one entry
        await wait_for(lambda: _count(store.rewards, {"match_id": "match-1"}, 3))
        want = expected(res)
        for p in (a, b):
            bal = (await (await client.get("/v1/me/wallet", headers=p["headers"])).json())["balances"]
            assert bal["soft"] == 500 + want[p["account_id"]].amount
            crates = await store.items.count_documents({"owner": p["account_id"], "type": "arena-crate"})
            assert crates == len(want[p["account_id"]].items)
        assert want[a["account_id"]].amount == 10 + 9 + 6 + 25
        ghost = await store.rewards.find_one({"player_id": "bot-not-an-account"})
        assert ghost["status"] == "no_account"
        ledger_before = await store.ledger.count_documents({})

        # The same match again as a second stream entry, and entries that cannot be read.
        await redis.xadd(keys.RESULTS_STREAM, {f: v for f, v in res.entry().items()})  # as redis-py types a field map
        await redis.xadd(keys.RESULTS_STREAM, {"match_id": "junk", "result": "{not json"})
        await redis.xadd(keys.RESULTS_STREAM, {"match_id": "junk2", "result": json.dumps({"match_id": 5})})
        await redis.xadd(keys.RESULTS_STREAM, {"nothing": "here"})
        # A whole result but for one bad stat: refused as a whole, nothing paid.
        bad = json.loads(result("match-bad", [(a["account_id"], 3, 3)]).encode())
        bad["players"][0]["kills"] = "3"
        await redis.xadd(keys.RESULTS_STREAM, {"match_id": "match-bad", "result": json.dumps(bad)})
        await wait_for(lambda: _acked(redis, 0, consumer, 2, 4))
        assert await store.ledger.count_documents({}) == ledger_before
        assert consumer.duplicates == 3 and consumer.rejected == 4
        metrics = await (await client.get("/metrics")).text()
        assert "elysium_commerce_rewards_duplicates_total 3.0" in metrics
    finally:
        await redis.aclose()


async def test_an_unranked_custom_game_pays_nothing_and_a_ranked_one_pays(client: Any, redis_url: str) -> None:
    a, b = await register(client), await register(client)
    redis = aioredis.from_url(redis_url)
    writer = ResultsWriter(redis)
    store = client.app[STORE]
    consumer = client.app[STATUS].consumer
    try:
        house = matchids.custom_match_id("H0USE1", "arena")  # the host may have set a one-second time limit
        ranked = matchids.custom_match_id("RANKD1", "arena", ranked=True)  # the queue mode's own settings
        assert await writer.write(result(house, [(a["account_id"], 3, 3), (b["account_id"], 1, 1)]))
        assert await writer.write(result(ranked, [(a["account_id"], 3, 3), (b["account_id"], 1, 1)]))
        await wait_for(lambda: _count(store.rewards, {"match_id": ranked}, 2))
        await wait_for(lambda: _acked(redis, 0, consumer, 2, 0))
        assert await store.rewards.count_documents({"match_id": house}) == 0
        want = expected(result(ranked, [(a["account_id"], 3, 3), (b["account_id"], 1, 1)]))
        bal = (await (await client.get("/v1/me/wallet", headers=a["headers"])).json())["balances"]
        assert bal["soft"] == 500 + want[a["account_id"]].amount  # the ranked game's reward, once
    finally:
        await redis.aclose()


async def _count(collection: Any, query: dict[str, Any], n: int) -> bool:
    return bool(await collection.count_documents(query) >= n)


async def _acked(redis: aioredis.Redis, pending: int, consumer: Any, processed: int, rejected: int) -> bool:
    info = await redis.xpending(keys.RESULTS_STREAM, "commerce-rewards")
    return bool(info["pending"] == pending and consumer.processed >= processed and consumer.rejected >= rejected)


async def test_several_replicas_and_a_crashed_one_grant_each_reward_once(
        client_for: Any, mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> None:
    redis = aioredis.from_url(redis_url)
    writer = ResultsWriter(redis)
    try:
        first = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name="r1"))
        players = [await register(first) for _ in range(4)]
        ids = [p["account_id"] for p in players]
        # A replica reads results and dies before acknowledging them.
        await first.close()
        results = [result(f"m-{i}", [(ids[(i + j) % 4], 4 - j, 3 - j) for j in range(4)]) for i in range(12)]
        for res in results[:5]:
            await writer.write(res)
        taken = await redis.xreadgroup("commerce-rewards", "crashed", {keys.RESULTS_STREAM: ">"}, count=5)
        assert len(redisreply.stream_reads(taken)[0][1]) == 5
        # Two live replicas; more results arrive while they run.
        r2 = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name="r2"))
        r3 = await client_for(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir, consumer_name="r3"))
        for res in results[5:]:
            await writer.write(res)
        store = r2.app[STORE]
        await wait_for(lambda: _count(store.rewards, {}, 12 * 4))
        await wait_for(lambda: _acked(redis, 0, r2.app[STATUS].consumer, 0, 0))
        totals = {pid: 500 for pid in ids}
        for res in results:
            for pid, reward in expected(res).items():
                totals[pid] += reward.amount
        for p in players:
            bal = (await (await r3.get("/v1/me/wallet", headers=p["headers"])).json())["balances"]
            assert bal["soft"] == totals[p["account_id"]]
        assert await store.ledger.count_documents({"kind": "reward"}) == 12 * 4
        work = [r2.app[STATUS].consumer.processed, r3.app[STATUS].consumer.processed]
        assert sum(work) >= 12  # every entry was acknowledged by one of the live replicas
    finally:
        await redis.aclose()


async def test_a_real_match_on_a_real_game_server_pays_its_players(client: Any, game_server: GameServer,
                                                                   mint: Any) -> None:
    a, b = await register(client), await register(client)
    match = f"duel-{uuid.uuid4().hex[:6]}"
    ca, cb = GameClient(url(game_server)), GameClient(url(game_server))
    wa = await ca.join(mint(a["account_id"], match, seats=2, score_limit=1, time_limit_s=30, seed=3))
    wb = await cb.join(mint(b["account_id"], match, seats=2, score_limit=1, time_limit_s=30, seed=3))

    async def reader(c: GameClient) -> None:
        while c.result is None:
            await c.recv(timeout=10)

    async def shooter(c: GameClient, target_seat: int) -> None:
        while c.result is None:
            me, them = c.replica.players.get(c.welcome["player"]), c.replica.players.get(target_seat)
            if me and them:
                dx, dy = them[0] - me[0], them[1] - me[1]
                dist = math.hypot(dx, dy) or 1.0
                speed = 1.0 if dist > 300 else 0.0
                await c.send_input(dx / dist * speed, dy / dist * speed, math.atan2(dy, dx), True)
            await asyncio.sleep(0.05)

    shooting = asyncio.create_task(shooter(ca, wb["player"]))
    try:
        await asyncio.wait_for(asyncio.gather(reader(ca), reader(cb)), 30)
    finally:
        shooting.cancel()
        await ca.close()
        await cb.close()
    store = client.app[STORE]
    await wait_for(lambda: _count(store.rewards, {"match_id": match}, 2))
    winner = await store.rewards.find_one({"match_id": match, "player_id": a["account_id"]})
    loser = await store.rewards.find_one({"match_id": match, "player_id": b["account_id"]})
    assert winner["status"] == loser["status"] == "granted"
    assert winner["amount"] == 10 + 3 + 2 + 25 and loser["amount"] == 10
    bal = (await (await client.get("/v1/me/wallet", headers=a["headers"])).json())["balances"]
    assert bal["soft"] == 500 + winner["amount"]


async def test_a_match_ended_by_shutdown_pays_what_was_earned_without_the_win_bonus(client: Any,
                                                                                     redis_url: str) -> None:
    a, b = await register(client), await register(client)
    redis = aioredis.from_url(redis_url)
    try:
        ended = dataclasses.replace(result("drained-1", [(a["account_id"], 3, 3), (b["account_id"], 1, 1)]),
                                    reason="shutdown")
        assert ended.winners() == {a["account_id"]}  # the standings name a leader; the match never decided it
        assert await ResultsWriter(redis).write(ended)
        store = client.app[STORE]
        await wait_for(lambda: _count(store.rewards, {"match_id": "drained-1"}, 2))
        paid = {r["player_id"]: r["amount"] async for r in store.rewards.find({"match_id": "drained-1"})}
        assert paid == {a["account_id"]: 10 + 9 + 6, b["account_id"]: 10 + 3 + 2}
        bal = (await (await client.get("/v1/me/wallet", headers=a["headers"])).json())["balances"]
        assert bal["soft"] == 500 + 25
    finally:
        await redis.aclose()


def test_the_consumer_backs_off_doubling_and_starts_again_after_a_good_round() -> None:
    """A round that succeeds resets the pause: before, once errors had doubled it to 5 s, every
    later error (a deadline under load, hours on) paused 5 s, and a storm's rewards lagged a minute."""
    backoff = Backoff(first_s=0.2, max_s=5.0)
    assert [backoff.failed() for _ in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    backoff.succeeded()
    assert backoff.failed() == 0.2
