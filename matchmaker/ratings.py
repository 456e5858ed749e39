"""RatingBook: player ratings, season standings and match records in MongoDB, applied exactly
once per match.

- ``ratings``: one document per (mode, player), ``_id`` ``"{mode}:{player}"``, with mu, sigma,
  matches and a version ``v`` for optimistic updates. This is the skill matching uses; it
  carries over from one season to the next.
- ``season_ratings``: one document per (mode, season, player), ``_id``
  ``"{mode}:{season}:{player}"``: the rating after the player's last match of the season (mu,
  sigma, ``ordinal``), ``matches`` and ``wins`` in the season, the last display name, and a
  version ``v`` that grows by one with every change (the leaderboard index keeps the newest).
- ``matches``: one record per finished match, ``_id`` the match id (``records.py``). A custom
  game's match is recorded alone (:meth:`RatingBook.record_unrated`): custom games are unrated
  and count towards no leaderboard, so friends cannot farm wins among themselves.

A result is applied in one transaction that inserts the ``matches`` record and updates every
rating and season standing; a second delivery of the same match finds the record (or the
duplicate ``_id`` fails the insert) and changes nothing. ``rated_matches``, the record of
rated matches before match history existed, is still consulted so that an old match
delivered again is not rated twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError

from elysium.results import MatchResult
from matchmaker import records
from matchmaker.skill import Rating, RatingModel

READ_BATCH = 500
DEFAULT_SEASON = "s1"


class _Conflict(Exception):
    """Another writer changed a rating between our read and our write."""


def standing_id(mode: str, season: str, player: str) -> str:
    return f"{mode}:{season}:{player}"


class RatingBook:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], db_name: str, *,
                 season: str = DEFAULT_SEASON) -> None:
        self.client = client
        self.db = client[db_name]
        self.ratings = self.db["ratings"]
        self.standings = self.db["season_ratings"]
        self.matches = self.db["matches"]
        # Before match history, a rated match left only its id here: such a match is not rated again.
        self.rated_before_history = self.db["rated_matches"]
        self.season = season
        self.model = RatingModel()
        self._pending: dict[str, asyncio.Future[Rating]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        """The indexes the history and leaderboard queries use (idempotent)."""
        await self.matches.create_index([("player_ids", 1), ("ended_at_us", -1), ("_id", -1)])
        await self.standings.create_index([("player_id", 1)])
        await self.standings.create_index([("mode", 1), ("season", 1), ("ordinal", -1), ("player_id", 1)])
        await self.standings.create_index([("mode", 1), ("season", 1), ("wins", -1), ("matches", 1),
                                           ("player_id", 1)])

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

    async def seasons_of(self, player: str) -> list[dict[str, Any]]:
        """Every season standing of ``player``, by mode, then season."""
        docs = await self.standings.find({"player_id": player}).to_list(None)
        return sorted(docs, key=lambda d: (str(d["mode"]), str(d["season"])))

    async def standings_of(self, mode: str, season: str, players: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The season standings of ``players`` that exist, by player id."""
        ids = [standing_id(mode, season, p) for p in players]
        docs = await self.standings.find({"_id": {"$in": ids}}).to_list(None) if ids else []
        return {str(d["player_id"]): d for d in docs}

    async def standings_of_match(self, match_id: str) -> tuple[str, str, list[dict[str, Any]]] | None:
        """(mode, season, the current standings of the players it rated) of a recorded match."""
        record = await self.matches.find_one({"_id": match_id}, {"mode": 1, "season": 1, "players": 1})
        if record is None:
            return None
        mode, season = str(record["mode"]), str(record["season"])
        rated = [p["player_id"] for p in record["players"] if p.get("rating_after") is not None]
        if not rated:
            return mode, season, []
        docs = await self.standings.find({"_id": {"$in": [standing_id(mode, season, p) for p in rated]}}).to_list(None)
        return mode, season, docs

    async def apply(self, mode: str, result: MatchResult) -> bool:
        """Record and rate one finished match; False when it was recorded before (nothing changes)."""
        match_id = result.match_id
        for attempt in range(20):
            try:
                return await self._apply_once(mode, result)
            except _Conflict:
                await asyncio.sleep(0.01 * (attempt + 1))
            except PyMongoError as exc:
                if not exc.has_error_label("TransientTransactionError"):
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise RuntimeError(f"ratings of match {match_id} kept conflicting")

    async def record_unrated(self, mode: str, result: MatchResult) -> bool:
        """Record a custom game's match in the history, rating nobody and counting towards no
        standing; False when it was recorded before."""
        record = records.match_document(mode, self.season, result, {}, {}, int(time.time() * 1000), rated=False)
        try:
            await self.matches.insert_one(record)
        except DuplicateKeyError:
            return False
        return True

    async def _apply_once(self, mode: str, result: MatchResult) -> bool:
        players = [p.player_id for p in result.players]
        season = self.season
        won = records.winners(result)
        names = {p.player_id: p.name for p in result.players}
        async with self.client.start_session() as session:
            async with await session.start_transaction():
                for seen in (self.matches, self.rated_before_history):
                    if await seen.find_one({"_id": result.match_id}, {"_id": 1}, session=session) is not None:
                        await session.abort_transaction()
                        return False
                docs = await self.ratings.find({"_id": {"$in": [f"{mode}:{p}" for p in players]}},
                                               session=session).to_list(None)
                by_player = {d["player_id"]: d for d in docs}
                current = {p: Rating(float(d["mu"]), float(d["sigma"])) for p, d in by_player.items()}
                new = self.model.rate(result, current)
                record = records.match_document(mode, season, result, current, new, int(time.time() * 1000))
                try:
                    await self.matches.insert_one(record, session=session)
                except DuplicateKeyError:
                    await session.abort_transaction()
                    return False
                for pid, rating in new.items():
                    await self._store_rating(mode, pid, rating, by_player.get(pid), result.match_id, session)
                    try:
                        await self.standings.update_one(
                            {"_id": standing_id(mode, season, pid)},
                            {"$set": {"mode": mode, "season": season, "player_id": pid, "name": names[pid],
                                      "mu": rating.mu, "sigma": rating.sigma, "ordinal": rating.ordinal,
                                      "last_match": result.match_id, "last_ended_us": result.ended_at_us},
                             "$inc": {"matches": 1, "wins": int(pid in won), "v": 1}},
                            upsert=True, session=session)
                    except DuplicateKeyError:
                        raise _Conflict() from None
        return True

    async def _store_rating(self, mode: str, pid: str, rating: Rating, doc: dict[str, Any] | None, match_id: str,
                            session: Any) -> None:
        if doc is None:
            try:
                await self.ratings.insert_one({"_id": f"{mode}:{pid}", "player_id": pid, "mode": mode,
                                               "mu": rating.mu, "sigma": rating.sigma, "matches": 1,
                                               "v": 1, "last_match": match_id}, session=session)
            except DuplicateKeyError:
                raise _Conflict() from None
            return
        res = await self.ratings.update_one(
            {"_id": doc["_id"], "v": doc["v"]},
            {"$set": {"mu": rating.mu, "sigma": rating.sigma, "last_match": match_id},
             "$inc": {"matches": 1, "v": 1}}, session=session)
        if res.matched_count != 1:
            raise _Conflict()
