"""``redis+sentinel://`` URLs: the kernel's client finds the master through real Redis Sentinels
and follows a failover; bad Sentinel URLs are settings errors naming what is wrong."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis as sync_redis
from redis.exceptions import ConnectionError as RedisConnectionError

from elysium import config, procs, redisclient
from tests.waiting import until


@dataclass
class Pair:
    master: procs.Child
    replica: procs.Child
    sentinel: procs.Child
    sentinel_port: int

    def port_of(self, child: procs.Child) -> int:
        return int(child.url.rsplit(":", 1)[1].split("/")[0])


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    """A master, its replica, and one Sentinel watching them (quorum 1)."""
    master = procs.start_redis()
    replica_port = procs.free_port()
    binary = shutil.which("redis-server")
    assert binary is not None
    replica = procs.Child("redis-replica", procs.spawn("redis-replica", [
        binary, "--port", str(replica_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--replicaof", "127.0.0.1", master.url.rsplit(":", 1)[1].split("/")[0], "--dir", str(tmp_path)]),
        f"redis://127.0.0.1:{replica_port}/0")
    procs.wait_for_port("127.0.0.1", replica_port, 10.0)
    sentinel_port = procs.free_port()
    conf = tmp_path / "sentinel.conf"  # Sentinel rewrites its own configuration file
    conf.write_text(f"port {sentinel_port}\nbind 127.0.0.1\nprotected-mode no\ndir {tmp_path}\n"
                    f"sentinel monitor elysium 127.0.0.1 {master.url.rsplit(':', 1)[1].split('/')[0]} 1\n"
                    "sentinel down-after-milliseconds elysium 1000\nsentinel failover-timeout elysium 5000\n")
    sentinel = procs.Child("sentinel", procs.spawn("sentinel", [binary, str(conf), "--sentinel"]),
                           f"redis://127.0.0.1:{sentinel_port}")
    procs.wait_for_port("127.0.0.1", sentinel_port, 10.0)
    yield Pair(master, replica, sentinel, sentinel_port)
    for child in (sentinel, replica, master):
        child.stop()


def _tcp_port(client: sync_redis.Redis) -> int:
    return int(client.info("server")["tcp_port"])


async def test_the_client_finds_the_master_through_the_sentinels_and_follows_a_failover(pair: Pair) -> None:
    # One unreachable Sentinel first: the client asks the next.
    url = f"redis+sentinel://127.0.0.1:{procs.free_port()},127.0.0.1:{pair.sentinel_port}/elysium/0"
    assert config.redis_url(url) is None
    client = redisclient.connect(url)
    sync = redisclient.connect_sync(url)
    try:
        await client.set("t:sentinel", "one")
        assert await client.get("t:sentinel") == b"one"
        assert int((await client.info("server"))["tcp_port"]) == pair.port_of(pair.master)
        assert _tcp_port(sync) == pair.port_of(pair.master)

        def replicated() -> bool:
            probe = sync_redis.Redis.from_url(pair.replica.url)
            try:
                return bool(probe.get("t:sentinel") == b"one")
            finally:
                probe.close()

        await until(replicated, what="the replica in step")
        watcher = sync_redis.Redis(port=pair.sentinel_port)
        try:
            assert watcher.sentinel_failover("elysium")
        finally:
            watcher.close()

        async def on_the_new_master() -> bool:
            try:
                await client.set("t:sentinel", "two")
                return int((await client.info("server"))["tcp_port"]) == pair.port_of(pair.replica)
            except (RedisConnectionError, OSError, sync_redis.exceptions.ReadOnlyError):
                return False

        await until(on_the_new_master, timeout_s=45, what="the client on the promoted replica")
        assert await client.get("t:sentinel") == b"two"
    finally:
        await client.aclose()
        sync.close()


async def test_an_unknown_master_name_fails_the_first_command(pair: Pair) -> None:
    client = redisclient.connect(f"redis+sentinel://127.0.0.1:{pair.sentinel_port}/nosuchmaster")
    started = time.monotonic()
    try:
        with pytest.raises(RedisConnectionError, match="nosuchmaster"):
            await client.ping()
        assert time.monotonic() - started < 30
    finally:
        await client.aclose()


@pytest.mark.parametrize(("url", "why"), [
    ("redis+sentinel://127.0.0.1:26379", "/<master name>"),
    ("redis+sentinel://127.0.0.1:26379/m/x", "'x' is not a number"),
    ("redis+sentinel://127.0.0.1/m", "'127.0.0.1' is not host:port"),
    ("redis+sentinel://127.0.0.1:26379,host:99999/m", "'host:99999' is not host:port"),
    ("redis+sentinel://127.0.0.1:26379/m/0/extra", "/<master name>"),
])
def test_a_bad_sentinel_url_is_a_settings_error_naming_the_fault(url: str, why: str) -> None:
    problem = config.redis_url(url)
    assert problem is not None and "redis+sentinel://" in problem and why in problem, problem


def test_a_sentinel_url_reads_its_parts() -> None:
    target = redisclient.parse_sentinel("redis+sentinel://:s%40cret@a:26379,[::1]:26380/primary/3")
    assert target == redisclient.SentinelTarget((("a", 26379), ("::1", 26380)), "primary", 3, "s@cret")
