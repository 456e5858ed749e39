"""The typed readers accept what a real Redis answers, and refuse any other shape."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from elysium import redisreply
from elysium.redisreply import ReplyShapeError


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.from_url(redis_url)
    yield c
    await c.aclose()


async def test_strings_hashes_and_sorted_sets(client: aioredis.Redis) -> None:
    await client.set("s", "héllo")
    assert redisreply.text(await client.get("s")) == "héllo"
    assert redisreply.blob(await client.get("s")) == "héllo".encode()
    assert redisreply.optional_text(await client.get("missing")) is None
    await client.hset("h", mapping={"a": "1", "b": "two"})
    assert redisreply.text_map(await client.hgetall("h")) == {"a": "1", "b": "two"}
    assert redisreply.blob_map(await client.hgetall("h")) == {b"a": b"1", b"b": b"two"}
    assert redisreply.text_map(await client.hgetall("missing")) == {}
    assert redisreply.optional_texts(await client.hmget("h", "a", "nope", "b")) == ["1", None, "two"]
    await client.hset("n", mapping={"x": 3, "y": -4})
    assert redisreply.int_map(await client.hgetall("n")) == {"x": 3, "y": -4}
    await client.zadd("z", {"m1": 1.5, "m2": 2})
    assert redisreply.texts(await client.zrange("z", 0, -1)) == ["m1", "m2"]
    assert redisreply.scored(await client.zrange("z", 0, -1, withscores=True)) == [("m1", 1.5), ("m2", 2.0)]
    await client.rpush("l", 5, 6)
    assert redisreply.integers(await client.lrange("l", 0, -1)) == [5, 6]


async def test_streams(client: aioredis.Redis) -> None:
    first = redisreply.blob(await client.xadd("st", {"k": "delta", "b": b"\x00\xff"}))
    await client.xadd("st", {"k": "end"})
    entries = redisreply.stream_entries(await client.xrange("st"))
    assert [e[0] for e in entries][0] == first and entries[0][1] == {b"k": b"delta", b"b": b"\x00\xff"}
    assert redisreply.stream_entries(await client.xrevrange("st", count=1))[0][1] == {b"k": b"end"}
    reads = redisreply.stream_reads(await client.xread({"st": "0-0"}, count=1))
    assert reads == [(b"st", entries[:1])]
    assert redisreply.stream_reads(await client.xread({"st": "$"}, block=10)) == []
    await client.xgroup_create("st", "g", id="0")
    assert redisreply.stream_reads(await client.xreadgroup("g", "dead", {"st": ">"})) == [(b"st", entries)]
    claimed = redisreply.claimed_entries(await client.xautoclaim("st", "g", "alive", 0, start_id="0-0"))
    assert claimed == entries
    counts = redisreply.stream_counts(await client.xinfo_stream("st"))
    assert counts["length"] == 2 and counts["entries-added"] == 2 and counts["groups"] == 1
    assert "first-entry" not in counts and "last-generated-id" not in counts  # entries and ids are left out
    await client.xtrim("st", maxlen=1, approximate=False)
    counts = redisreply.stream_counts(await client.xinfo_stream("st"))
    assert counts["length"] == 1 and counts["entries-added"] == 2


async def test_scripts_and_pipelines(client: aioredis.Redis) -> None:
    script = client.register_script("return {'ok', 7, ARGV[1]}")
    assert redisreply.script_texts(await script(args=["x"])) == ["ok", "7", "x"]
    assert redisreply.script_flags(await client.eval("return {1, 0, 1}", 0)) == [True, False, True]
    async with client.pipeline(transaction=False) as pipe:
        pipe.set("p", "1")
        pipe.incr("p")
        pipe.get("nope")
        replies = redisreply.each(await pipe.execute(), 3)
    assert replies[0] is True and redisreply.integer(replies[1]) == 2 and redisreply.optional_blob(replies[2]) is None
    with pytest.raises(ReplyShapeError):
        redisreply.each(replies, 2)


@pytest.mark.parametrize(("reader", "reply"), [
    (redisreply.text, None), (redisreply.text, 5), (redisreply.integer, b"x"), (redisreply.integer, True),
    (redisreply.texts, b"abc"), (redisreply.texts, [b"a", None]), (redisreply.text_map, [b"a", b"b"]),
    (redisreply.scored, [(b"m", b"1")]), (redisreply.scored, [(b"m",)]), (redisreply.stream_entries, [b"1-0"]),
    (redisreply.script_text, [b"ok"]), (redisreply.script_flags, [b"yes"]),
    (redisreply.claimed_entries, [b"0-0"]), (redisreply.claimed_entries, [b"0-0", [], [], []]),
    (redisreply.stream_counts, [b"length", 2]), (redisreply.stream_counts, None),
])
def test_other_shapes_are_refused(reader: object, reply: object) -> None:
    assert callable(reader)
    with pytest.raises(ReplyShapeError):
        reader(reply)


def test_both_stream_reply_layouts() -> None:
    entry = (b"1-0", {b"k": b"v"})
    assert redisreply.stream_reads([[b"s", [entry]]]) == redisreply.stream_reads({b"s": [entry]}) == [(b"s", [entry])]
    assert redisreply.stream_reads(None) == [] and redisreply.stream_entries(None) == []
    assert redisreply.text("já") == "já" and redisreply.script_text(3) == "3"
