"""The social graph mirror on a real Redis: reads, the commerce writers, and a missing mirror."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from elysium import keys, social


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_written_graph_reads_back(redis: aioredis.Redis) -> None:
    await social.write_graph(redis, "a", ["b", "c"], ["d"])
    await social.write_graph(redis, "b", ["a"], [])
    assert await social.friends_of(redis, "a") == {"b", "c"}
    assert await social.blocked_by(redis, "a") == {"d"}
    assert await social.are_friends(redis, "a", "b")
    assert not await social.are_friends(redis, "a", "d")
    assert not await social.are_friends(redis, "a", "a")
    assert await social.blocked_between(redis, "a", "d")
    assert await social.blocked_between(redis, "d", "a")  # either direction
    assert not await social.blocked_between(redis, "a", "b")
    assert await social.is_mirrored(redis, "a") and await social.is_mirrored(redis, "b")


async def test_an_empty_graph_differs_from_a_missing_one(redis: aioredis.Redis) -> None:
    assert not await social.is_mirrored(redis, "a")
    await social.write_graph(redis, "a", [], [])
    assert await social.is_mirrored(redis, "a")
    assert await social.friends_of(redis, "a") == set()
    await social.forget(redis, "a")
    assert not await social.is_mirrored(redis, "a")


async def test_writing_a_graph_replaces_the_old_one(redis: aioredis.Redis) -> None:
    await social.write_graph(redis, "a", ["b", "c"], ["d"])
    await social.write_graph(redis, "a", ["e"], [])
    assert await social.friends_of(redis, "a") == {"e"}
    assert await social.blocked_by(redis, "a") == set()


async def test_incremental_writes_touch_both_players(redis: aioredis.Redis) -> None:
    for p in ("a", "b"):
        await social.write_graph(redis, p, [], [])
    await social.befriend(redis, "a", "b")
    assert await social.are_friends(redis, "a", "b") and await social.are_friends(redis, "b", "a")
    await social.unfriend(redis, "b", "a")
    assert not await social.are_friends(redis, "a", "b") and not await social.are_friends(redis, "b", "a")
    await social.befriend(redis, "a", "b")
    await social.block(redis, "b", "a")
    assert await social.blocked_between(redis, "a", "b")
    assert await social.friends_of(redis, "a") == set() and await social.friends_of(redis, "b") == set()
    await social.unblock(redis, "b", "a")
    assert not await social.blocked_between(redis, "a", "b")


async def test_an_incremental_write_never_makes_a_half_mirror(redis: aioredis.Redis) -> None:
    await social.write_graph(redis, "a", [], [])
    await social.befriend(redis, "a", "b")  # b has no mirror
    await social.block(redis, "c", "a")  # neither has c
    assert await social.are_friends(redis, "a", "b")
    assert not await redis.exists(keys.social_friends("b"))
    assert not await redis.exists(keys.social_blocks("c"))
    assert not await social.is_mirrored(redis, "b") and not await social.is_mirrored(redis, "c")


async def test_a_pair_is_written_whole(redis: aioredis.Redis) -> None:
    for p in ("a", "b"):
        await social.write_graph(redis, p, [], [])
    await social.write_pair(redis, "a", "b", friends=True, a_blocks_b=False, b_blocks_a=False)
    assert await social.are_friends(redis, "b", "a")
    await social.write_pair(redis, "a", "b", friends=False, a_blocks_b=False, b_blocks_a=True)
    assert not await social.are_friends(redis, "a", "b")
    assert await social.blocked_by(redis, "b") == {"a"} and await social.blocked_by(redis, "a") == set()
    await social.write_pair(redis, "b", "c", friends=True, a_blocks_b=False, b_blocks_a=False)  # c: no mirror
    assert await social.friends_of(redis, "b") == {"c"} and not await social.is_mirrored(redis, "c")
