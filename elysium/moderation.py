"""Moderation state every service reads: who is banned, who is muted, and the events saying so.

Commerce owns the truth (each account's ``moderation`` in MongoDB and the append-only
moderation log) and is the only writer of what is kept here; every other service reads.
``docs/redis-keys.md`` lists the keys, ``docs/commerce.md`` the admin API that writes them.

* :func:`is_banned` and :func:`is_muted` answer for one player from Redis (one command);
  :func:`banned_among` for many at once.
* :class:`ModerationEvent` is one change (``ban``, ``unban``, ``mute``, ``unmute``), appended
  to the stream :data:`elysium.keys.MODERATION_EVENTS` by :func:`publish` in the same
  transaction as the state it describes, so a follower that applies the events in order
  holds the same state as Redis.
* :class:`ModerationWatch` follows that stream in one process: an in-memory copy of who is
  banned and muted (answered without a round trip), and a callback per event, with which
  the services react to a ban (the matchmaker releases tickets and parties, the game server
  kicks the player from a running match). After a start or a lost connection it reloads
  the whole state and calls ``on_resync`` with everyone banned, so nothing missed meanwhile
  goes unhandled.

A ban or a mute either ends at a time (``until_ms``, ms since the epoch) or lasts until it
is lifted (``until_ms`` None, stored as the score ``+inf``). Readers compare the end with
their clock; every write also trims the members whose end has passed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from elysium import keys, redisreply

__all__ = ["ACTIONS", "BAN", "MUTE", "MUTE_ACTIONS", "BAN_ACTIONS", "UNBAN", "UNMUTE", "Action", "Kind",
           "ModerationEvent", "ModerationEventError", "ModerationWatch", "active", "banned_among", "is_banned",
           "is_muted", "publish", "set_state"]

log = logging.getLogger("elysium.moderation")

Action = Literal["ban", "unban", "mute", "unmute"]
Kind = Literal["ban", "mute"]
BAN: Final = "ban"
UNBAN: Final = "unban"
MUTE: Final = "mute"
UNMUTE: Final = "unmute"
ACTIONS: Final[tuple[Action, ...]] = ("ban", "unban", "mute", "unmute")
BAN_ACTIONS: Final[frozenset[str]] = frozenset({"ban", "unban"})
MUTE_ACTIONS: Final[frozenset[str]] = frozenset({"mute", "unmute"})
EVENTS_MAXLEN: Final = 10_000  # entries kept in the stream (approximate trim); followers read the newest
MAX_PLAYER_CHARS: Final = 64
FOLLOW_BLOCK_S: Final = 1.0  # how long one blocking read waits, so a stop is noticed within it
RETRY_S: Final = 1.0  # wait after Redis trouble before reloading


def _now_ms() -> int:
    return int(time.time() * 1000)


def _set_key(kind: Kind) -> str:
    return keys.MODERATION_BANNED if kind == BAN else keys.MODERATION_MUTED


def _score(until_ms: int | None) -> float:
    return math.inf if until_ms is None else float(until_ms)


class ModerationEventError(ValueError):
    """A stream entry that is not a moderation event (our bug or a foreign writer; it is skipped)."""


@dataclass(frozen=True, slots=True)
class ModerationEvent:
    """One moderation change. ``until_ms`` is the end of a ban or mute (None: until lifted);
    it is None on ``unban`` and ``unmute``. ``action_id`` is the moderation log entry's id."""

    action: Action
    player: str
    until_ms: int | None
    action_id: str
    at_ms: int

    @property
    def kind(self) -> Kind:
        return BAN if self.action in BAN_ACTIONS else MUTE

    @property
    def imposes(self) -> bool:
        """A ban or a mute (not a lifting)."""
        return self.action in (BAN, MUTE)

    def fields(self) -> dict[str, str]:
        """The stream entry's fields."""
        return {"action": self.action, "player": self.player,
                "until_ms": "" if self.until_ms is None else str(self.until_ms),
                "id": self.action_id, "at_ms": str(self.at_ms)}

    @classmethod
    def parse(cls, fields: Mapping[bytes, bytes]) -> ModerationEvent:
        """The one strict reader of a stream entry; raises :class:`ModerationEventError`."""
        try:
            action = fields[b"action"].decode()
            player = fields[b"player"].decode()
            until_raw = fields[b"until_ms"].decode()
            action_id = fields[b"id"].decode()
            at_ms = int(fields[b"at_ms"])
            until_ms = int(until_raw) if until_raw else None
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            raise ModerationEventError(f"not a moderation event: {exc}") from None
        if action not in ACTIONS:
            raise ModerationEventError(f"unknown moderation action {action[:32]!r}")
        if not 1 <= len(player) <= MAX_PLAYER_CHARS:
            raise ModerationEventError("player id must be 1 to 64 characters")
        if until_ms is not None and action not in (BAN, MUTE):
            raise ModerationEventError(f"{action} carries no end time")
        checked: Action = BAN if action == BAN else UNBAN if action == UNBAN else MUTE if action == MUTE else UNMUTE
        return cls(checked, player, until_ms, action_id, at_ms)


