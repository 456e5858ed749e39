"""Redis going away never stops a running match; results and feed entries wait and are written once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from elysium import keys, procs, redisclient, redisreply
from elysium.results import MatchResult
from gameserver.client import GameClient
from gameserver.redisio import ResultsWriter
from gameserver.server import GameServer
from tests.gameserver.conftest import make_settings, url
from tests.waiting import until


async def test_results_are_appended_once_per_match(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    writer = ResultsWriter(client)
    result = MatchResult.create(match_id="m-once", mode="arena", seed=1, server_id="gs", reason="abandoned", ticks=9,
                                duration_s=0.45, started_at_us=1, ended_at_us=2, teams=0, players=[])
    assert await writer.write(result) is True
    assert await writer.write(result) is False  # a retry after a lost reply appends nothing
    assert await client.xlen(keys.RESULTS_STREAM) == 1
    await client.aclose()


async def test_overlapping_flushes_write_each_result_once_and_lose_none(redis_url: str) -> None:
    """Every finished match starts a flush, so flushes overlap; none may pop another's result."""
    client = aioredis.from_url(redis_url)
    writer = ResultsWriter(client)
    for n in range(3):
        writer.submit(MatchResult.create(match_id=f"m-overlap-{n}", mode="arena", seed=1, server_id="gs",
                                         reason="abandoned", ticks=9, duration_s=0.45, started_at_us=1,
                                         ended_at_us=2, teams=0, players=[]))
    await asyncio.gather(writer.flush(), writer.flush(), writer.flush())
    assert not writer.pending
    entries = redisreply.stream_entries(await client.xrange(keys.RESULTS_STREAM))
    ours = sorted(fields[b"match_id"] for _, fields in entries if fields[b"match_id"].startswith(b"m-overlap-"))
    assert ours == [b"m-overlap-0", b"m-overlap-1", b"m-overlap-2"]
    await client.aclose()


async def test_a_match_runs_through_a_redis_outage_and_its_result_lands_after(keys_dir: Path, mint: Any,
                                                                              tmp_path: Path) -> None:
    port = procs.free_port()
    redis = procs.start_redis(port, data_dir=tmp_path / "redis")
    server = GameServer(make_settings(redis.url, keys_dir, heartbeat_s=0.2, heartbeat_ttl_s=5.0))
    await server.start()
    a, b = GameClient(url(server)), GameClient(url(server))
    try:
        await a.join(mint("a", "outage", seats=2, time_limit_s=2))
        await b.join(mint("b", "outage", seats=2, time_limit_s=2))
        first = await a.expect("delta")
        redis.stop()  # Redis dies mid-match
        # The match keeps ticking and ends on time; players get their results.
        while a.result is None:
            await a.recv(timeout=5)
        assert a.result["reason"] == "time"
        last = a.replica.tick
        assert last - first["n"] >= 30
        await until(lambda: not server.redis_ok, what="the server noticing Redis is gone")
        assert server.results.pending  # held for retry
        assert b"elysium_gameserver_results_held 1.0" in server.http_get("/metrics")[1]
        # Feed entries are kept, not lost: a flush in flight has taken them out of the buffer, and
        # puts them back when it fails (it may spend a while connecting), so poll for them.
        await until(lambda: server.feed.pending > 0, what="the feed's entries back in its buffer")
        readiness = server.http_get("/readyz")
        assert readiness[0] == 503 and json.loads(readiness[1])["redis"] is False
        # Redis comes back on the same address: the result is written by the next heartbeat.
        redis = procs.start_redis(port, data_dir=tmp_path / "redis")
        client = aioredis.from_url(redis.url)
        for _ in range(100):
            if await client.xlen(keys.RESULTS_STREAM):
                break
            await asyncio.sleep(0.1)
        entries = redisreply.stream_entries(await client.xrange(keys.RESULTS_STREAM))
        assert [e[1][b"match_id"] for e in entries] == [b"outage"]
        await server.feed.drain(5)
        assert await client.xlen(keys.match_feed("outage")) > 30  # the buffered feed arrived
        await client.aclose()
    finally:
        await a.close()
        await b.close()
        await server.stop()
        redis.stop()


