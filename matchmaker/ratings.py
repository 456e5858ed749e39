"""RatingBook: player ratings per queue mode in MongoDB, applied exactly once per match.

``ratings``: one document per (mode, player), ``_id`` ``"{mode}:{player}"``, with mu, sigma,
matches and a version ``v`` for optimistic updates. ``rated_matches``: one document per
applied match, ``_id`` the match id. A result is applied in one transaction that inserts
the ``rated_matches`` document and updates every rating; a second delivery of the same
match fails on the duplicate ``_id`` and changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from elysium.results import MatchResult
from matchmaker.skill import Rating, RatingModel

READ_BATCH = 500


class _Conflict(Exception):
    """Another writer changed a rating between our read and our write."""


class RatingBook:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], db_name: str) -> None:
        self.client = client
        self.db = client[db_name]
        self.ratings = self.db["ratings"]
        self.rated = self.db["rated_matches"]
        self.model = RatingModel()
        self._pending: dict[str, asyncio.Future[Rating]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def get_many(self, mode: str, players: Iterable[str]) -> dict[str, Rating]:
        """Ratings of ``players`` (the default for newcomers). Concurrent calls share one query."""
        loop = asyncio.get_running_loop()
        ids = list(dict.fromkeys(players))
        futures = []
        for pid in ids:
            key = f"{mode}:{pid}"
            fut = self._pending.get(key)
            if fut is None:
                fut = self._pending[key] = loop.create_future()
            futures.append(fut)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        values = await asyncio.gather(*futures)
        return dict(zip(ids, values, strict=True))

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the other requests of this loop turn join the batch
        while self._pending:
            batch = dict(list(self._pending.items())[:READ_BATCH])
            for key in batch:
                del self._pending[key]
            try:
                docs = await self.ratings.find({"_id": {"$in": list(batch)}}, {"mu": 1, "sigma": 1}).to_list(None)
            except Exception as exc:  # the readers see the driver's error
                for fut in batch.values():
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            found = {d["_id"]: Rating(float(d["mu"]), float(d["sigma"])) for d in docs}
            for key, fut in batch.items():
                if not fut.done():
                    fut.set_result(found.get(key, Rating()))

    async def get(self, mode: str, player: str) -> dict[str, Any] | None:
        return await self.ratings.find_one({"_id": f"{mode}:{player}"})

    async def of_player(self, player: str, modes: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = [f"{m}:{player}" for m in modes]
        docs = await self.ratings.find({"_id": {"$in": ids}}).to_list(None)
        return {d["mode"]: d for d in docs}

    async def apply(self, mode: str, result: MatchResult) -> bool:
        """Rate one finished match; False when it was rated before (nothing changes)."""
        match_id = result.match_id
        for attempt in range(20):
            try:
                return await self._apply_once(mode, match_id, result)
            except _Conflict:
                await asyncio.sleep(0.01 * (attempt + 1))
        raise RuntimeError(f"ratings of match {match_id} kept conflicting")

    async def _apply_once(self, mode: str, match_id: str, result: MatchResult) -> bool:
        players = [p.player_id for p in result.players]
        async with self.client.start_session() as session:
            async with await session.start_transaction():
                try:
                    await self.rated.insert_one({"_id": match_id, "mode": mode, "players": players,
                                                 "rated_at_ms": int(time.time() * 1000)}, session=session)
                except DuplicateKeyError:
                    await session.abort_transaction()
                    return False
                docs = await self.ratings.find({"_id": {"$in": [f"{mode}:{p}" for p in players]}},
                                               session=session).to_list(None)
                by_player = {d["player_id"]: d for d in docs}
                current = {p: Rating(float(d["mu"]), float(d["sigma"])) for p, d in by_player.items()}
                new = self.model.rate(result, current)
                for pid, rating in new.items():
                    doc = by_player.get(pid)
                    if doc is None:
                        try:
                            await self.ratings.insert_one({"_id": f"{mode}:{pid}", "player_id": pid, "mode": mode,
                                                           "mu": rating.mu, "sigma": rating.sigma, "matches": 1,
                                                           "v": 1, "last_match": match_id}, session=session)
                        except DuplicateKeyError:
                            raise _Conflict() from None
                    else:
                        res = await self.ratings.update_one(
                            {"_id": doc["_id"], "v": doc["v"]},
                            {"$set": {"mu": rating.mu, "sigma": rating.sigma, "last_match": match_id},
                             "$inc": {"matches": 1, "v": 1}}, session=session)
                        if res.matched_count != 1:
                            raise _Conflict()
        return True