# --- readers -----------------------------------------------------------------------------------

async def _in_force(redis: aioredis.Redis, kind: Kind, player: str, now_ms: int | None) -> bool:
    score = await redis.zscore(_set_key(kind), player)
    return score is not None and float(score) > (_now_ms() if now_ms is None else now_ms)


async def is_banned(redis: aioredis.Redis, player: str, *, now_ms: int | None = None) -> bool:
    """Whether ``player`` is banned now (one Redis command)."""
    return await _in_force(redis, BAN, player, now_ms)


async def is_muted(redis: aioredis.Redis, player: str, *, now_ms: int | None = None) -> bool:
    """Whether ``player`` is muted now: chat refuses their messages (one Redis command)."""
    return await _in_force(redis, MUTE, player, now_ms)


async def banned_among(redis: aioredis.Redis, players: Iterable[str], *, now_ms: int | None = None) -> set[str]:
    """The players of ``players`` who are banned now (one Redis command)."""
    wanted = list(dict.fromkeys(players))
    if not wanted:
        return set()
    now = _now_ms() if now_ms is None else now_ms
    scores = await redis.zmscore(keys.MODERATION_BANNED, wanted)
    return {p for p, s in zip(wanted, scores, strict=True) if s is not None and float(s) > now}


async def active(redis: aioredis.Redis, kind: Kind, *, now_ms: int | None = None) -> dict[str, int | None]:
    """Everyone banned (or muted) now, with the end of each (None: until lifted)."""
    now = _now_ms() if now_ms is None else now_ms
    rows = redisreply.scored(await redis.zrangebyscore(_set_key(kind), f"({now}", "+inf", withscores=True))
    return {player: None if math.isinf(score) else int(score) for player, score in rows}


# --- the writer (commerce) ---------------------------------------------------------------------

async def set_state(redis: aioredis.Redis, kind: Kind, player: str, until_ms: int | None, in_force: bool,
                    *, now_ms: int | None = None) -> None:
    """Make Redis say what MongoDB says of one player, without an event (start-up repair)."""
    now = _now_ms() if now_ms is None else now_ms
    key = _set_key(kind)
    async with redis.pipeline(transaction=True) as tx:
        if in_force:
            tx.zadd(key, {player: _score(until_ms)})
        else:
            tx.zrem(key, player)
        tx.zremrangebyscore(key, "-inf", now)
        await tx.execute()


async def publish(redis: aioredis.Redis, event: ModerationEvent, *, now_ms: int | None = None) -> str:
    """Apply ``event`` to the state and append it to the stream, in one transaction; the entry id."""
    now = _now_ms() if now_ms is None else now_ms
    key = _set_key(event.kind)
    async with redis.pipeline(transaction=True) as tx:
        if event.imposes:
            tx.zadd(key, {event.player: _score(event.until_ms)})
        else:
            tx.zrem(key, event.player)
        tx.zremrangebyscore(key, "-inf", now)
        tx.xadd(keys.MODERATION_EVENTS, event.fields(), maxlen=EVENTS_MAXLEN, approximate=True)  # type: ignore[arg-type]
        replies = redisreply.each(await tx.execute(), 3)
    return redisreply.text(replies[2])


