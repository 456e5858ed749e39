"""The game server's Redis adapters: registry heartbeat, replay guard, match feeds, results.

Nothing here is awaited inside a tick. Rooms hand feed entries to :class:`FeedWriter`,
which sends them in one pipeline after the scheduler's batch of ticks, off the tick path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from elysium import keys
from elysium.results import FIELD_MATCH_ID, FIELD_RESULT, MatchResult

log = logging.getLogger("gameserver.redis")

FEED_BUFFER_MAX = 200_000  # entries waiting for Redis; the oldest go past this

_WRITE_RESULT = f"""
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', '{FIELD_MATCH_ID}', ARGV[1], '{FIELD_RESULT}', ARGV[4])
end
return false
"""


class ReplayGuard:
    """Single use for join tokens: the first claim of a token id wins."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def claim(self, jti: str, ttl_s: float) -> bool:
        ttl_ms = max(1000, int(ttl_s * 1000))
        return bool(await self.client.set(keys.join_token_used(jti), b"1", nx=True, px=ttl_ms))


class Registry:
    """The heartbeat that tells matchmakers this server exists and how full it is."""

    def __init__(self, client: aioredis.Redis, server_id: str, ttl_s: float) -> None:
        self.client = client
        self.server_id = server_id
        self.ttl_s = ttl_s

    async def beat(self, info: dict[str, Any]) -> None:
        now_ms = int(time.time() * 1000)
        body = json.dumps({**info, "id": self.server_id, "ts_ms": now_ms})
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(keys.server(self.server_id), body, px=int(self.ttl_s * 1000))
            pipe.zadd(keys.SERVERS_LIVE, {self.server_id: now_ms})
            pipe.zremrangebyscore(keys.SERVERS_LIVE, "-inf", now_ms - int(self.ttl_s * 1000))
            await pipe.execute()

    async def remove(self) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(keys.server(self.server_id))
            pipe.zrem(keys.SERVERS_LIVE, self.server_id)
            await pipe.execute()


