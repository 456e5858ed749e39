"""Ratings in the embedded MongoDB server, updated exactly once per match from the results stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from elysium import keys as shared_keys
from elysium import redisreply
from elysium.results import MatchResult, PlayerRow
from gameserver.redisio import ResultsWriter
from matchmaker import keys
from matchmaker.modes import ModeConfig
from matchmaker.ratings import RatingBook
from matchmaker.results import ResultsConsumer, mode_of
from matchmaker.skill import Rating, RatingModel

MODES = {m.name: m for m in (ModeConfig("duel", max_players=2), ModeConfig("squads", teams=2, team_size=2,
                                                                                  max_players=4))}


def result(match_id: str, scores: dict[str, int], teams: dict[str, int] | None = None) -> MatchResult:
    players = [PlayerRow(player_id=p, seat=i, name=p, team=(teams or {}).get(p, 0), score=s, time_played_s=10.0,
                         stats={"kills": s, "deaths": 0}) for i, (p, s) in enumerate(scores.items())]
    players.sort(key=lambda r: -r.score)
    return MatchResult.create(match_id=match_id, mode="arena", seed=1, server_id="gs", reason="score", ticks=100,
                              duration_s=5.0, started_at_us=1, ended_at_us=2, teams=2 if teams else 0,
                              players=players)


@pytest.fixture
async def book(mongo_url: str, mongo_db_name: str) -> Any:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    yield RatingBook(client, mongo_db_name)
    await client.drop_database(mongo_db_name)
    await client.close()


def test_the_model_rewards_winners_and_balances_teams() -> None:
    model = RatingModel()
    new = model.rate(result("m", {"w": 3, "l": 1}), {})
    assert new["w"].mu > 25 > new["l"].mu and new["w"].sigma < Rating().sigma
    teams = model.rate(result("m", {"a": 3, "b": 0, "c": 1, "d": 1}, {"a": 0, "b": 0, "c": 1, "d": 1}), {})
    assert teams["a"].mu == teams["b"].mu > 25 > teams["c"].mu == teams["d"].mu
    assert model.rate(result("m", {"alone": 5}), {}) == {}


async def test_a_match_is_rated_once(book: RatingBook) -> None:
    r = result("duel.abc", {"alice": 2, "bob": 0})
    assert await book.apply("duel", r) is True
    first = await book.get("duel", "alice")
    assert await book.apply("duel", r) is False
    assert await book.get("duel", "alice") == first
    assert first is not None and first["matches"] == 1 and first["mu"] > 25
    ratings = await book.get_many("duel", ["alice", "bob", "carol"])
    assert ratings["alice"].mu > 25 > ratings["bob"].mu and ratings["carol"] == Rating()
    assert await book.apply("duel", result("duel.def", {"alice": 2, "bob": 1})) is True
    again = await book.get("duel", "alice")
    assert again is not None and again["matches"] == 2 and again["mu"] > first["mu"]


async def test_consumer_rates_each_result_once_across_restarts(book: RatingBook, redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    writer = ResultsWriter(client)
    try:
        first = ResultsConsumer(client, book, MODES, "mm-a", block_ms=10)
        await first.ensure_group()
        assert await writer.write(result("duel.one", {"a": 2, "b": 0}))
        assert await writer.write(result("demo-42", {"a": 0, "b": 2}))  # not made by the matchmaker
        assert await writer.write(result("duel.two", {"a": 2, "b": 1}))
        # mm-a receives all three and dies before acknowledging any of them.
        delivered = await client.xreadgroup(keys.RATINGS_GROUP, "mm-a", {shared_keys.RESULTS_STREAM: ">"}, count=10)
        assert len(redisreply.stream_reads(delivered)[0][1]) == 3
        # It had already stored the ratings of the first match when it died.
        assert await book.apply("duel", result("duel.one", {"a": 2, "b": 0}))
        # Another replica takes over what mm-a left pending.
        other = ResultsConsumer(client, book, MODES, "mm-b", claim_idle_s=0.0, block_ms=10)
        assert await other.claim_abandoned() == 3
        assert (other.applied, other.skipped) == (1, 1)
        pending = await client.xpending(shared_keys.RESULTS_STREAM, keys.RATINGS_GROUP)
        assert pending["pending"] == 0
        a = await book.get("duel", "a")
        assert a is not None and a["matches"] == 2
        # mm-a restarts: nothing is left for it, and new results flow.
        restarted = ResultsConsumer(client, book, MODES, "mm-a", block_ms=10)
        assert await restarted.poll("0") == 0
        assert await writer.write(result("duel.three", {"a": 0, "b": 2}))
        assert await restarted.poll(">") == 1 and restarted.applied == 1
        a = await book.get("duel", "a")
        assert a is not None and a["matches"] == 3
    finally:
        await client.aclose()


async def test_unreadable_entries_are_acknowledged_and_skipped(book: RatingBook, redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        consumer = ResultsConsumer(client, book, MODES, "mm-a", block_ms=10)
        await consumer.ensure_group()
        await client.xadd(shared_keys.RESULTS_STREAM, {"match_id": "x", "result": "{not json"})
        # A duel result with one bad field is refused whole by the kernel's parser: nobody is rated.
        bad = json.loads(result("duel.bad", {"a": 2, "b": 0}).encode())
        bad["players"][1]["score"] = "0"
        await client.xadd(shared_keys.RESULTS_STREAM, {"match_id": "duel.bad", "result": json.dumps(bad)})
        assert await consumer.poll(">") == 2 and consumer.skipped == 2 and consumer.applied == 0
        assert (await client.xpending(shared_keys.RESULTS_STREAM, keys.RATINGS_GROUP))["pending"] == 0
        assert await book.get("duel", "a") is None
    finally:
        await client.aclose()


def test_match_ids_name_their_queue_mode() -> None:
    assert mode_of("duel.0123", MODES) == "duel"
    assert mode_of("nomode.0123", MODES) is None
    assert mode_of("duel", MODES) is None
