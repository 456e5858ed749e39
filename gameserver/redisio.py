"""The game server's Redis adapters: registry heartbeat, replay guard, results.

Nothing here is awaited inside a tick. Match feeds are written through the kernel's
``elysium.feeds`` writer, off the tick path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from elysium import keys
from elysium.results import FIELD_MATCH_ID, FIELD_RESULT, MatchResult

log = logging.getLogger("gameserver.redis")

_WRITE_RESULT = f"""
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', '{FIELD_MATCH_ID}', ARGV[1], '{FIELD_RESULT}', ARGV[4])
end
return false
"""


class ReplayGuard:
    """Single use for join tokens: the first claim of a token id wins.

    Each claim stores its own random mark and reads back the one there before (``SET NX
    GET``): a claim the client retried after Redis applied it but lost the reply (see
    :mod:`elysium.redisclient`) finds its own mark and still wins.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def claim(self, jti: str, ttl_s: float) -> bool:
        ttl_ms = max(1000, int(ttl_s * 1000))
        mark = secrets.token_bytes(12)
        before = await self.client.set(keys.join_token_used(jti), mark, nx=True, px=ttl_ms, get=True)
        return before is None or before == mark


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


CONFIRM_AFTER_S = 3.0  # past Redis's own fsync window under appendfsync everysec (at most 2 s)


class ResultsWriter:
    """Hands each match's result to the results stream and keeps it until it is durably accepted.

    A result is *pending* until Redis has acknowledged the append, then *unconfirmed* for
    ``confirm_after_s``: Redis with ``appendfsync everysec`` (docs/operations.md) answers
    before it fsyncs, so a crash of its machine can lose the last second or two of
    acknowledged writes. After that window the result is written once more: the match id
    marker, appended in the same atomic script as the entry, is still there when the entry
    is (nothing is appended), and gone with it when Redis lost both (the entry is appended
    again). Consumers pay and rate by match id, so either way each match counts once.

    A failed write keeps the result where it is for the next :meth:`flush`: the heartbeat
    flushes every few seconds, so results wait out a Redis outage of any length.
    """

    def __init__(self, client: aioredis.Redis, marker_ttl_s: int = 7 * 24 * 3600,
                 confirm_after_s: float = CONFIRM_AFTER_S) -> None:
        self.client = client
        self.marker_ttl_s = marker_ttl_s
        self.confirm_after_s = confirm_after_s
        self.pending: deque[MatchResult] = deque()  # not yet acknowledged, oldest first
        self.unconfirmed: deque[tuple[float, MatchResult]] = deque()  # (acknowledged at, result), oldest first
        self.rewritten = 0  # results Redis had lost after acknowledging them, appended again
        self._script = client.register_script(_WRITE_RESULT)
        self._lock = asyncio.Lock()

    @property
    def held(self) -> int:
        """Results not yet durably accepted."""
        return len(self.pending) + len(self.unconfirmed)

    def undelivered(self) -> list[MatchResult]:
        """Results Redis has not acknowledged yet."""
        return list(self.pending)

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
        """Write what is pending, oldest first, then confirm what is due; on a Redis error keep
        the rest for the next call.

        Each finished match starts a flush, so two can overlap: the lock keeps them from
        writing the same result twice and from taking the same one off the queue twice.
        """
        async with self._lock:
            try:
                while self.pending:
                    result = self.pending[0]
                    await self.write(result)
                    self.pending.popleft()
                    self.unconfirmed.append((time.monotonic(), result))
                while self.unconfirmed and time.monotonic() - self.unconfirmed[0][0] >= self.confirm_after_s:
                    _, result = self.unconfirmed[0]
                    appended = await self.write(result)
                    self.unconfirmed.popleft()
                    if appended:
                        self.rewritten += 1
                        log.warning("redis lost an acknowledged result; appended it again",
                                    extra={"match_id": result.match_id})
                        self.unconfirmed.append((time.monotonic(), result))
            except (RedisError, OSError) as exc:
                first = self.pending[0] if self.pending else self.unconfirmed[0][1]
                log.warning("results write failed; will retry", extra={"match_id": first.match_id,
                                                                      "held": self.held, "error": str(exc)})

    async def settle(self, timeout_s: float, retry_s: float = 0.2) -> bool:
        """Flush until every result is durably accepted or ``timeout_s`` passes; True when none is held."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            # A write cut off here may have been applied: the match id marker keeps its retry from
            # appending it twice.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), max(0.1, deadline - loop.time()))
            if not self.held or loop.time() >= deadline:
                return not self.held
            await asyncio.sleep(min(retry_s, max(0.0, deadline - loop.time())))
