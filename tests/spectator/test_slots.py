"""Replay slots and watcher counts come back on every way a watcher leaves.

A replay holds one of the relay's ``ELYSIUM_SPECTATOR_MAX_REPLAYS`` slots from its request to
its end; a slot never given back is a replay refused ``busy`` for the rest of the process's
life. These tests open and drop many watchers against a real relay, each way a connection
can end (before its handshake is answered, right after it, before the first frame, in the
middle of the stream), and then check the slot count, the gauges and that a new replay is served.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
import uvloop
from prometheus_client.parser import text_string_to_metric_families

from elysium import keys
from spectator.client import SpectatorClient
from spectator.server import SpectatorServer
from tests.spectator.conftest import SyntheticFeed, watch_url
from tests.spectator.test_replay import delta, finished_match, keyframe, paced_match
from tests.waiting import until



# The relay runs on uvloop, which raises on a write to a closed transport where asyncio only
# logs: every test here runs on both. (pytest-asyncio's replacement for this fixture, a loop
# factories hook, would parametrize every test of the suite.)
pytestmark = pytest.mark.filterwarnings("ignore:Overriding the \"event_loop_policy\" fixture:DeprecationWarning")


@pytest.fixture(params=["asyncio", "uvloop"], scope="module")
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    return uvloop.EventLoopPolicy() if request.param == "uvloop" else asyncio.DefaultEventLoopPolicy()


@pytest.fixture(autouse=True)
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Fails the test when an error reaches the event loop (a task exception never retrieved, a callback raising)."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    gc.collect()  # a task that died with its exception unread reports it when collected
    loop.set_exception_handler(None)
    assert errors == []


ROUNDS = 40  # per way of leaving; far above the slot limit the relay is started with
SLOTS = 3


def gauges(relay: SpectatorServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(relay.metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def watchers_gauge(relay: SpectatorServer, kind: str) -> float:
    return gauges(relay).get(("elysium_spectator_spectators", (("kind", kind),)), 0.0)


def slots_gauge(relay: SpectatorServer) -> float:
    return gauges(relay)[("elysium_spectator_replay_slots_used", ())]


def handshake(port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


async def raw_drop(port: int, path: str, *, wait_101: bool, reset: bool, partial: bool = False) -> None:
    """Open a TCP connection, send a watch handshake (or half of one), and drop it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = handshake(port, path)
    writer.write(request[: len(request) // 2] if partial else request)
    await writer.drain()
    if wait_101:
        await reader.readuntil(b"\r\n\r\n")
    if reset:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def settled(relay: SpectatorServer) -> None:
    """Every connection is gone, and with it every slot and count."""
    await until(lambda: not relay.connections, what="every connection to close")
    await until(lambda: relay.replays == 0, what="every replay slot to be released")
    assert relay.watching == 0
    assert slots_gauge(relay) == 0
    assert watchers_gauge(relay, "replay") == 0 and watchers_gauge(relay, "live") == 0


async def replay_is_served(relay: SpectatorServer, match_id: str) -> None:
    watcher = SpectatorClient(watch_url(relay, match_id, "from=90&speed=16"))
    await watcher.connect()
    await watcher.watch_until_closed(20)
    assert watcher.errors == [] and watcher.end is not None


async def test_replay_slots_come_back_however_a_watcher_leaves(relay_factory: Any, redis_url: str) -> None:
    relay = await relay_factory(max_replays=SLOTS)
    client = aioredis.from_url(redis_url)
    await finished_match(client, "done")
    await paced_match(client, "slow", ticks=400)
    path = "/v1/watch/done"

    async def burst(make: Any) -> None:
        await asyncio.gather(*(make() for _ in range(ROUNDS)), return_exceptions=True)
        await settled(relay)

    # Dropped as soon as the request is out: before, during or just after the handshake.
    await burst(lambda: raw_drop(relay.port, path, wait_101=False, reset=False))
    await burst(lambda: raw_drop(relay.port, path, wait_101=False, reset=True))
    await burst(lambda: raw_drop(relay.port, path, wait_101=False, reset=False, partial=True))
    # Dropped right after the 101, before the first frame.
    await burst(lambda: raw_drop(relay.port, path, wait_101=True, reset=False))
    await burst(lambda: raw_drop(relay.port, path, wait_101=True, reset=True))

    # A websockets client that connects and closes at once (a closing handshake).
    async def connect_and_close() -> None:
        watcher = SpectatorClient(watch_url(relay, "slow"))
        await watcher.connect()
        await watcher.close()

    await burst(connect_and_close)

    # Closed in the middle of a paced replay.
    async def leave_mid_stream() -> None:
        watcher = SpectatorClient(watch_url(relay, "slow"))
        await watcher.connect()
        await watcher.expect("delta")
        await watcher.close()

    for _ in range(2):
        await asyncio.gather(*(leave_mid_stream() for _ in range(SLOTS)))
        await settled(relay)

    await replay_is_served(relay, "done")
    await settled(relay)
    await client.aclose()


async def test_a_replay_whose_feed_fails_gives_its_slot_back(relay_factory: Any, redis_url: str) -> None:
    relay = await relay_factory(max_replays=1)
    client = aioredis.from_url(redis_url)
    await paced_match(client, "slow", ticks=1200)  # more than a replay reads at once
    watcher = SpectatorClient(watch_url(relay, "slow", "from=0&speed=16"))
    await watcher.connect()
    await watcher.expect("delta")
    await client.delete(keys.match_feed("slow"))  # the replay's next read finds no feed
    await watcher.watch_until_closed(20)
    assert watcher.stream_ended is not None and watcher.stream_ended["reason"] == "feed_lost"
    await settled(relay)
    await finished_match(client, "done")
    await replay_is_served(relay, "done")
    await client.aclose()


async def test_live_watcher_counts_come_back_however_a_watcher_leaves(relay_factory: Any, redis_url: str) -> None:
    relay = await relay_factory()
    client = aioredis.from_url(redis_url)
    feed = SyntheticFeed(client, "live-1")
    feed.describe()
    feed.append("k", keyframe(1), tick=1)
    feed.append("d", delta(2), tick=2)
    await feed.flush()
    path = "/v1/watch/live-1"
    for wait_101 in (False, True):
        for reset in (False, True):
            await asyncio.gather(*(raw_drop(relay.port, path, wait_101=wait_101, reset=reset) for _ in range(ROUNDS)),
                                 return_exceptions=True)
            await settled(relay)
            await until(lambda: not relay.relays, what="the match's reader to stop with its last watcher")
            assert gauges(relay)[("elysium_spectator_matches_relayed", ())] == 0

    async def leave_after_keyframe() -> None:
        watcher = SpectatorClient(watch_url(relay, "live-1", "delay=0.3"))
        await watcher.connect()
        await watcher.expect("keyframe")
        await watcher.close()

    await asyncio.gather(*(leave_after_keyframe() for _ in range(ROUNDS // 4)))
    await settled(relay)
    await until(lambda: not relay.relays, what="the match's reader to stop with its last watcher")
    watcher = SpectatorClient(watch_url(relay, "live-1"))
    await watcher.connect()
    await watcher.expect("keyframe")
    assert watchers_gauge(relay, "live") == 1
    await watcher.close()
    await settled(relay)
    await client.aclose()


async def test_drain_releases_every_slot(relay_factory: Any, redis_url: str) -> None:
    relay = await relay_factory(max_replays=SLOTS)
    client = aioredis.from_url(redis_url)
    await paced_match(client, "slow", ticks=400)
    watchers = [SpectatorClient(watch_url(relay, "slow")) for _ in range(SLOTS)]
    for w in watchers:
        await w.connect()
        await w.expect("delta")
    assert relay.replays == SLOTS and slots_gauge(relay) == SLOTS
    await relay.drain_and_stop()
    assert relay.replays == 0 and relay.watching == 0
    assert slots_gauge(relay) == 0 and watchers_gauge(relay, "replay") == 0
    await client.aclose()
