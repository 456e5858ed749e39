"""``elysium spectator --workers 2``: relay processes sharing one port, each serving its watchers,
counted together in the listing, drained together on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from elysium import redisreply

from spectator.client import SpectatorClient
from spectator.listing import viewers_key
from tests.spectator.conftest import SyntheticFeed
from tests.spectator.test_replay import delta, keyframe
from tests.listening import check_listening
from tests.workers import owner, wait_gone

ROOT = Path(__file__).parents[2]
MATCH = "workers-1"
MAX_WATCHERS = 32


async def viewers(port: int) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/v1/matches") as r:
        live = (await r.json())["live"]
    return sum(m["viewers"] for m in live if m["match_id"] == MATCH)


async def test_two_relay_workers_share_the_port_count_viewers_together_and_drain(redis_url: str,
                                                                                 tmp_path: Path) -> None:
    client = aioredis.from_url(redis_url)
    feed = SyntheticFeed(client, MATCH)
    feed.describe()
    feed.append("k", keyframe(0), tick=0)
    await feed.flush()
    env = {**os.environ, "ELYSIUM_REDIS_URL": redis_url, "ELYSIUM_SPECTATOR_ID": "relw",
           "ELYSIUM_SPECTATOR_VIEWERS_EVERY_S": "0.2", "ELYSIUM_SPECTATOR_DRAIN_S": "1"}
    errors = (tmp_path / "stderr.log").open("wb")  # an unread pipe would fill and stall the workers
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "spectator", "--port", "0", "--workers", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, start_new_session=True)
    errors.close()
    watchers: dict[int, list[SpectatorClient]] = {}
    try:
        assert proc.stdout is not None
        line = json.loads(await asyncio.to_thread(proc.stdout.readline))
        check_listening(line, "spectator", workers=2, id="relw")
        port, pids = line["port"], line["pids"]
        watchers = {pid: [] for pid in pids}
        # New watchers until both workers hold some: the kernel spreads connections over them.
        for i in range(MAX_WATCHERS):
            watcher = SpectatorClient(f"ws://127.0.0.1:{port}/v1/watch/{MATCH}")
            await watcher.connect()
            assert watcher.ws is not None
            watchers[owner(watcher.ws.transport.get_extra_info("socket"), port, pids)].append(watcher)
            assert (await watcher.expect("keyframe"))["n"] == 0
            if all(watchers.values()) and i >= 3:
                break
        assert all(watchers.values()), "every watcher went to one worker"
        everyone = [w for held in watchers.values() for w in held]
        # Each worker reads the feed for its own watchers: all of them get the next tick.
        feed.append("d", delta(1), tick=1)
        await feed.flush()
        for watcher in everyone:
            assert (await watcher.expect("delta"))["n"] == 1
        # The listing sums the viewer counts both workers publish under their own relay ids.
        for _ in range(100):
            if await viewers(port) == len(everyone):
                break
            await asyncio.sleep(0.05)
        assert await viewers(port) == len(everyone)
        published = redisreply.text_map(await client.hgetall(viewers_key(MATCH)))  # relay id -> "count:ms"
        counts = {relay: int(value.split(":")[0]) for relay, value in published.items()}
        assert set(counts) == {"relw-w0", "relw-w1"}
        assert sorted(counts.values()) == sorted(len(held) for held in watchers.values())
        proc.send_signal(signal.SIGTERM)
        for watcher in everyone:  # every worker tells its watchers to reconnect elsewhere
            assert (await watcher.expect("shutdown"))["reconnect"] is True
        assert await asyncio.to_thread(proc.wait, 30) == 0
        assert wait_gone(pids) == []
    finally:
        for held in watchers.values():
            for watcher in held:
                await watcher.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await client.aclose()
