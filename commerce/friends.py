"""Friends and blocks on MongoDB, mirrored into Redis for the other services (``elysium.social``).

One document per pair of players that have anything between them (``social_pairs``,
``_id`` ``"<smaller id>:<larger id>"``), and one per player (``social_players``) with their
totals (friends, outgoing and incoming requests, blocks), which the caps are checked
against. A move runs in one transaction that reads the pair, applies the rules of
:mod:`commerce.friendship`, and writes the pair and both players' totals: two moves on
the same pair or the same player conflict and one is retried, so no race passes a cap or
leaves both players asking each other. After the commit the pair's state is written to
the Redis mirror, and a player's mirror that is missing is rebuilt whole.

The mirror write is made safe by an outbox: the transaction also records the pair in
``social_outbox``, and the record is deleted once Redis has the pair. A write that fails
(Redis down, or the process killed between the commit and the write) leaves the record,
and every replica's repair loop writes such pairs again every :data:`REPAIR_EVERY_S`
seconds, so a block always reaches the services that read the mirror.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncio
import logging
from datetime import timedelta

import redis.asyncio as aioredis
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from commerce import friendship
from commerce.errors import Problem
from commerce.friendship import Counts, Limits, Move, Pair, Refused
from commerce.store import Doc, Session, Store, now
from elysium import presence, social

log = logging.getLogger("commerce.friends")

SYSTEM_FILTER = {"system": {"$ne": True}}  # the house and other system accounts have no friends
REPAIR_EVERY_S = 5.0  # how often a replica writes again the pairs whose mirror write did not happen
REPAIR_AFTER_S = 2.0  # an outbox record this old has lost its request (a request writes within it)
REPAIR_BATCH = 200


@dataclass(frozen=True)
class Person:
    """Who a player sees in their lists: the other player's public name and avatar."""
    id: str
    display_name: str
    avatar_url: str | None

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "display_name": self.display_name, "avatar_url": self.avatar_url}


def _pair_of(doc: Doc | None, x: str, y: str) -> Pair:
    """The pair a stored document holds; no document is nothing between ``x`` and ``y``."""
    return friendship.new_pair(x, y) if doc is None else _pair_from(doc)


def _pair_from(doc: Doc) -> Pair:
    a, b = doc["players"]
    return Pair(a, b, friends=bool(doc.get("friends")), requester=doc.get("requester"),
                blocked_by=frozenset(doc.get("blocked_by", [])), since=doc.get("since"))


def _pair_doc(pair: Pair, at: datetime) -> Doc:
    return {"_id": friendship.pair_id(pair.a, pair.b), "players": [pair.a, pair.b], "friends": pair.friends,
            "requester": pair.requester, "blocked_by": sorted(pair.blocked_by), "since": pair.since, "updated_at": at}


def _counts_of(doc: Doc | None) -> Counts:
    if doc is None:
        return Counts()
    return Counts(int(doc.get("friends", 0)), int(doc.get("outgoing", 0)), int(doc.get("incoming", 0)),
                  int(doc.get("blocks", 0)))


