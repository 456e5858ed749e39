"""Presence on a real Redis: states, priority, expiry, guarded clears, and the pure parts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from elysium import keys, presence
from elysium.presence import MatchPresence, Presence, State


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_nobody_is_offline(redis: aioredis.Redis) -> None:
    assert await presence.read(redis, "a") == presence.OFFLINE
    assert await presence.read_many(redis, []) == {}


async def test_the_most_specific_live_state_wins(redis: aioredis.Redis) -> None:
    await presence.set_state(redis, ["a", "b", "c"], State.ONLINE, 60, now_ms=1)
    await presence.set_state(redis, ["b", "c"], State.IN_QUEUE, 60, now_ms=2)
    await presence.set_state(redis, ["c"], State.WATCHING, 60, match_id="m0", now_ms=3)
    await presence.set_state(redis, ["c"], State.IN_MATCH, 60, match_id="m1", now_ms=4)
    seen = await presence.read_many(redis, ["a", "b", "c", "d"])
    assert seen == {"a": Presence(State.ONLINE, None, 1), "b": Presence(State.IN_QUEUE, None, 2),
                    "c": Presence(State.IN_MATCH, "m1", 4), "d": presence.OFFLINE}
    assert seen["c"].body() == {"state": "in_match", "match_id": "m1", "watch": "/v1/watch/m1", "since_ms": 4}
    await presence.clear_state(redis, ["c"], State.IN_MATCH)
    assert (await presence.read(redis, "c")).state == State.IN_QUEUE


async def test_every_state_expires(redis: aioredis.Redis) -> None:
    await presence.set_state(redis, ["a"], State.ONLINE, 30)
    ttl = await redis.ttl(keys.presence("a", "online"))
    assert 0 < ttl <= 30


async def test_a_clear_for_an_old_match_keeps_the_new_one(redis: aioredis.Redis) -> None:
    await presence.set_state(redis, ["a", "b"], State.IN_MATCH, 60, match_id="new")
    await presence.clear_state(redis, ["a", "b"], State.IN_MATCH, match_id="old")
    assert (await presence.read(redis, "a")).match_id == "new"
    await presence.clear_state(redis, ["a"], State.IN_MATCH, match_id="new")
    assert await presence.read(redis, "a") == presence.OFFLINE
    assert (await presence.read(redis, "b")).match_id == "new"


async def test_writes_join_a_callers_pipeline(redis: aioredis.Redis) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set("other", "1")
        presence.queue_set(pipe, ["a"], State.WATCHING, 60, match_id="m")
        presence.queue_clear(pipe, ["b"], State.ONLINE)
        await pipe.execute()
    assert (await presence.read(redis, "a")).match_id == "m"


def test_states_and_match_ids_must_go_together() -> None:
    with pytest.raises(presence.PresenceError):
        presence._value(State.IN_MATCH, None, 1)
    with pytest.raises(presence.PresenceError):
        presence._value(State.ONLINE, "m", 1)
    with pytest.raises(presence.PresenceError):
        presence._value(State.OFFLINE, None, 1)
    with pytest.raises(presence.PresenceError):
        presence._ttl(0)


def test_unreadable_values_are_ignored() -> None:
    assert presence.strongest({State.IN_MATCH: b"not json", State.ONLINE: b'{"match_id":null,"since_ms":5}'}) \
        == Presence(State.ONLINE, None, 5)
    assert presence.strongest({State.IN_MATCH: b'{"match_id":null,"since_ms":5}'}) == presence.OFFLINE
    assert presence.strongest({State.ONLINE: b"[]"}) == presence.OFFLINE


async def test_too_many_players_at_once_is_refused(redis: aioredis.Redis) -> None:
    with pytest.raises(presence.PresenceError):
        await presence.read_many(redis, [str(i) for i in range(presence.MAX_READ + 1)])


async def test_the_batched_writer_renews_and_ignores_a_stale_leave(redis: aioredis.Redis) -> None:
    now = [0.0]
    writer = MatchPresence(redis, State.IN_MATCH, 30.0, clock=lambda: now[0])
    writer.joined("p", "m1")
    writer.joined("q", "m1")
    assert await presence.read(redis, "p") == presence.OFFLINE  # nothing is written before the flush
    await writer.flush()
    assert (await presence.read(redis, "p")).match_id == "m1" and writer.pending == 0
    writer.left("p", "m1")
    writer.joined("p", "m2")  # straight into the next match before the heartbeat
    writer.left("p", "m1")  # a late clean-up of the old match changes nothing
    await writer.flush()
    assert (await presence.read(redis, "p")).match_id == "m2"
    await redis.delete(keys.presence("q", "in_match"))  # as if it expired
    now[0] += 11.0  # past a third of the expiry: everyone seated is set again
    await writer.flush()
    assert (await presence.read(redis, "q")).match_id == "m1"


def test_the_batched_writer_is_for_states_with_a_match(redis_url: str) -> None:
    with pytest.raises(presence.PresenceError):
        presence.MatchPresence(aioredis.Redis.from_url(redis_url), State.ONLINE, 30.0)
