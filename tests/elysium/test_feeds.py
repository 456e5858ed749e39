"""One contract for match feeds, run against every implementation (Redis and in memory)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from elysium import keys
from elysium.feeds import (
    DELTA,
    END,
    FEED_BUFFER_MAX,
    BadFeedEntry,
    KEYFRAME,
    FeedEntry,
    FeedKind,
    MatchFeedReader,
    MatchFeedWriter,
    MatchInfo,
)
from elysium.feeds.buffer import BufferedFeedWriter
from elysium.feeds.memory import MemoryFeeds
from elysium.feeds.redis_feed import RedisFeedReader, RedisFeedWriter

MAXLEN = 20


@dataclass
class Backend:
    name: str
    writer: MatchFeedWriter
    reader: MatchFeedReader
    client: aioredis.Redis | None = None
    store: MemoryFeeds | None = None

    async def delete(self, match_id: str) -> None:
        if self.client is not None:
            await self.client.delete(keys.match_feed(match_id))
        else:
            assert self.store is not None
            self.store.delete(match_id)

    async def write(self, match_id: str, *entries: tuple[FeedKind, int, bytes]) -> None:
        for kind, tick, data in entries:
            self.writer.append(match_id, kind, tick, data)
        self.writer.kick()
        await self.writer.drain(5.0)
        assert self.writer.pending == 0


@pytest.fixture(params=["redis", "memory"])
async def feeds(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        store = MemoryFeeds(maxlen=MAXLEN, retention_s=600)
        yield Backend("memory", store.writer(), store.reader(), store=store)
        return
    client = aioredis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield Backend("redis", RedisFeedWriter(client, MAXLEN, 600), RedisFeedReader(client), client=client)
    finally:
        await client.aclose()


def info(match_id: str, state: str = "running", end_reason: str | None = None) -> MatchInfo:
    return MatchInfo(match_id=match_id, mode="arena", server_id="gs-1", state=state, tick=3, tick_hz=20,
                     players=({"seat": 0, "id": "p1", "name": "Ann", "team": 0, "score": 2},),
                     started_at_us=1_000_000, updated_at_ms=1_700_000_000_000, end_reason=end_reason,
                     columns={"player": ["x_cm"], "motion": 1, "object": ["id"]},
                     map_info={"name": "arena-1", "width_cm": 100})


def ticks(entries: tuple[FeedEntry, ...]) -> list[int]:
    return [e.tick for e in entries]


async def test_entries_come_back_in_order_with_increasing_ids(feeds: Backend) -> None:
    before = time.time()
    await feeds.write("m", (KEYFRAME, 0, b"k0"), *((DELTA, n, b"d%d" % n) for n in range(1, 6)))
    page = await feeds.reader.range_after("m", None, 100)
    assert ticks(page.entries) == [0, 1, 2, 3, 4, 5]
    assert [e.kind for e in page.entries] == ["k", "d", "d", "d", "d", "d"]
    assert page.entries[3].data == b"d3" and page.last_id == page.entries[-1].id and not page.full
    orders = [tuple(int(p) for p in e.id.split(b"-")) for e in page.entries]
    assert orders == sorted(orders) and len(set(orders)) == 6
    assert all(before - 1 <= e.at <= time.time() + 1 for e in page.entries)
    newest = await feeds.reader.newest("m")
    assert newest is not None and newest.tick == 5 and newest.id == page.entries[-1].id
    assert await feeds.reader.newest("nothing") is None


async def test_pages_forwards_and_backwards(feeds: Backend) -> None:
    await feeds.write("m", *((DELTA, n, b"x") for n in range(10)))
    first = await feeds.reader.range_after("m", None, 4)
    assert ticks(first.entries) == [0, 1, 2, 3] and first.full
    second = await feeds.reader.range_after("m", first.last_id, 4)
    assert ticks(second.entries) == [4, 5, 6, 7]
    rest = await feeds.reader.range_after("m", second.last_id, 4)
    assert ticks(rest.entries) == [8, 9] and not rest.full

    newest = await feeds.reader.range_before("m", None, 3)
    assert ticks(newest.entries) == [7, 8, 9] and newest.full and newest.last_id == newest.entries[0].id
    older = await feeds.reader.range_before("m", newest.last_id, 3)
    assert ticks(older.entries) == [4, 5, 6]
    oldest = await feeds.reader.range_before("m", second.entries[0].id, 10)
    assert ticks(oldest.entries) == [0, 1, 2, 3] and not oldest.full
    assert (await feeds.reader.range_before("m", oldest.entries[0].id, 10)).entries == ()
    assert (await feeds.reader.range_after("missing", None, 10)).entries == ()


async def test_read_after_returns_what_is_there_then_waits_for_the_next_entry(feeds: Backend) -> None:
    await feeds.write("m", (KEYFRAME, 0, b"k"), (DELTA, 1, b"d"))
    page = await feeds.reader.read_after("m", None, 100, 1.0)
    assert ticks(page.entries) == [0, 1]
    began = time.monotonic()
    empty = await feeds.reader.read_after("m", page.last_id, 100, 0.2)
    assert empty.entries == () and time.monotonic() - began >= 0.15

    waiting = asyncio.create_task(feeds.reader.read_after("m", page.last_id, 100, 10.0))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    began = time.monotonic()
    await feeds.write("m", (DELTA, 2, b"d2"))
    woken = await asyncio.wait_for(waiting, 5.0)
    assert ticks(woken.entries) == [2] and time.monotonic() - began < 2.0


async def test_a_blocking_read_of_a_feed_not_yet_written_wakes_on_its_first_entry(feeds: Backend) -> None:
    waiting = asyncio.create_task(feeds.reader.read_after("new", None, 100, 10.0))
    await asyncio.sleep(0.1)
    await feeds.write("new", (DELTA, 0, b"first"))
    assert ticks((await asyncio.wait_for(waiting, 5.0)).entries) == [0]


async def test_feeds_are_trimmed_near_maxlen_and_then_no_longer_untrimmed(feeds: Backend) -> None:
    assert not await feeds.reader.untrimmed("m") and not await feeds.reader.exists("m")
    await feeds.write("m", *((DELTA, n, b"x") for n in range(MAXLEN // 2)))
    assert await feeds.reader.untrimmed("m") and await feeds.reader.exists("m")
    for n in range(MAXLEN // 2, 500):
        await feeds.write("m", (DELTA, n, b"x"))
    held = await feeds.reader.range_after("m", None, 1000)
    assert MAXLEN <= len(held) < 500 and held.entries[0].tick > 0
    assert ticks(held.entries) == list(range(held.entries[0].tick, 500))
    assert not await feeds.reader.untrimmed("m")


async def test_a_deleted_feed_no_longer_exists(feeds: Backend) -> None:
    await feeds.write("m", (DELTA, 0, b"x"))
    await feeds.delete("m")
    assert not await feeds.reader.exists("m") and await feeds.reader.newest("m") is None


async def test_describe_moves_a_match_from_live_to_finished(feeds: Backend) -> None:
    assert await feeds.reader.info("m1") is None and await feeds.reader.newest_live() is None
    feeds.writer.describe("m1", info("m1"), live=True)
    await feeds.write("m1", (KEYFRAME, 0, b"k"))
    assert await feeds.reader.info("m1") == info("m1")
    listed = await feeds.reader.matches(10)
    assert [m.match_id for m in listed.live] == ["m1"] and listed.finished == ()
    assert listed.live[0].has_feed and listed.live[0].info.map_info == {"name": "arena-1", "width_cm": 100}
    assert await feeds.reader.newest_live() == "m1"

    over = info("m1", state="finished", end_reason="time")
    feeds.writer.describe("m1", over, live=False)
    await feeds.write("m1", (END, 9, b"final"))
    got = await feeds.reader.info("m1")
    assert got is not None and got.state == "finished" and got.end_reason == "time"
    listed = await feeds.reader.matches(10)
    assert listed.live == () and [m.match_id for m in listed.finished] == ["m1"]
    assert await feeds.reader.newest_live() is None
    await feeds.delete("m1")
    assert not (await feeds.reader.matches(10)).finished[0].has_feed


async def test_listings_are_newest_first_and_limited(feeds: Backend) -> None:
    for n in range(4):
        feeds.writer.describe(f"m{n}", info(f"m{n}"), live=True)
        await feeds.write(f"m{n}")
        await asyncio.sleep(0.005)  # distinct update times (ms)
    feeds.writer.describe("done", info("done", state="finished"), live=False)
    await feeds.write("done")
    listed = await feeds.reader.matches(3)
    assert [m.match_id for m in listed.live] == ["m3", "m2", "m1"]
    assert [m.match_id for m in listed.finished] == ["done"] and not listed.finished[0].has_feed
    assert await feeds.reader.newest_live() == "m3"


async def test_the_writer_buffer_is_bounded_and_counts_what_it_drops(feeds: Backend) -> None:
    for n in range(FEED_BUFFER_MAX + 5):
        feeds.writer.append("m", DELTA, n, b"")
    assert feeds.writer.pending == FEED_BUFFER_MAX and feeds.writer.dropped == 5


def test_a_failed_flush_puts_its_batch_back_in_order_within_the_bound() -> None:
    writer = BufferedFeedWriter()
    for n in range(5):
        writer.append("m", DELTA, n, b"")
    writer.describe("m", info("m"), live=True)
    entries, infos = writer.take()
    assert writer.pending == 0 and not writer.infos
    writer.append("m", DELTA, 5, b"")
    writer.describe("m", info("m", "finished"), live=False)  # given since: wins over the one put back
    writer.put_back(entries, infos)
    assert [tick for _, _, tick, _ in writer.entries] == [0, 1, 2, 3, 4, 5] and writer.infos["m"][1] is False
    entries, _ = writer.take()
    for n in range(6, FEED_BUFFER_MAX + 4):
        writer.append("m", DELTA, n, b"")
    writer.put_back(entries, {})  # room for two of the six: the four oldest go, and are counted
    assert writer.pending == FEED_BUFFER_MAX and writer.dropped == 4
    assert [tick for _, _, tick, _ in list(writer.entries)[:3]] == [4, 5, 6]


async def test_the_redis_writer_keeps_what_a_failed_flush_could_not_write(redis_url: str) -> None:
    down = aioredis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)  # nothing listens there
    up = aioredis.from_url(redis_url)
    try:
        writer = RedisFeedWriter(down, MAXLEN, 600)
        for n in range(3):
            writer.append("kept", DELTA, n, b"x")
        writer.kick()
        deadline = time.monotonic() + 5
        while writer.errors == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert writer.errors == 1 and writer.pending == 3 and writer.dropped == 0
        writer.client = up  # Redis is back
        await writer.drain(5.0)
        page = await RedisFeedReader(up).range_after("kept", None, 10)
        assert writer.pending == 0 and ticks(page.entries) == [0, 1, 2]
    finally:
        await down.aclose()
        await up.aclose()


# --- Redis only: what another writer (or a bug) may have left in a stream ---------------------


async def test_malformed_entries_are_skipped_counted_and_read_past(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        reader = RedisFeedReader(client)
        key = keys.match_feed("m")
        await client.xadd(key, {"k": "d", "n": 0, "b": b"ok"})
        await client.xadd(key, {"k": "zz", "n": 1, "b": b"bad kind"})
        await client.xadd(key, {"k": "d", "n": "one", "b": b"bad tick"})
        page = await reader.range_after("m", None, 10)
        assert ticks(page.entries) == [0] and page.bad == 2 and page.last_id is not None
        assert (await reader.read_after("m", page.last_id, 10, 0.05)).entries == ()
        newest = await reader.newest("m")  # the newest well-formed one
        assert newest is not None and newest.tick == 0
    finally:
        await client.aclose()


@pytest.mark.parametrize("fields", [
    {b"k": b"d", b"n": b"1"},  # no bytes
    {b"k": b"zz", b"n": b"1", b"b": b"x"},  # unknown kind
    {b"k": b"d", b"n": b"one", b"b": b"x"},  # bad tick
])
def test_the_entry_parser_refuses_malformed_entries(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(BadFeedEntry):
        FeedEntry.parse(b"1-0", fields)
    with pytest.raises(BadFeedEntry):
        FeedEntry.parse(b"not-an-id", {b"k": b"d", b"n": b"1", b"b": b"x"})
    assert FeedEntry.parse(b"1500-2", {b"k": b"d", b"n": b"1", b"b": b"x"}).at == 1.5


def test_an_old_description_without_columns_or_map_parses_with_them_none() -> None:
    old = {b"match_id": b'"m"', b"mode": b'"arena"', b"tick_hz": b"20", b"players": b"[]", b"state": b'"running"',
           b"tick": b"not json", b"end_reason": b"null"}
    parsed = MatchInfo.parse("m", old)
    assert parsed.mode == "arena" and parsed.tick_hz == 20 and parsed.tick is None
    assert parsed.columns is None and parsed.map_info is None
    assert MatchInfo.parse("m", {k.encode(): v.encode() for k, v in info("m").fields().items()}) == info("m")


def test_a_description_reuses_the_json_of_static_fields_only_for_the_same_objects() -> None:
    columns, options = {"player": ["x_cm"]}, {"score_limit": 3}
    first = MatchInfo("m", tick=1, columns=columns, options=options, players=({"seat": 0, "score": 0},))
    encoded: dict[str, tuple[object, str]] = {}
    assert first.fields(encoded) == first.fields()
    assert set(encoded) == {"columns", "options"}
    # The same objects again: their JSON is taken from ``encoded``, the rest encoded anew.
    encoded["options"] = (options, '{"score_limit":"stale on purpose"}')
    second = MatchInfo("m", tick=2, columns=columns, options=options, players=({"seat": 0, "score": 1},))
    fields = second.fields(encoded)
    assert fields["options"] == '{"score_limit":"stale on purpose"}'
    assert fields["tick"] == "2" and fields["players"] == '[{"seat":0,"score":1}]'
    # Another object, even an equal one, is encoded again.
    third = MatchInfo("m", tick=3, columns=columns, options={"score_limit": 3})
    assert third.fields(encoded)["options"] == '{"score_limit":3}'
