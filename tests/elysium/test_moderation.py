"""The moderation kernel against a real Redis: state, ends, the event stream and its follower."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from elysium import keys, moderation, redisclient, redisreply
from elysium.moderation import ModerationEvent, ModerationEventError, ModerationWatch
from tests.waiting import until

NOW = 1_800_000_000_000


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = redisclient.connect(redis_url)
    yield client
    await client.aclose()


def ban(player: str, until_ms: int | None = None, action_id: str = "a1") -> ModerationEvent:
    return ModerationEvent("ban", player, until_ms, action_id, NOW)


async def test_a_ban_holds_until_it_ends_and_an_unban_lifts_it(redis: aioredis.Redis) -> None:
    assert not await moderation.is_banned(redis, "p1", now_ms=NOW)
    await moderation.publish(redis, ban("p1", NOW + 60_000), now_ms=NOW)
    await moderation.publish(redis, ban("p2"), now_ms=NOW)
    assert await moderation.is_banned(redis, "p1", now_ms=NOW + 59_999)
    assert not await moderation.is_banned(redis, "p1", now_ms=NOW + 60_000)
    assert await moderation.is_banned(redis, "p2", now_ms=NOW + 10**12)  # until lifted
    assert await moderation.banned_among(redis, ["p1", "p2", "p3", "p1"], now_ms=NOW) == {"p1", "p2"}
    assert await moderation.active(redis, "ban", now_ms=NOW) == {"p1": NOW + 60_000, "p2": None}
    await moderation.publish(redis, ModerationEvent("unban", "p2", None, "a2", NOW), now_ms=NOW)
    assert not await moderation.is_banned(redis, "p2", now_ms=NOW)
    assert not await moderation.is_muted(redis, "p1", now_ms=NOW)  # a ban is not a mute


async def test_mutes_are_kept_apart_from_bans(redis: aioredis.Redis) -> None:
    await moderation.publish(redis, ModerationEvent("mute", "p1", NOW + 1000, "m1", NOW), now_ms=NOW)
    assert await moderation.is_muted(redis, "p1", now_ms=NOW)
    assert not await moderation.is_banned(redis, "p1", now_ms=NOW)
    await moderation.publish(redis, ModerationEvent("unmute", "p1", None, "m2", NOW), now_ms=NOW)
    assert not await moderation.is_muted(redis, "p1", now_ms=NOW)


async def test_every_write_trims_ended_members(redis: aioredis.Redis) -> None:
    await moderation.publish(redis, ban("old", NOW + 10), now_ms=NOW)
    await moderation.publish(redis, ban("new"), now_ms=NOW + 20)
    assert await redis.zscore(keys.MODERATION_BANNED, "old") is None
    assert await redis.zcard(keys.MODERATION_BANNED) == 1


async def test_each_change_is_one_stream_entry_that_parses_back(redis: aioredis.Redis) -> None:
    first = ban("p1", NOW + 5, "a1")
    await moderation.publish(redis, first, now_ms=NOW)
    entries = redisreply.stream_entries(await redis.xrange(keys.MODERATION_EVENTS))
    assert len(entries) == 1
    assert ModerationEvent.parse(entries[0][1]) == first


@pytest.mark.parametrize("fields", [
    {b"action": b"smite", b"player": b"p", b"until_ms": b"", b"id": b"x", b"at_ms": b"1"},
    {b"action": b"ban", b"player": b"", b"until_ms": b"", b"id": b"x", b"at_ms": b"1"},
    {b"action": b"unban", b"player": b"p", b"until_ms": b"5", b"id": b"x", b"at_ms": b"1"},
    {b"action": b"ban", b"player": b"p", b"until_ms": b"soon", b"id": b"x", b"at_ms": b"1"},
    {b"action": b"ban", b"player": b"p", b"id": b"x", b"at_ms": b"1"},
])
def test_an_entry_that_is_not_an_event_is_refused(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(ModerationEventError):
        ModerationEvent.parse(fields)


async def test_the_watch_loads_the_state_then_follows_each_event(redis: aioredis.Redis) -> None:
    await moderation.publish(redis, ban("before"))
    seen: list[ModerationEvent] = []
    resyncs: list[frozenset[str]] = []

    async def on_event(event: ModerationEvent) -> None:
        assert watch.banned(event.player) == (event.action == "ban")  # applied before the callback
        seen.append(event)

    async def on_resync(banned: frozenset[str]) -> None:
        resyncs.append(banned)

    watch = ModerationWatch(redis, on_event=on_event, on_resync=on_resync, block_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    try:
        await until(lambda: resyncs, what="the first load")
        assert resyncs == [frozenset({"before"})]
        assert watch.banned("before") and not seen  # the ban before the start is state, not an event
        await moderation.publish(redis, ban("later", action_id="a2"))
        await moderation.publish(redis, ModerationEvent("mute", "talker", None, "a3", NOW))
        await moderation.publish(redis, ModerationEvent("unban", "before", None, "a4", NOW))
        await until(lambda: len(seen) == 3, what="three events")
        assert [e.action for e in seen] == ["ban", "mute", "unban"]
        assert watch.banned("later") and not watch.banned("before") and watch.muted("talker")
    finally:
        stop.set()
        await task


async def test_a_watch_whose_connection_died_goes_on(redis: aioredis.Redis) -> None:
    resyncs: list[frozenset[str]] = []

    async def on_resync(banned: frozenset[str]) -> None:
        resyncs.append(banned)

    watch = ModerationWatch(redis, on_resync=on_resync, block_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    try:
        await until(lambda: resyncs, what="the first load")
        await redis.client_kill_filter(_type="normal", skipme=True)  # every other connection dies
        await moderation.publish(redis, ban("while-away"))
        await until(lambda: watch.banned("while-away"), what="the ban seen")
    finally:
        stop.set()
        await task


async def test_a_ban_made_while_no_watch_ran_is_handed_to_the_next_resync(redis: aioredis.Redis) -> None:
    await moderation.publish(redis, ban("gone", int(time.time() * 1000) - 1000))  # already over
    await moderation.publish(redis, ban("meanwhile"))
    resyncs: list[frozenset[str]] = []

    async def on_resync(banned: frozenset[str]) -> None:
        resyncs.append(banned)

    watch = ModerationWatch(redis, on_resync=on_resync)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    try:
        await until(lambda: resyncs, what="the first load")
        assert resyncs == [frozenset({"meanwhile"})]
    finally:
        stop.set()
        await task


async def test_a_reaction_that_raises_does_not_stop_the_watch(redis: aioredis.Redis) -> None:
    seen: list[str] = []

    async def on_event(event: ModerationEvent) -> None:
        seen.append(event.player)
        if event.player == "bad":
            raise RuntimeError("a bug in one reaction")

    watch = ModerationWatch(redis, on_event=on_event, block_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    try:
        await until(lambda: watch.ready.is_set(), what="the first load")
        await moderation.publish(redis, ban("bad"))
        await moderation.publish(redis, ban("good"))
        await until(lambda: seen == ["bad", "good"], what="both events")
    finally:
        stop.set()
        await task
