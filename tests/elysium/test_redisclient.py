"""The kernel's Redis client: a burst queues on the pool, a Redis restart costs no command,
and a bad ``ELYSIUM_REDIS_URL`` stops every service at start with one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from elysium import config, procs, redisclient

BURST = 200
POOL = 10


async def _burst(client: aioredis.Redis) -> list[object]:
    # Each BLPOP on an empty list holds its connection for 50 ms, so the 200 overlap.
    return await asyncio.gather(*(client.blpop([f"t:burst:{n}"], timeout=0.05) for n in range(BURST)),
                                return_exceptions=True)


async def _open_connections(url: str) -> int:
    """Client connections Redis holds open, besides the one asking."""
    probe = aioredis.from_url(url)
    try:
        return int((await probe.info("clients"))["connected_clients"]) - 1
    finally:
        await probe.aclose()


async def test_a_burst_of_200_commands_on_a_pool_of_10_queues_and_all_succeed(redis_url: str) -> None:
    client = redisclient.connect(redis_url, max_connections=POOL)
    try:
        replies = await _burst(client)
        assert replies == [None] * BURST
        assert 0 < await _open_connections(redis_url) <= POOL  # the pool never grew past its bound
    finally:
        await client.aclose()


async def test_the_burst_check_can_fail_a_pool_that_does_not_queue(redis_url: str) -> None:
    """The same burst on redis-py's default pool of the same size: the "Too many connections" of before."""
    client = aioredis.from_url(redis_url, max_connections=POOL)
    try:
        replies = await _burst(client)
        assert any(isinstance(r, RedisConnectionError) and "Too many connections" in str(r) for r in replies)
    finally:
        await client.aclose()


async def test_the_first_commands_after_a_redis_restart_succeed_on_every_stale_connection() -> None:
    port = procs.free_port()
    redis = procs.start_redis(port)
    client = redisclient.connect(redis.url, max_connections=POOL)
    try:
        await _burst(client)  # fill the pool with connections opened before the restart
        assert await _open_connections(redis.url) == POOL
        redis.stop()
        redis = procs.start_redis(port)
        # Every pooled connection is dead now; the first command on each must still answer.
        replies = await asyncio.gather(*(client.set(f"t:after:{n}", n) for n in range(POOL * 2)),
                                       return_exceptions=True)
        assert replies == [True] * (POOL * 2)
    finally:
        await client.aclose()
        redis.stop()


@pytest.mark.parametrize("url", ["http://localhost:6379", "localhost:6379", "redis://", "redis://h:port/0",
                                 "redis://h:6379/zero", "unix://", "mongodb://h:27017"])
def test_a_url_that_is_not_redis_is_refused(url: str) -> None:
    problem = config.redis_url(url)
    assert problem is not None and problem.startswith("must be a Redis URL")


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis://:pw@h:6380", "rediss://h/2", "redis://h",
                                 "unix:///run/redis.sock", "redis://h:6379/0?db=3"])
def test_a_redis_url_passes(url: str) -> None:
    assert config.redis_url(url) is None


def _start(service: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELYSIUM_")}
    env.update(extra)
    return subprocess.run([sys.executable, "-m", "elysium", service, "--port", "0"], env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("service", ["gameserver", "matchmaker", "spectator", "commerce"])
def test_every_service_refuses_a_bad_redis_url_at_start_with_one_line(service: str, keys_dir: Path) -> None:
    out = _start(service, {"ELYSIUM_REDIS_URL": "http://user:hunter2@localhost:6379",
                           "ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys_dir / "join.pub")})
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "ELYSIUM_REDIS_URL" in lines[0] and "must be a Redis URL" in lines[0]
    assert "hunter2" not in out.stderr  # the URL is a secret: it may carry a password


def test_the_documented_redis_persistence_is_what_the_embedded_redis_runs_with() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    section = text.split("### Redis persistence", 1)[1]
    block = section.split("```", 2)[1].strip().splitlines()
    assert block == [f"{name} {value or chr(34) * 2}" for name, value in procs.REDIS_PERSISTENCE]


async def test_the_embedded_persistent_redis_keeps_acknowledged_writes_through_a_crash(tmp_path: Path) -> None:
    import signal

    port = procs.free_port()
    redis = procs.start_redis(port, data_dir=tmp_path / "redis")
    client = redisclient.connect(redis.url)
    try:
        for n in range(100):
            await client.xadd("t:kept", {"n": n})
        os.killpg(redis.proc.pid, signal.SIGKILL)  # no clean shutdown, no last save
        redis.proc.wait()
        redis = procs.start_redis(port, data_dir=tmp_path / "redis")
        assert await client.xlen("t:kept") == 100
    finally:
        await client.aclose()
        redis.stop()
