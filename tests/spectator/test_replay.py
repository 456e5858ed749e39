"""Replays and seeks against feeds written in the game server's format, and the stack entry."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from elysium import keys
from elysium.ws import envelope
from spectator.client import SpectatorClient
from spectator.live import BACKFILL_PAGE
from tests.spectator.conftest import SyntheticFeed, watch_url


def delta(n: int) -> bytes:
    return envelope.pack({"t": "delta", "n": n, "ts": time.time_ns() // 1000, "p": [[0, n, n, 0]]})


def keyframe(n: int) -> bytes:
    return envelope.pack({"t": "keyframe", "n": n, "ts": time.time_ns() // 1000, "players": [[0, n, n, 0, 100, 1, 0,
                          0, 0, 0]], "objects": [], "roster": [[0, "p", "p", 0, True]], "a": []})


async def finished_match(client: Any, match_id: str, ticks: int = 100) -> SyntheticFeed:
    feed = SyntheticFeed(client, match_id)
    for n in range(1, ticks + 1):
        feed.append("d", delta(n), tick=n)
        if n % 20 == 0 and n < ticks:
            feed.append("k", keyframe(n), tick=n)
    end = msgpack.packb({"t": "events", "n": ticks, "e": [{"k": "end", "reason": "time", "results": [{"seat": 0}]}]})
    feed.append("e", end, tick=ticks)
    feed.append("end", keyframe(ticks), tick=ticks)
    feed.describe(state="finished", live=False)
    await feed.flush()
    return feed


async def test_seek_starts_at_the_keyframe_before_and_plays_to_the_end(relay: Any, redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    await finished_match(client, "old-1")
    watcher = SpectatorClient(watch_url(relay, "old-1", "from=47&speed=16"))
    await watcher.connect()
    await watcher.watch_until_closed(20)
    assert watcher.hello["live"] is False and watcher.hello["from"] == 40 and watcher.hello["speed"] == 16
    assert watcher.kinds[1] == "keyframe" and watcher.ticks[0] == 40
    deltas = [t for k, t in zip(watcher.kinds[1:], watcher.ticks, strict=False) if k == "delta"]
    assert deltas == list(range(41, 101))
    assert watcher.end == {"t": "end", "match": "old-1", "n": 100, "reason": "time", "results": [{"seat": 0}]}
    assert watcher.close_code == 1000 and watcher.replica.players[0][0] == 100
    # Past the end: the final keyframe and the end notice, nothing else.
    late = SpectatorClient(watch_url(relay, "old-1", "from=5000"))
    await late.connect()
    await late.watch_until_closed(10)
    assert late.kinds == ["watch", "keyframe", "end"] and late.ticks == [100]
    await client.aclose()


async def test_a_trimmed_feed_without_keyframes_cannot_be_seeked(relay: Any, redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    feed = SyntheticFeed(client, "trimmed")
    for n in range(1, 30):
        feed.append("d", delta(n), tick=n)
    feed.describe(state="finished", live=False)
    await feed.flush()
    await client.xtrim(keys.match_feed("trimmed"), maxlen=5, approximate=False)
    watcher = SpectatorClient(watch_url(relay, "trimmed", "from=10"))
    await watcher.connect()
    msg = await watcher.recv()
    assert msg["t"] == "error" and msg["code"] == "seek_out_of_range"
    await watcher.watch_until_closed(10)
    assert watcher.close_code == 1008
    await client.aclose()


async def test_an_expired_replay_is_unknown(relay: Any, redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    await finished_match(client, "gone")
    await client.delete(keys.match_feed("gone"))
    watcher = SpectatorClient(watch_url(relay, "gone"))
    await watcher.connect()
    msg = await watcher.recv()
    assert msg["t"] == "error" and msg["code"] == "unknown_match" and "expired" in msg["msg"]
    await client.aclose()


async def paced_match(client: Any, match_id: str, ticks: int) -> None:
    """A finished match whose entries are 50 ms apart (explicit stream ids, as 20 Hz ticks would be)."""
    key = keys.match_feed(match_id)
    base = int(time.time() * 1000) - 100_000
    for n in range(1, ticks + 1):
        await client.xadd(key, {"k": "d", "n": n, "b": delta(n)}, id=f"{base + 50 * n}-0")
    await client.xadd(key, {"k": "end", "n": ticks, "b": keyframe(ticks)}, id=f"{base + 50 * ticks}-1")
    feed = SyntheticFeed(client, match_id)
    feed.describe(state="finished", live=False)
    await feed.flush()


async def test_replays_are_capped(relay_factory: Any, redis_url: str) -> None:
    relay = await relay_factory(max_replays=1)
    client = aioredis.from_url(redis_url)
    await paced_match(client, "old-2", ticks=400)
    first = SpectatorClient(watch_url(relay, "old-2"))
    await first.connect()
    await first.expect("delta")
    second = SpectatorClient(watch_url(relay, "old-2"))
    await second.connect()
    msg = await second.recv()
    assert msg["t"] == "error" and msg["code"] == "busy"
    await first.close()
    while relay.replays:
        await asyncio.sleep(0.02)
    third = SpectatorClient(watch_url(relay, "old-2", "from=380&speed=16"))
    await third.connect()
    await third.watch_until_closed(20)
    assert third.end is not None
    await client.aclose()


async def test_a_seek_into_a_live_competitive_match_stays_behind_the_minimum(relay_factory: Any,
                                                                              redis_url: str) -> None:
    relay = await relay_factory(mode_min_delays=("arena=1",))
    client = aioredis.from_url(redis_url)
    feed = SyntheticFeed(client, "ranked-1")
    feed.describe(state="running", live=True)
    feed.append("k", keyframe(0), tick=0)
    await feed.flush()
    ages: list[float] = []

    def observe(s: SpectatorClient, msg: dict[str, Any]) -> None:
        if msg["t"] in ("delta", "keyframe"):
            ages.append(time.time() - msg["ts"] / 1e6)

    watcher = SpectatorClient(watch_url(relay, "ranked-1", "from=start"))
    await watcher.connect()
    watching = asyncio.create_task(watcher.watch_until_closed(30, observe))
    for n in range(1, 41):
        feed.append("d", delta(n), tick=n)
        await feed.flush()
        await asyncio.sleep(0.025)  # paces the feed like a 40 Hz room
    while not ages or len(ages) < 41:
        await asyncio.sleep(0.05)
    watching.cancel()
    assert watcher.hello["min_delay_s"] == 1.0 and watcher.hello["live"] is True
    assert min(ages) >= 1.0 - 0.05  # nothing younger than the mode's minimum delay
    await watcher.close()
    await client.aclose()


def test_stack_entry() -> None:
    from spectator.cli import STACK_SERVICES, _watch_lines

    (svc,) = STACK_SERVICES
    assert svc.name == "spectator" and svc.port == 7370 and svc.needs == ("redis",)  # type: ignore[attr-defined]

    class Ctx:
        ports = {"spectator": 7370}

    (line,) = _watch_lines(Ctx())
    assert "ws://127.0.0.1:7370/v1/watch/_latest" in line


async def test_a_delayed_watcher_joining_late_gets_history_from_redis(relay: Any, redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    key = keys.match_feed("live-2")
    now_ms = int(time.time() * 1000)
    # Five seconds of a live match at 20 Hz, a keyframe every 20 ticks, already in Redis.
    for n in range(1, 101):
        at = now_ms - 5000 + 50 * n
        await client.xadd(key, {"k": "d", "n": n, "b": delta(n)}, id=f"{at}-0")
        if n % 20 == 0:
            await client.xadd(key, {"k": "k", "n": n, "b": keyframe(n)}, id=f"{at}-1")
    feed = SyntheticFeed(client, "live-2")
    feed.describe(state="running", live=True)
    await feed.flush()
    live = SpectatorClient(watch_url(relay, "live-2"))
    await live.connect()
    assert (await live.expect("keyframe"))["n"] == 100
    delayed = SpectatorClient(watch_url(relay, "live-2", "delay=3"))
    await delayed.connect()
    first = await delayed.expect("keyframe")
    # Three seconds back is about tick 40: the keyframe at or before it, then every delta in order.
    assert first["n"] in (20, 40)
    while delayed.ticks[-1] < 100:
        await delayed.recv()
    assert delayed.ticks == sorted(delayed.ticks)  # in order
    deltas = [t for k, t in zip(delayed.kinds[2:], delayed.ticks[1:], strict=False) if k == "delta"]
    assert deltas == list(range(first["n"] + 1, 101))
    await live.close()
    await delayed.close()
    await client.aclose()


async def test_a_backfill_page_of_malformed_entries_is_read_past(relay: Any, redis_url: str) -> None:
    """A whole page of bad entries between the keyframe and the newest ticks: the backfill moves
    past them (it used to ask for the same page again, forever) and serves the good entries."""
    client = aioredis.from_url(redis_url)
    key = keys.match_feed("bad-page")
    now_ms = int(time.time() * 1000)
    await client.xadd(key, {"k": "k", "n": 1, "b": keyframe(1)}, id=f"{now_ms - 3000}-0")
    # A bad kind, a bad tick, no bytes, in turn: two whole backfill pages of them.
    bad: list[dict[FieldT, EncodableT]] = [{"k": "zz", "n": 1, "b": b"x"}, {"k": "d", "n": "one", "b": b"x"},
                                           {"k": "d", "n": 1}]
    for n in range(2 * BACKFILL_PAGE):
        await client.xadd(key, bad[n % 3], id=f"{now_ms - 2000}-{n}")
    for n in range(2, 6):
        await client.xadd(key, {"k": "d", "n": n, "b": delta(n)}, id=f"{now_ms - 1000 + n}-0")
    feed = SyntheticFeed(client, "bad-page")
    feed.describe(state="running", live=True)
    await feed.flush()
    watcher = SpectatorClient(watch_url(relay, "bad-page"))
    await watcher.connect()
    assert (await watcher.expect("keyframe", timeout=5))["n"] == 1
    while watcher.ticks[-1] < 5:
        await watcher.recv(timeout=5)
    assert watcher.kinds[1:] == ["keyframe", "delta", "delta", "delta", "delta"] and watcher.ticks == [1, 2, 3, 4, 5]
    assert relay.metrics.bad_entries._value.get() == 2 * BACKFILL_PAGE
    await watcher.close()
    await client.aclose()


async def test_delayed_watchers_get_ticks_in_bundles_never_after_their_delay(relay_factory: Any,
                                                                            redis_url: str) -> None:
    """With a bundle window, each tick arrives between ``delay - bundle`` and ``delay`` after it
    happened, two ticks of a 20 Hz match per message; without one, never before ``delay``."""
    bundled = await relay_factory()
    single = await relay_factory(relay_id="test-relay-2", bundle_s=0)
    client = aioredis.from_url(redis_url)
    key = keys.match_feed("bundles")
    feed = SyntheticFeed(client, "bundles")
    feed.describe(state="running", live=True)
    await feed.flush()
    # Entries stamped 50 ms apart from now on (ids in the near future are still in order), so
    # the spacing does not depend on how busy this machine is.
    start_ms = int(time.time() * 1000)
    await client.xadd(key, {"k": "k", "n": 0, "b": keyframe(0)}, id=f"{start_ms}-0")
    for n in range(1, 41):
        at_ms = start_ms + 50 * n
        body = msgpack.packb({"t": "delta", "n": n, "ts": at_ms * 1000, "p": [[0, n, n, 0]]})
        await client.xadd(key, {"k": "d", "n": n, "b": body}, id=f"{at_ms}-0")
    watchers = {"bundled": SpectatorClient(watch_url(bundled, "bundles", "delay=0.5")),
                "single": SpectatorClient(watch_url(single, "bundles", "delay=0.5"))}
    ages: dict[str, list[float]] = {name: [] for name in watchers}

    async def read(name: str, watcher: SpectatorClient) -> None:
        await watcher.connect()
        while len(ages[name]) < 30:
            msg = await watcher.recv()
            if msg["t"] == "delta" and msg["n"] >= 5:
                ages[name].append(time.time() - msg["ts"] / 1e6)

    await asyncio.wait_for(asyncio.gather(*(read(name, w) for name, w in watchers.items())), 15)
    assert watchers["bundled"].hello["bundle_s"] == 0.1 and watchers["single"].hello["bundle_s"] == 0.0
    assert min(ages["single"]) >= 0.5 - 0.01  # never before the delay (ms ids: 1 ms of rounding)
    assert min(ages["bundled"]) >= 0.5 - 0.1 - 0.01  # never more than the bundle window before it
    # Every other tick rode with the one before it: about 50 ms before its delay.
    assert sum(age < 0.5 - 0.03 for age in ages["bundled"]) >= len(ages["bundled"]) // 3
    for watcher in watchers.values():
        await watcher.close()
    await client.aclose()