class FeedWriter:
    """Buffers feed entries and match descriptions; flushes them in one pipeline."""

    def __init__(self, client: aioredis.Redis, maxlen: int, retention_s: int) -> None:
        self.client = client
        self.maxlen = maxlen
        self.retention_s = retention_s
        self.entries: deque[tuple[str, str, int, bytes]] = deque()
        self.infos: dict[str, tuple[dict[str, Any], bool]] = {}
        self.dropped = 0
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        # When each feed's expiry was last pushed back: once per tenth of the retention is
        # plenty, instead of one EXPIRE per feed per flush (as many commands as the XADDs).
        self._expired_at: dict[str, float] = {}

    def append(self, match_id: str, kind: str, tick: int, data: bytes) -> None:
        if len(self.entries) >= FEED_BUFFER_MAX:
            self.entries.popleft()
            self.dropped += 1
        self.entries.append((match_id, kind, tick, data))

    def describe(self, match_id: str, info: dict[str, Any], live: bool) -> None:
        self.infos[match_id] = (info, live)

    def kick(self) -> None:
        """Start a flush unless one is in flight (called after each batch of ticks)."""
        if (self.entries or self.infos) and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._flush())

    async def drain(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while (self.entries or self.infos or (self._task and not self._task.done())) and time.monotonic() < deadline:
            if self._task is None or self._task.done():
                self.kick()
            if self._task is not None:
                await asyncio.wait([self._task], timeout=max(0.01, deadline - time.monotonic()))

    async def _flush(self) -> None:
        entries, self.entries = self.entries, deque()
        infos, self.infos = self.infos, {}
        now_ms = int(time.time() * 1000)
        commands = self._commands(entries, infos, now_ms, time.monotonic())
        try:
            await self._send(commands)
        except (RedisError, OSError) as exc:
            self.errors += 1
            # Put the batch back (bounded) so a short Redis outage loses nothing. Entries that
            # did reach Redis before the failure are sent again: the feed is at least once,
            # in order, and readers skip ticks they have seen.
            for match_id, _, _, _ in entries:
                self._expired_at.pop(match_id, None)  # the EXPIRE may not have landed either
            for item in reversed(entries):
                if len(self.entries) >= FEED_BUFFER_MAX:
                    self.dropped += 1
                    break
                self.entries.appendleft(item)
            for match_id, value in infos.items():
                self.infos.setdefault(match_id, value)
            log.warning("feed flush failed", extra={"error": str(exc), "pending": len(self.entries)})
            await asyncio.sleep(0.5)

    def _commands(self, entries: deque[tuple[str, str, int, bytes]], infos: dict[str, tuple[dict[str, Any], bool]],
                  now_ms: int, now: float) -> list[bytes]:
        maxlen = str(self.maxlen)
        pack = hiredis.pack_command
        commands = [pack(("XADD", keys.match_feed(match_id), "MAXLEN", "~", maxlen, "*", "k", kind, "n", str(tick),
                          "b", data)) for match_id, kind, tick, data in entries]
        refresh_s = self.retention_s / 10
        expired_at = self._expired_at
        touched = {match_id for match_id, _, _, _ in entries
                   if now - expired_at.get(match_id, -refresh_s) >= refresh_s}
        retention = str(self.retention_s)
        for match_id, (info, live) in infos.items():
            key = keys.match_info(match_id)
            fields: list[str] = []
            for name, value in info.items():
                fields += (name, json.dumps(value))
            commands.append(pack(("HSET", key, *fields)))
            commands.append(pack(("EXPIRE", key, retention)))
            if live:
                commands.append(pack(("ZADD", keys.MATCHES_LIVE, str(now_ms), match_id)))
            else:
                commands.append(pack(("ZREM", keys.MATCHES_LIVE, match_id)))
                commands.append(pack(("ZADD", keys.MATCHES_DONE, str(now_ms), match_id)))
                commands.append(pack(("ZREMRANGEBYSCORE", keys.MATCHES_DONE, "-inf",
                                      str(now_ms - self.retention_s * 1000))))
            touched.add(match_id)
        for match_id in touched:
            commands.append(pack(("EXPIRE", keys.match_feed(match_id), retention)))
            expired_at[match_id] = now
        for match_id, (_, live) in infos.items():
            if not live:  # the match is over: its last entries and EXPIRE are in this flush
                expired_at.pop(match_id, None)
        return commands

    async def _send(self, commands: list[bytes]) -> None:
        """Write the commands in one go on a pooled connection and read every reply.

        Packing with hiredis and reading replies straight off the connection costs a fifth
        of what redis-py's pipeline does per command (see docs/benchmarks.md);
        the feed is the game server's busiest Redis traffic, one command per room tick.
        """
        if not commands:
            return
        pool = self.client.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(b"".join(commands), check_health=False)
            for _ in commands:
                try:
                    await conn.read_response(disable_decoding=True)
                except ResponseError as exc:  # one command failed; the others stand
                    self.errors += 1
                    log.warning("feed command refused", extra={"error": str(exc)})
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)


class ResultsWriter:
    """Appends each match's result once to the results stream (the match id is the key)."""

    def __init__(self, client: aioredis.Redis, marker_ttl_s: int = 7 * 24 * 3600) -> None:
        self.client = client
        self.marker_ttl_s = marker_ttl_s
        self.pending: deque[MatchResult] = deque(maxlen=10_000)
        self._script = client.register_script(_WRITE_RESULT)

    async def write(self, result: MatchResult) -> bool:
        """True when this call appended it, False when it was already there."""
        entry_id = await self._script(
            keys=[keys.result_written(result.match_id), keys.RESULTS_STREAM],
            args=[result.match_id, self.marker_ttl_s, keys.RESULTS_MAXLEN, result.encode()],
        )
        return entry_id is not None

    def submit(self, result: MatchResult) -> None:
        self.pending.append(result)

    async def flush(self) -> None:
        while self.pending:
            result = self.pending[0]
            try:
                await self.write(result)
            except (RedisError, OSError) as exc:
                log.warning("results write failed; will retry", extra={"match_id": result.match_id,
                                                                      "error": str(exc)})
                return
            self.pending.popleft()