# --- following ---------------------------------------------------------------------------------

OnEvent = Callable[[ModerationEvent], Awaitable[None]]
OnResync = Callable[[frozenset[str]], Awaitable[None]]


async def _ignore_event(event: ModerationEvent) -> None:
    return None


async def _ignore_resync(banned: frozenset[str]) -> None:
    return None


class ModerationWatch:
    """One process's copy of who is banned and muted, kept from the event stream.

    ``run(stop)`` loads the state and the stream's newest id, calls ``on_resync`` with
    everyone banned, then reads the events after that id and calls ``on_event`` for each,
    after applying it to the copy (so ``banned`` already answers True inside the callback).
    On Redis trouble it waits :data:`RETRY_S` and starts over with a fresh load. A callback
    that raises is logged; the watch goes on. ``banned`` and ``muted`` are synchronous: a
    request handler asks them without a round trip.
    """

    def __init__(self, redis: aioredis.Redis, *, on_event: OnEvent | None = None, on_resync: OnResync | None = None,
                 clock_ms: Callable[[], int] = _now_ms, block_s: float = FOLLOW_BLOCK_S) -> None:
        self.redis = redis
        self.on_event = on_event or _ignore_event
        self.on_resync = on_resync or _ignore_resync
        self.clock_ms = clock_ms
        self.block_ms = max(1, round(block_s * 1000))
        self.bans: dict[str, float] = {}  # player -> end (ms, inf)
        self.mutes: dict[str, float] = {}
        self.ready = asyncio.Event()  # set once the first load is done
        self.last_id = b"0-0"
        self.events_seen = 0

    def banned(self, player: str) -> bool:
        end = self.bans.get(player)
        return end is not None and end > self.clock_ms()

    def muted(self, player: str) -> bool:
        end = self.mutes.get(player)
        return end is not None and end > self.clock_ms()

    def apply(self, event: ModerationEvent) -> None:
        table = self.bans if event.kind == BAN else self.mutes
        if event.imposes:
            table[event.player] = _score(event.until_ms)
        else:
            table.pop(event.player, None)

    async def load(self) -> None:
        """Read the stream's newest id, then the whole state: an event in between is read twice, never missed."""
        newest = redisreply.stream_entries(await self.redis.xrevrange(keys.MODERATION_EVENTS, count=1))
        self.last_id = newest[0][0] if newest else b"0-0"
        now = self.clock_ms()
        bans, mutes = await active(self.redis, BAN, now_ms=now), await active(self.redis, MUTE, now_ms=now)
        self.bans = {p: _score(u) for p, u in bans.items()}
        self.mutes = {p: _score(u) for p, u in mutes.items()}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.load()
                self.ready.set()
                await self._call(self.on_resync(frozenset(p for p in self.bans if self.banned(p))), "resync")
                while not stop.is_set():
                    await self.read_once()
            except (RedisError, OSError) as exc:
                log.warning("moderation events unavailable", extra={"error": str(exc)[:300]})
                try:
                    await asyncio.wait_for(stop.wait(), RETRY_S)
                except TimeoutError:
                    pass

    async def read_once(self) -> int:
        """One blocking read of the events after the last one seen; how many were handled."""
        reads = redisreply.stream_reads(await self.redis.xread({keys.MODERATION_EVENTS: self.last_id},
                                                               count=500, block=self.block_ms))
        handled = 0
        for _, entries in reads:
            for entry_id, fields in entries:
                self.last_id = entry_id
                try:
                    event = ModerationEvent.parse(fields)
                except ModerationEventError as exc:
                    log.warning("skipped a moderation stream entry", extra={"id": entry_id.decode(),
                                                                            "error": str(exc)})
                    continue
                self.apply(event)
                self.events_seen += 1
                handled += 1
                await self._call(self.on_event(event), event.action)
        return handled

    async def _call(self, step: Awaitable[None], what: str) -> None:
        try:
            await step
        except (RedisError, OSError):
            raise
        except Exception:  # noqa: BLE001 - one failed reaction must not stop the watch
            log.exception("moderation reaction failed", extra={"what": what})