async def test_the_first_joins_after_a_redis_restart_are_seated(keys_dir: Path, mint: Any) -> None:
    """Every pooled connection is dead after a restart; the joins' replay-guard claims reconnect, not fail."""
    port = procs.free_port()
    redis = procs.start_redis(port)
    server = GameServer(make_settings(redis.url, keys_dir, heartbeat_s=60.0, heartbeat_ttl_s=120.0,
                                       presence_ttl_s=180.0))
    await server.start()
    n = 8
    before = [GameClient(url(server)) for _ in range(n)]
    after = [GameClient(url(server)) for _ in range(n)]
    try:
        # Joins at once open several pooled connections, all dead once Redis restarts.
        welcomes = await asyncio.gather(*(c.join(mint(f"before-{i}", f"restart-{i}", seats=2))
                                          for i, c in enumerate(before)))
        assert [w["t"] for w in welcomes] == ["welcome"] * n
        redis.stop()
        redis = procs.start_redis(port)
        welcomes = await asyncio.gather(*(c.join(mint(f"after-{i}", f"restart-{i}", seats=2))
                                          for i, c in enumerate(after)))
        assert [w["t"] for w in welcomes] == ["welcome"] * n, welcomes
    finally:
        for c in before + after:
            await c.close()
        await server.stop()
        redis.stop()


def _result(match_id: str) -> MatchResult:
    return MatchResult.create(match_id=match_id, mode="arena", seed=1, server_id="gs", reason="abandoned", ticks=9,
                              duration_s=0.45, started_at_us=1, ended_at_us=2, teams=0, players=[])


async def _match_ids(client: Any) -> list[bytes]:
    return [fields[b"match_id"] for _, fields in redisreply.stream_entries(await client.xrange(keys.RESULTS_STREAM))]


async def test_results_redis_acknowledged_then_lost_are_appended_again_once() -> None:
    """A Redis that loses acknowledged writes (its machine crashed before the fsync): the
    writer's confirmation finds them gone and appends them again, and only those."""
    port = procs.free_port()
    redis = procs.start_redis(port)  # in memory: a crash loses everything, the worst case
    client = redisclient.connect(redis.url)
    writer = ResultsWriter(client, confirm_after_s=0.3)
    try:
        for n in range(5):
            writer.submit(_result(f"lost-{n}"))
        await writer.flush()
        assert not writer.pending and writer.held == 5  # acknowledged, not yet confirmed
        os.killpg(redis.proc.pid, signal.SIGKILL)
        redis.proc.wait()
        redis = procs.start_redis(port)
        assert await _match_ids(client) == []
        assert await writer.settle(10.0)
        assert writer.rewritten == 5
        assert sorted(await _match_ids(client)) == [f"lost-{n}".encode() for n in range(5)]
        # Confirming a result that is there appends nothing.
        writer.submit(_result("kept"))
        assert await writer.settle(10.0)
        assert writer.rewritten == 5
        assert sorted(await _match_ids(client)) == [b"kept", *(f"lost-{n}".encode() for n in range(5))]
    finally:
        await client.aclose()
        redis.stop()


async def test_a_draining_server_keeps_its_results_until_redis_is_back(keys_dir: Path, mint: Any, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    port = procs.free_port()
    redis = procs.start_redis(port, data_dir=tmp_path / "redis")
    server = GameServer(make_settings(redis.url, keys_dir, heartbeat_s=0.2, heartbeat_ttl_s=5.0,
                                      drain_timeout_s=0.5))
    await server.start()
    a, b = GameClient(url(server)), GameClient(url(server))
    try:
        await a.join(mint("a", "drained", seats=2))
        await b.join(mint("b", "drained", seats=2))
        await a.expect("delta")
        redis.stop()
        drain = asyncio.get_running_loop().create_task(server.drain_and_stop())
        # The drain deadline ends the match with a shutdown result, which Redis cannot take.
        await until(lambda: server.results.pending, what="the shutdown result held for Redis")

        def failed_writes() -> int:
            return sum(1 for r in caplog.records if r.getMessage() == "results write failed; will retry")

        # It keeps retrying, and does not stop, however many writes fail.
        await until(lambda: drain.done() or failed_writes() >= 5, timeout_s=20, what="results writes retried")
        assert not drain.done() and server.results.pending
        redis = procs.start_redis(port, data_dir=tmp_path / "redis")
        await asyncio.wait_for(drain, 30.0)
        check = aioredis.from_url(redis.url)
        entries = redisreply.stream_entries(await check.xrange(keys.RESULTS_STREAM))
        await check.aclose()
        assert [fields[b"match_id"] for _, fields in entries] == [b"drained"]
        assert MatchResult.from_entry(entries[0][1]).reason == "shutdown"
        assert not server.results.held
    finally:
        await a.close()
        await b.close()
        if not server._stopped.is_set():
            await server.stop()
        redis.stop()
