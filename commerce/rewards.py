"""The match results consumer: reads ``elysium:results`` in a Redis consumer group and grants rewards.

Several replicas share one group, so each entry goes to one of them. An entry is
acknowledged only after every player's grant has committed in MongoDB; a replica that
dies before that leaves the entry pending, and another takes it over after
``claim_idle_s`` (XAUTOCLAIM). Redelivery is harmless: each (match, player) grant is keyed
in MongoDB (``rewards`` and ``ledger`` ``_id``), so it applies once whatever Redis does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError, ResponseError

from commerce import rules
from commerce.catalog import ItemType
from commerce.economy import Economy
from commerce.errors import Problem
from elysium import keys, matchids, redisreply
from elysium.results import MatchResult, ResultError

log = logging.getLogger("commerce.rewards")

BATCH = 20
BLOCK_MS = 500


class Backoff:
    """The pause after a failed round: ``first_s``, doubling to ``max_s``, and back to ``first_s``
    after a round that succeeded, so one bad minute does not slow every later retry."""

    def __init__(self, first_s: float = 0.2, max_s: float = 5.0) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self.next_s = first_s

    def failed(self) -> float:
        """How long to pause now; the next failure pauses twice as long (at most ``max_s``)."""
        pause = self.next_s
        self.next_s = min(pause * 2, self.max_s)
        return pause

    def succeeded(self) -> None:
        self.next_s = self.first_s


class RewardsConsumer:
    def __init__(self, client: aioredis.Redis, economy: Economy, mode_rules: Mapping[str, rules.Rules],
                 group: str, consumer: str, claim_idle_s: float, stream: str = keys.RESULTS_STREAM) -> None:
        self.client = client
        self.economy = economy
        self.mode_rules = dict(mode_rules)
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.stream = stream
        self.processed = 0  # entries acknowledged
        self.granted = 0  # player rewards newly granted
        self.duplicates = 0  # player rewards found already granted
        self.rejected = 0  # entries that could not be read
        self.errors = 0
        self.healthy = False

    async def ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                await self.ensure_group()
                self.healthy = True
                while not stop.is_set():
                    await self.step()
                    backoff.succeeded()
            except (RedisError, OSError, PyMongoError, Problem) as exc:
                self.healthy = False
                self.errors += 1
                pause = backoff.failed()
                log.warning("rewards consumer error; retrying", extra={"error": str(exc), "retry_in_s": pause})
                try:
                    await asyncio.wait_for(stop.wait(), pause)
                except TimeoutError:
                    pass

    async def step(self) -> int:
        """One round: take over stale entries, retry our own pending ones, then read new ones."""
        done = 0
        claimed = redisreply.claimed_entries(await self.client.xautoclaim(
            self.stream, self.group, self.consumer, self.claim_idle_ms, "0-0", count=BATCH))
        for entry_id, fields in claimed:
            done += await self._handle(entry_id, fields)
        pending = redisreply.stream_reads(await self.client.xreadgroup(
            self.group, self.consumer, {self.stream: "0"}, count=BATCH))
        for _, entries in pending:
            for entry_id, fields in entries:
                done += await self._handle(entry_id, fields)
        if done:
            return done
        fresh = redisreply.stream_reads(await self.client.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=BATCH, block=BLOCK_MS))
        for _, entries in fresh:
            for entry_id, fields in entries:
                done += await self._handle(entry_id, fields)
        return done

    async def _handle(self, entry_id: bytes, fields: Mapping[bytes, bytes]) -> int:
        if not fields:  # trimmed from the stream while pending: nothing left to grant
            await self.client.xack(self.stream, self.group, entry_id)
            return 1
        try:
            result = MatchResult.from_entry(fields)
        except ResultError as exc:
            self.rejected += 1
            log.error("unreadable match result skipped", extra={"entry": entry_id.decode(), "field": exc.field,
                                                                 "error": str(exc)})
            await self.client.xack(self.stream, self.group, entry_id)
            return 1
        await self.grant(result)
        await self.client.xack(self.stream, self.group, entry_id)
        self.processed += 1
        return 1

    async def grant(self, result: MatchResult) -> dict[str, str]:
        """Grant every player's reward for ``result``; returns player id -> status."""
        if matchids.is_unranked_custom(result.match_id):
            # House rules (a host may set a one-second time limit): no way to farm currency.
            log.info("no rewards for an unranked custom game", extra={"match_id": result.match_id})
            return {}
        rule = self.mode_rules.get(result.mode)
        if rule is None:
            log.info("no reward rules for mode", extra={"mode": result.mode, "match_id": result.match_id})
            return {}
        items: dict[str, ItemType] = {}
        for drop in rule.drops:
            item = await self.economy.store.get_item(drop.item)
            if item is not None:
                items[item.id] = item
        statuses: dict[str, str] = {}
        for reward in rules.rewards_for(result, rule):
            status = await self.economy.grant_reward(result.match_id, result.mode, reward, items)
            statuses[reward.player_id] = status
            if status == "granted":
                self.granted += 1
            elif status == "duplicate":
                self.duplicates += 1
        log.info("match rewards", extra={"match_id": result.match_id, "statuses": statuses})
        return statuses


def parse_mode_rules(raw: Mapping[str, Any]) -> dict[str, rules.Rules]:
    return {mode: rules.parse_rules(body) for mode, body in raw.items()}
