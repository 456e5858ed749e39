"""Match feeds in Redis: the layout of ``docs/redis-keys.md`` behind the feed interfaces.

A feed is the stream ``elysium:feed:{match_id}`` (fields ``k``, ``n``, ``b``; capped near
the writer's ``maxlen``), the description the hash ``elysium:match:{match_id}`` (one JSON
value per field), the listings the sorted sets ``MATCHES_LIVE`` and ``MATCHES_DONE``
scored by last update (ms). Feeds and descriptions expire ``retention_s`` after their
last write; finished matches leave ``MATCHES_DONE`` after the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from elysium import keys, redisreply
from elysium.feeds.buffer import BufferedFeedWriter, PendingEntry, PendingInfos
from elysium.feeds.model import FeedEntry, FeedId, FeedPage, ListedMatch, MatchInfo, MatchList
from elysium.feeds.ports import FeedUnavailable

log = logging.getLogger("elysium.feeds")

try:  # what redis-py's hiredis parser reads when a reply is not all in yet
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
except ImportError:  # another redis-py layout: replies are read one by one
    _NOT_ENOUGH_DATA = None

# hiredis's stubs declare a one-element tuple; it packs any number of arguments.
_pack = cast(Callable[[tuple[str | bytes, ...]], bytes], hiredis.pack_command)


class RedisFeedWriter(BufferedFeedWriter):
    """Buffers feed entries and match descriptions; flushes them in one pipeline."""

    def __init__(self, client: aioredis.Redis, maxlen: int, retention_s: int) -> None:
        super().__init__()
        self.client = client
        self.maxlen = maxlen
        self.retention_s = retention_s
        self._task: asyncio.Task[None] | None = None
        # When each feed's expiry was last pushed back: once per tenth of the retention is
        # plenty, instead of one EXPIRE per feed per flush (as many commands as the XADDs).
        self._expired_at: dict[str, float] = {}
        # Each live match's static description fields, as JSON (MatchInfo.fields' ``encoded``).
        self._encoded: dict[str, dict[str, tuple[Any, str]]] = {}

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
        entries, infos = self.take()
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
            self.put_back(entries, infos)
            log.warning("feed flush failed", extra={"error": str(exc), "pending": len(self.entries)})
            await asyncio.sleep(0.5)

    def _commands(self, entries: deque[PendingEntry], infos: PendingInfos,
                  now_ms: int, now: float) -> list[bytes]:
        maxlen = str(self.maxlen)
        pack = _pack
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
            encoded = self._encoded.setdefault(match_id, {}) if live else self._encoded.pop(match_id, {})
            for name, value in info.fields(encoded).items():
                fields += (name, value)
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
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.send_packed_command(b"".join(commands), check_health=False)
            reader, parser = _reply_reader(conn)
            if reader is None:
                for _ in commands:
                    try:
                        await conn.read_response(disable_decoding=True)
                    except ResponseError as exc:
                        self._refused(exc)
            else:
                # Every reply parsed off the connection's buffer under one deadline, instead of
                # one read_response (and one asyncio.timeout) per command.
                async with asyncio.timeout(conn.socket_timeout):
                    left = len(commands)
                    while left:
                        reply = reader.gets(False)
                        if reply is _NOT_ENOUGH_DATA:  # the next reply is not all here yet
                            await parser.read_from_socket()
                            continue
                        left -= 1
                        if isinstance(reply, ResponseError):
                            self._refused(reply)
                        elif isinstance(reply, Exception):
                            raise reply
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)

    def _refused(self, exc: ResponseError) -> None:
        """One command failed; the others stand."""
        self.errors += 1
        log.warning("feed command refused", extra={"error": str(exc)})


def _reply_reader(conn: Any) -> tuple[Any, Any]:
    """The hiredis reader under a redis-py connection and the parser that fills it, or
    (None, None) when the connection parses some other way (then replies are read one by one)."""
    parser = getattr(conn, "_parser", None)
    reader = getattr(parser, "_reader", None)
    if (_NOT_ENOUGH_DATA is not None and isinstance(reader, hiredis.Reader)
            and callable(getattr(parser, "read_from_socket", None))):
        return reader, parser
    return None, None


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise FeedUnavailable(str(exc)) from exc


NEWEST_SCAN = 100  # entries looked at per step when the newest one is malformed


class RedisFeedReader:
    """Reads feeds, descriptions and listings; any Redis failure is :class:`FeedUnavailable`."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def newest(self, match_id: str) -> FeedEntry | None:
        with _unavailable():
            raw = redisreply.stream_entries(await self.client.xrevrange(keys.match_feed(match_id), count=1))
        page = FeedPage.of(raw, 1, newest_first=True)
        while not page.entries and page.bad:
            page = await self.range_before(match_id, page.last_id, NEWEST_SCAN)
        return page.entries[-1] if page.entries else None

    async def read_after(self, match_id: str, after: FeedId | None, count: int, block_s: float) -> FeedPage:
        key = keys.match_feed(match_id)
        with _unavailable():
            reply = redisreply.stream_reads(await self.client.xread(
                {key: after or b"0-0"}, count=count, block=max(1, round(block_s * 1000))))
        raw = [item for _key, items in reply for item in items]
        return FeedPage.of(raw, count)

    async def range_after(self, match_id: str, after: FeedId | None, count: int) -> FeedPage:
        low = b"-" if after is None else b"(" + after
        with _unavailable():
            raw = redisreply.stream_entries(await self.client.xrange(keys.match_feed(match_id), min=low, max=b"+",
                                                                     count=count))
        return FeedPage.of(raw, count)

    async def range_before(self, match_id: str, before: FeedId | None, count: int) -> FeedPage:
        top = b"+" if before is None else b"(" + before
        with _unavailable():
            raw = redisreply.stream_entries(await self.client.xrevrange(keys.match_feed(match_id), max=top, min=b"-",
                                                                        count=count))
        return FeedPage.of(raw, count, newest_first=True)

    async def untrimmed(self, match_id: str) -> bool:
        try:
            with _unavailable():
                counts = redisreply.stream_counts(await self.client.xinfo_stream(keys.match_feed(match_id)))
        except FeedUnavailable as exc:
            if isinstance(exc.__cause__, ResponseError) and "no such key" in str(exc).lower():
                return False
            raise
        length = counts.get("length")
        return length is not None and counts.get("entries-added") == length

    async def exists(self, match_id: str) -> bool:
        with _unavailable():
            return redisreply.integer(await self.client.exists(keys.match_feed(match_id))) > 0

    async def info(self, match_id: str) -> MatchInfo | None:
        with _unavailable():
            raw = redisreply.blob_map(await self.client.hgetall(keys.match_info(match_id)))
        return MatchInfo.parse(match_id, raw) if raw else None

    async def matches(self, limit: int) -> MatchList:
        with _unavailable():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zrevrange(keys.MATCHES_LIVE, 0, limit - 1)
                pipe.zrevrange(keys.MATCHES_DONE, 0, limit - 1)
                live_reply, done_reply = redisreply.each(await pipe.execute(), 2)
            live_ids = redisreply.texts(live_reply)
            ids = live_ids + redisreply.texts(done_reply)
            async with self.client.pipeline(transaction=False) as pipe:
                for match_id in ids:
                    pipe.hgetall(keys.match_info(match_id))
                    pipe.exists(keys.match_feed(match_id))
                replies = redisreply.each(await pipe.execute(), 2 * len(ids))
        live: list[ListedMatch] = []
        finished: list[ListedMatch] = []
        for n, match_id in enumerate(ids):
            raw_info = redisreply.blob_map(replies[2 * n])
            if raw_info:
                has_feed = redisreply.integer(replies[2 * n + 1]) > 0
                listed = ListedMatch(match_id, MatchInfo.parse(match_id, raw_info), has_feed)
                (live if n < len(live_ids) else finished).append(listed)
        return MatchList(tuple(live), tuple(finished))

    async def newest_live(self) -> str | None:
        with _unavailable():
            newest = redisreply.texts(await self.client.zrevrange(keys.MATCHES_LIVE, 0, 0))
        return newest[0] if newest else None