class Friends:
    def __init__(self, store: Store, redis: aioredis.Redis, limits: Limits, spectator_url: str = "") -> None:
        self.store = store
        self.spectator_url = spectator_url.rstrip("/")
        self.redis = redis
        self.limits = limits
        self.pairs = store.db["social_pairs"]
        self.totals = store.db["social_players"]
        self.outbox = store.db["social_outbox"]
        self.repaired = 0

    async def ensure_indexes(self) -> None:
        await self.pairs.create_index("players")
        await self.pairs.create_index("blocked_by")
        await self.outbox.create_index("at")

    # --- moves ------------------------------------------------------------------------------

    async def move(self, me: str, other: str, move: Move) -> Pair:
        """Make ``move`` from ``me`` towards ``other``; the pair after it, or a Problem with nothing changed."""
        if me == other:
            raise Problem("friend-self", "that is your own account")
        if not friendship.is_player_id(other) or not await self._is_player(other):
            raise Problem("player-not-found", "there is no such player")
        await self.ensure_mirror(me)
        at = now()

        async def body(s: Session) -> Pair:
            pid = friendship.pair_id(me, other)
            old = _pair_of(await self.pairs.find_one({"_id": pid}, session=s), me, other)
            try:
                new = friendship.apply(old, move, me, at)
            except Refused as exc:
                raise Problem(exc.code, exc.detail) from None
            for player in (me, other):
                delta = friendship.deltas(old, new, player)
                current = _counts_of(await self.totals.find_one({"_id": player}, session=s))
                code = friendship.over_limit(current, delta, self.limits)
                if code is not None:
                    whose = "your" if player == me else "their"
                    raise Problem(code, f"{whose} {_LIMIT_WORDS[code]} is full")
                await self.totals.update_one(
                    {"_id": player}, {"$inc": {"friends": delta.friends, "outgoing": delta.outgoing,
                                               "incoming": delta.incoming, "blocks": delta.blocks, "moves": 1}},
                    upsert=True, session=s)
            if new.empty:
                await self.pairs.delete_one({"_id": pid}, session=s)
            else:
                await self.pairs.replace_one({"_id": pid}, _pair_doc(new, at), upsert=True, session=s)
            await self.outbox.replace_one({"_id": pid}, {"_id": pid, "at": at}, upsert=True, session=s)
            return new

        new = await self.store.transaction(body)
        try:
            await self._mirror(new)
            await self.outbox.delete_one({"_id": friendship.pair_id(new.a, new.b), "at": at})
        except (RedisError, OSError, PyMongoError) as exc:  # the move is done; the repair loop mirrors it
            log.warning("friends mirror not written; the repair loop will", extra={"error": str(exc)[:200]})
        return new

    async def _mirror(self, pair: Pair) -> None:
        await social.write_pair(self.redis, pair.a, pair.b, friends=pair.friends,
                                a_blocks_b=pair.a in pair.blocked_by, b_blocks_a=pair.b in pair.blocked_by)

    async def repair(self, older_than_s: float = REPAIR_AFTER_S) -> int:
        """Mirror again the pairs whose request did not (their outbox record is older than ``older_than_s``)."""
        cutoff = now() - timedelta(seconds=older_than_s)
        done = 0
        async for record in self.outbox.find({"at": {"$lte": cutoff}}).limit(REPAIR_BATCH):
            x, _, y = str(record["_id"]).partition(":")
            await self._mirror(_pair_of(await self.pairs.find_one({"_id": record["_id"]}), x, y))
            done += (await self.outbox.delete_one({"_id": record["_id"], "at": record["at"]})).deleted_count
        self.repaired += done
        return done

    async def run_repair(self, stop: asyncio.Event, interval_s: float = REPAIR_EVERY_S) -> None:
        while not stop.is_set():
            try:
                if fixed := await self.repair():
                    log.info("friends mirror repaired", extra={"pairs": fixed})
            except (RedisError, OSError, PyMongoError) as exc:
                log.warning("friends mirror repair failed; retrying", extra={"error": str(exc)[:200],
                                                                            "retry_in_s": interval_s})
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass

    async def _is_player(self, player: str) -> bool:
        return await self.store.accounts.find_one({"_id": player, **SYSTEM_FILTER}, {"_id": 1}) is not None

    # --- the mirror ---------------------------------------------------------------------------

    async def ensure_mirror(self, player: str) -> None:
        """Rebuild ``player``'s Redis mirror from MongoDB when it is missing."""
        if not await social.is_mirrored(self.redis, player):
            await self.rebuild(player)

    async def rebuild(self, player: str) -> None:
        friends: list[str] = []
        blocks: list[str] = []
        async for doc in self.pairs.find({"players": player}, {"players": 1, "friends": 1, "blocked_by": 1}):
            pair = _pair_from(doc)
            if pair.friends:
                friends.append(pair.other(player))
            if player in pair.blocked_by:
                blocks.append(pair.other(player))
        await social.write_graph(self.redis, player, friends, blocks)

    # --- reads --------------------------------------------------------------------------------

    async def _related(self, player: str, query: Doc) -> list[Pair]:
        return [_pair_from(doc)
                async for doc in self.pairs.find({"players": player, **query}).sort("since", -1)]

    async def people(self, ids: Sequence[str]) -> dict[str, Person]:
        found: dict[str, Person] = {}
        async for doc in self.store.accounts.find({"_id": {"$in": list(ids)}},
                                                  {"display_name": 1, "username": 1, "avatar_url": 1}):
            found[doc["_id"]] = Person(doc["_id"], str(doc.get("display_name") or doc.get("username")),
                                       doc.get("avatar_url"))
        return found

    async def friends(self, me: str) -> list[dict[str, Any]]:
        """Each friend, newest friendship first, with their presence."""
        await self.ensure_mirror(me)
        pairs = await self._related(me, {"friends": True})
        ids = [p.other(me) for p in pairs]
        people = await self.people(ids)
        seen = await presence.read_many(self.redis, ids)
        return [{**_person(people, p.other(me)).body(), "since": _iso(p.since),
                 "presence": self._presence_body(seen[p.other(me)])} for p in pairs]

    def _presence_body(self, seen: presence.Presence) -> dict[str, Any]:
        body = seen.body()
        if body["watch"] is not None and self.spectator_url:
            body["watch"] = self.spectator_url + body["watch"]
        return body

    async def requests(self, me: str) -> dict[str, list[dict[str, Any]]]:
        """Pending requests to ``me`` (incoming) and from ``me`` (outgoing), newest first."""
        await self.ensure_mirror(me)
        pairs = await self._related(me, {"requester": {"$ne": None}})
        people = await self.people([p.other(me) for p in pairs])
        out: dict[str, list[dict[str, Any]]] = {"incoming": [], "outgoing": []}
        for p in pairs:
            side = "outgoing" if p.requester == me else "incoming"
            out[side].append({**_person(people, p.other(me)).body(), "at": _iso(p.since)})
        return out

    async def blocks(self, me: str) -> list[dict[str, Any]]:
        """The players ``me`` blocks."""
        await self.ensure_mirror(me)
        pairs = [_pair_from(doc) async for doc in self.pairs.find({"blocked_by": me}).sort("updated_at", -1)]
        people = await self.people([p.other(me) for p in pairs])
        return [_person(people, p.other(me)).body() for p in pairs]


def _person(people: dict[str, Person], player: str) -> Person:
    return people.get(player) or Person(player, "(deleted account)", None)


_LIMIT_WORDS = {"friend-limit": "friend list", "friend-request-limit": "list of pending friend requests",
                "block-limit": "block list"}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
