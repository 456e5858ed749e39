"""The spectator feed writer against a real Redis: entries, expiry, and how often it refreshes it."""

from __future__ import annotations

import redis.asyncio as aioredis

from elysium import keys
from elysium.feeds import MatchInfo
from elysium.feeds.redis_feed import RedisFeedWriter


async def expire_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_expire", {}).get("calls", 0))


async def test_feeds_get_their_retention_once_per_refresh_period_not_per_flush(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        writer = RedisFeedWriter(client, maxlen=1000, retention_s=600)
        await client.config_resetstat()
        for tick in range(1, 51):
            writer.append("m1", "d", tick, b"delta")
            writer.append("m2", "d", tick, b"delta")
            writer.kick()
            await writer.drain()
        assert await client.xlen(keys.match_feed("m1")) == 50
        assert 590 <= await client.ttl(keys.match_feed("m1")) <= 600
        assert 590 <= await client.ttl(keys.match_feed("m2")) <= 600
        assert await expire_calls(client) == 2  # one per feed, not one per feed per flush

        # A match that ends is described as not live: its feed's expiry is set with it.
        writer.describe("m1", MatchInfo(match_id="m1", state="finished"), live=False)
        writer.append("m1", "end", 51, b"keyframe")
        writer.kick()
        await writer.drain()
        assert await expire_calls(client) == 4  # the info hash and the feed
        assert "m1" not in writer._expired_at  # nothing kept for a match that is over
    finally:
        await client.aclose()


async def test_a_refused_command_costs_only_itself_and_the_connection_stays_in_step(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        writer = RedisFeedWriter(client, maxlen=1000, retention_s=600)
        await client.set(keys.match_feed("broken"), "not a stream")  # every XADD to it is refused
        for tick in range(1, 4):
            writer.append("ok", "d", tick, b"delta")
            writer.append("broken", "d", tick, b"delta")
        writer.kick()
        await writer.drain()
        assert writer.errors == 3
        assert await client.xlen(keys.match_feed("ok")) == 3
        # The next flush reads its own replies, not ones left over from the first.
        writer.append("ok", "d", 4, b"delta")
        writer.describe("ok", MatchInfo(match_id="ok", state="running", tick=4), live=True)
        writer.kick()
        await writer.drain()
        assert writer.errors == 3
        entries = await client.xrange(keys.match_feed("ok"))
        assert [int(fields[b"n"]) for _, fields in entries or [] if fields] == [1, 2, 3, 4]
        assert await client.hget(keys.match_info("ok"), "tick") == b"4"
    finally:
        await client.delete(keys.match_feed("broken"), keys.match_feed("ok"), keys.match_info("ok"))
        await client.aclose()
