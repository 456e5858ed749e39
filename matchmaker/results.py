"""ResultsConsumer: reads finished matches from the game servers' results stream through a
consumer group and hands each to :class:`RatingBook` (the match record, the ratings and the
season standings, in one transaction), then writes the standings to the leaderboard index,
and acknowledges only after both. An entry that was delivered but not acknowledged (the
consumer died) is read again by this consumer on restart, or claimed by another replica
once it has been idle for ``claim_idle_s``; the ``matches`` record makes the second
application a no-op, and the index write, repeated from what MongoDB holds, changes nothing
that was already written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from elysium import keys as shared_keys
from elysium import matchids, redisreply
from elysium.results import MatchResult, ResultError
from matchmaker import keys
from matchmaker.leaderboard import Leaderboard
from matchmaker.modes import ModeConfig
from matchmaker.ratings import RatingBook

log = logging.getLogger("matchmaker.results")


def mode_of(match_id: str, modes: Mapping[str, ModeConfig]) -> str | None:
    """The queue mode a match id was made for (``{mode}.{random}``), None for other matches."""
    mode, dot, _ = match_id.partition(".")
    return mode if dot and mode in modes else None


def custom_mode_of(match_id: str, modes: Mapping[str, ModeConfig]) -> str | None:
    """The queue mode of an unranked custom game's match (``custom-{code}.{mode}.{random}``), None
    otherwise (a ranked one's id begins with its mode, and :func:`mode_of` names it)."""
    parsed = matchids.parse_custom_match_id(match_id)
    return parsed.mode if parsed is not None and not parsed.ranked and parsed.mode in modes else None


class ResultsConsumer:
    def __init__(self, client: aioredis.Redis, book: RatingBook, modes: Mapping[str, ModeConfig], consumer: str,
                 *, leaderboard: Leaderboard | None = None, claim_idle_s: float = 60.0, block_ms: int = 1000,
                 metrics: Any = None) -> None:
        self.client = client
        self.book = book
        self.leaderboard = leaderboard
        self.modes = modes
        self.consumer = consumer
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.block_ms = block_ms
        self.applied = 0
        self.skipped = 0
        self.failures = 0
        self.metrics = metrics

    async def ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(shared_keys.RESULTS_STREAM, keys.RATINGS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def handle(self, entry_id: bytes, fields: Mapping[bytes, bytes]) -> None:
        """Rate one entry, then acknowledge it. Raises when the ratings could not be stored."""
        try:
            result = MatchResult.from_entry(fields)
        except ResultError as exc:
            log.warning("unreadable result entry; skipped", extra={"entry": entry_id.decode(), "field": exc.field,
                                                                   "error": str(exc)})
            self.skipped += 1
            await self.client.xack(shared_keys.RESULTS_STREAM, keys.RATINGS_GROUP, entry_id)
            return
        match_id = result.match_id
        mode = mode_of(match_id, self.modes)
        custom = custom_mode_of(match_id, self.modes) if mode is None else None
        if custom is not None:
            if await self.book.record_unrated(custom, result):  # history only: no rating, no standing
                self.applied += 1
                log.info("custom match recorded", extra={"match_id": match_id, "mode": custom})
        elif mode is None:
            self.skipped += 1  # a match the matchmaker did not make (bots, tests, other tools)
        elif await self.book.apply(mode, result):
            self.applied += 1
            if self.metrics is not None:
                self.metrics.ratings.inc()
            log.info("ratings updated", extra={"match_id": match_id, "mode": mode})
        if mode is not None and self.leaderboard is not None:
            # Also after a redelivery: the replica that applied it may have died before this write.
            found = await self.book.standings_of_match(match_id)
            if found is not None:
                await self.leaderboard.write(*found)
        await self.client.xack(shared_keys.RESULTS_STREAM, keys.RATINGS_GROUP, entry_id)

    async def poll(self, start: str = ">") -> int:
        """Read and handle one batch; ``start`` "0" re-reads this consumer's unacknowledged entries."""
        block = self.block_ms if start == ">" else None
        reply = await self.client.xreadgroup(keys.RATINGS_GROUP, self.consumer, {shared_keys.RESULTS_STREAM: start},
                                             count=100, block=block)
        n = 0
        for _stream, entries in redisreply.stream_reads(reply):
            for entry_id, fields in entries:
                await self.handle(entry_id, fields)
                n += 1
        return n

    async def claim_abandoned(self) -> int:
        """Take over entries another consumer received but never acknowledged."""
        claimed = redisreply.claimed_entries(await self.client.xautoclaim(
            shared_keys.RESULTS_STREAM, keys.RATINGS_GROUP, self.consumer, self.claim_idle_ms, start_id="0-0",
            count=100))
        for entry_id, fields in claimed:
            if fields:
                await self.handle(entry_id, fields)
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        backlog = True  # first drain what this consumer received before a restart
        last_claim = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if backlog:
                    await self.ensure_group()
                    while await self.poll("0"):
                        pass
                    backlog = False
                if loop.time() - last_claim > self.claim_idle_ms / 2000:
                    last_claim = loop.time()
                    await self.claim_abandoned()
                await self.poll(">")
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.failures += 1
                log.warning("results stream unavailable", extra={"error": str(exc)})
                backlog = True
                await asyncio.sleep(1.0)
            except Exception:
                self.failures += 1
                log.exception("rating a result failed; it stays pending and is retried")
                backlog = True
                await asyncio.sleep(1.0)
