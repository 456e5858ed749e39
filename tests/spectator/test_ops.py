"""Operations: probes, metrics, listings, draining, Redis losing the feed, the command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from typing import Any

import aiohttp
import msgpack
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from elysium import keys, procs
from elysium.ws import envelope
from spectator.client import SpectatorClient
from tests.listening import check_listening
from tests.spectator.conftest import SyntheticFeed, watch_url

MATCH = "ops-1"


def delta(n: int) -> bytes:
    return envelope.pack({"t": "delta", "n": n, "ts": 0})


def keyframe(n: int) -> bytes:
    return envelope.pack({"t": "keyframe", "n": n, "ts": 0, "players": [], "objects": [], "roster": [], "a": []})


async def start_feed(redis_url: str, match_id: str = MATCH) -> tuple[Any, SyntheticFeed]:
    client = aioredis.from_url(redis_url)
    synthetic = SyntheticFeed(client, match_id)
    synthetic.describe()
    synthetic.append("k", keyframe(0), tick=0)
    await synthetic.flush()
    return client, synthetic


async def get(relay: Any, path: str) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{relay.port}{path}") as resp:
            text = await resp.text()
            body = json.loads(text) if "json" in resp.content_type else text
            return resp.status, resp.content_type, body


async def test_the_relay_reads_redis_clock_within_a_round_trip(relay: Any) -> None:
    for _ in range(5):
        await relay._sync_clock()
    assert abs(relay.clock_offset) < 0.02  # the same machine: the shortest round trip bounds the error


async def test_probes_metrics_and_errors(relay: Any) -> None:
    assert (await get(relay, "/healthz"))[:2] == (200, "application/json")
    status, _, body = await get(relay, "/readyz")
    assert status == 200 and body["ready"] is True and body["redis"] is True
    status, ctype, text = await get(relay, "/metrics")
    assert status == 200 and "elysium_spectator_spectators" in text and "elysium_spectator_frames_skipped" in text
    assert "elysium_spectator_sent_bytes_total" in text and "elysium_spectator_matches_relayed" in text
    status, ctype, body = await get(relay, "/nowhere")
    assert status == 404 and ctype == "application/problem+json" and body["type"] == "urn:elysium:problem:not-found"
    assert body["code"] == "not-found" and body["status"] == 404 and body["instance"] == "/nowhere"
    for query in ("limit=0", "limit=x", "limit=5000", "page=2"):
        status, ctype, body = await get(relay, f"/v1/matches?{query}")
        assert status == 400 and ctype == "application/problem+json", query
        assert body["type"] == "urn:elysium:problem:bad-request" and body["status"] == 400
        assert body["code"] == "bad-request" and body["title"] == "Bad Request" and body["instance"] == "/v1/matches"


async def test_listing_counts_viewers_across_relays(relay: Any, relay_factory: Any, redis_url: str) -> None:
    other = await relay_factory(relay_id="test-relay-2")
    client, _ = await start_feed(redis_url)
    watchers = [SpectatorClient(watch_url(r, MATCH)) for r in (relay, other, other)]
    for w in watchers:
        await w.connect()
        await w.expect("keyframe")
    for _ in range(200):
        status, _, body = await get(relay, "/v1/matches")
        if body["live"] and body["live"][0]["viewers"] == 3:
            break
        await asyncio.sleep(0.05)
    # One feed reader per match per process, however many watch it there.
    assert list(other.relays) == [MATCH] and other.relays[MATCH].watchers == 2
    assert other.metrics.relays._value.get() == 1
    (live,) = body["live"]
    assert live["match_id"] == MATCH and live["viewers"] == 3 and live["watch"] == f"/v1/watch/{MATCH}"
    assert body["replays"] == []
    # The reserved id _latest names the newest live match.
    latest = SpectatorClient(watch_url(relay, "_latest"))
    await latest.connect()
    hello = await latest.expect("watch")
    assert hello["match"] == MATCH
    for w in (*watchers, latest):
        await w.close()
    await client.aclose()


async def test_drain_tells_watchers_and_refuses_new_ones(relay_factory: Any, redis_url: str) -> None:
    relay = await relay_factory()
    client, synthetic = await start_feed(redis_url)
    watcher = SpectatorClient(watch_url(relay, MATCH))
    await watcher.connect()
    await watcher.expect("keyframe")
    draining = asyncio.create_task(relay.drain_and_stop())
    await watcher.watch_until_closed(10)
    assert watcher.shutdown == {"t": "shutdown", "reason": "relay draining", "reconnect": True}
    assert watcher.close_code == 1001
    await draining
    # A second relay (the "other replica") serves the reconnect from the next keyframe on.
    second = await relay_factory(relay_id="test-relay-2")
    again = SpectatorClient(watch_url(second, MATCH))
    await again.connect()
    assert (await again.expect("keyframe"))["n"] == 0
    synthetic.append("d", delta(1), tick=1)
    await synthetic.flush()
    assert (await again.expect("delta"))["n"] == 1
    await again.close()
    await client.aclose()


async def test_draining_relay_refuses_upgrades(relay_factory: Any, redis_url: str) -> None:
    relay = await relay_factory(drain_s=5.0)
    client, _ = await start_feed(redis_url)
    watcher = SpectatorClient(watch_url(relay, MATCH))
    await watcher.connect()
    # Keep the relay draining (its only watcher has not closed yet) and try to get in.
    relay.draining = True
    try:
        await connect(watch_url(relay, MATCH))
        raise AssertionError("a draining relay accepted a watcher")
    except InvalidStatus as exc:
        assert exc.response.status_code == 503 and exc.response.headers["Content-Type"] == "application/problem+json"
        refusal = json.loads(exc.response.body)
        assert refusal["code"] == "service-unavailable" and refusal["detail"] == "relay is draining"
    relay.draining = False
    await watcher.close()
    await client.aclose()


async def test_a_deleted_feed_ends_the_stream_cleanly(relay: Any, redis_url: str) -> None:
    client, synthetic = await start_feed(redis_url)
    watcher = SpectatorClient(watch_url(relay, MATCH))
    await watcher.connect()
    await watcher.expect("keyframe")
    await client.delete(keys.match_feed(MATCH))
    await watcher.watch_until_closed(15)
    assert watcher.stream_ended == {"t": "stream_ended", "match": MATCH, "reason": "feed_lost", "retry": False}
    assert watcher.close_code == 1011
    assert (await get(relay, "/healthz"))[0] == 200
    await client.aclose()


async def test_redis_going_away_ends_streams_and_the_relay_recovers(relay_factory: Any) -> None:
    redis_child = procs.start_redis()
    port = int(redis_child.url.rsplit(":", 1)[1].split("/")[0])
    try:
        relay = await relay_factory(redis=redis_child.url, feed_stall_s=1.0)
        client, synthetic = await start_feed(redis_child.url)
        watcher = SpectatorClient(watch_url(relay, MATCH))
        await watcher.connect()
        await watcher.expect("keyframe")
        await client.aclose()
        redis_child.stop()
        await watcher.watch_until_closed(20)
        assert watcher.stream_ended is not None and watcher.stream_ended["reason"] == "feed_unavailable"
        assert watcher.stream_ended["retry"] is True and watcher.close_code == 1011
        for _ in range(100):
            if (await get(relay, "/readyz"))[0] == 503:
                break
            await asyncio.sleep(0.05)
        assert (await get(relay, "/readyz"))[2]["redis"] is False
        refused = SpectatorClient(watch_url(relay, MATCH))
        await refused.connect()
        msg = await refused.recv()
        assert msg["t"] == "error" and msg["code"] == "internal"
        status, ctype, body = await get(relay, "/v1/matches")
        assert status == 503 and ctype == "application/problem+json"
        assert body["type"] == "urn:elysium:problem:redis-unavailable" and body["code"] == "redis-unavailable"
        # Redis comes back (empty, as after a restart): the relay serves again without a restart.
        redis_child = procs.start_redis(port=port)
        client, synthetic = await start_feed(redis_child.url)
        back = SpectatorClient(watch_url(relay, MATCH))
        await back.connect()
        assert (await back.expect("keyframe"))["n"] == 0
        await back.close()
        await client.aclose()
    finally:
        redis_child.stop()


async def test_a_short_redis_outage_resumes_watchers_at_the_next_keyframe(relay_factory: Any) -> None:
    redis_child = procs.start_redis()
    port = int(redis_child.url.rsplit(":", 1)[1].split("/")[0])
    try:
        relay = await relay_factory(redis=redis_child.url, feed_stall_s=60.0)
        client, synthetic = await start_feed(redis_child.url)
        watcher = SpectatorClient(watch_url(relay, MATCH))
        await watcher.connect()
        await watcher.expect("keyframe")
        await client.aclose()
        redis_child.stop()
        while relay.metrics.feed_errors._value.get() == 0:
            await asyncio.sleep(0.05)
        redis_child = procs.start_redis(port=port)
        client = aioredis.from_url(redis_child.url)
        synthetic = SyntheticFeed(client, MATCH)
        while relay.metrics.feed_errors._value.get() > 0:  # wait until the reader reconnects
            for n in (5, 6):
                synthetic.append("d", delta(n), tick=n)
            await synthetic.flush()
            synthetic.append("k", keyframe(7), tick=7)
            synthetic.append("d", delta(8), tick=8)
            await synthetic.flush()
            msg = await watcher.recv(15)
            if msg["t"] in ("delta", "keyframe"):
                break
        # After the outage the first thing relayed is a keyframe, never a delta that may follow a hole.
        assert msg["t"] == "keyframe" and msg["n"] == 7
        assert (await watcher.recv(5))["n"] == 8
        await watcher.close()
        await client.aclose()
    finally:
        redis_child.stop()


def test_the_command_runs_drains_and_exits_zero(redis_url: str) -> None:
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_SPECTATOR_ID": "cli-relay"}
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "spectator", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        check_listening(line, "spectator", id="cli-relay")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    bad = subprocess.run([sys.executable, "-m", "elysium", "spectator"], env={**os.environ, "ELYSIUM_REDIS_URL": ""},
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "ELYSIUM_REDIS_URL" in bad.stderr
