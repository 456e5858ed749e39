"""Leaderboards: a Redis sorted-set index of the ``season_ratings`` collection, per queue mode,
season and order (``rating`` or ``wins``, ``ranking.py``).

MongoDB is the truth; the index exists so that a rank lookup is one ``ZRANK`` at any size.

- **Kept in step.** After a match is applied (and again on every redelivery of it) the
  consumer writes the standings of the players it rated, read back from MongoDB. Each
  write carries the standing's version ``v``; a script writes a player only when that
  version is newer than the one the index holds, so a stale or repeated write changes
  nothing, and two replicas finishing in either order leave the newest standing.
- **Whole or rebuilt.** A rebuild records its member count in the ``built`` marker; the
  index is whole while both sorted sets hold at least that many members (players only
  ever join a season). A reader that finds it otherwise takes the rebuild lock (one
  replica wins), clears the keys, and rebuilds in the background from MongoDB in batches,
  refreshing the lock after each; meanwhile every reader is answered from MongoDB with the
  same order. Writes are dropped while the index is neither built nor being rebuilt (the
  rebuild reads them from MongoDB later) and kept during a rebuild (a rebuild never
  overwrites a newer standing), so nothing is lost in between.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from pymongo.asynchronous.collection import AsyncCollection

from elysium import redisreply
from matchmaker import keys, ranking

log = logging.getLogger("matchmaker.leaderboard")

REBUILD_BATCH = 5000

# KEYS: rating, wins, versions, built, lock. ARGV: only_when_live ('1' or '0'), then per player:
# id, version, rating score, wins score. Returns how many players were written.
_WRITE = """
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[4]) == 0 and redis.call('EXISTS', KEYS[5]) == 0 then
  return -1
end
local n = 0
for i = 2, #ARGV, 4 do
  local p = ARGV[i]
  local v = tonumber(ARGV[i + 1])
  local held = tonumber(redis.call('HGET', KEYS[3], p) or '0')
  if v > held then
    redis.call('HSET', KEYS[3], p, ARGV[i + 1])
    redis.call('ZADD', KEYS[1], ARGV[i + 2], p)
    redis.call('ZADD', KEYS[2], ARGV[i + 3], p)
    n = n + 1
  end
end
return n
"""

# KEYS: rating, wins, versions, built, lock. Returns 'whole', 'building' or 'missing'.
_STATE = """
local built = redis.call('GET', KEYS[4])
if built and redis.call('ZCARD', KEYS[1]) >= tonumber(built) and redis.call('ZCARD', KEYS[2]) >= tonumber(built) then
  return 'whole'
end
if redis.call('EXISTS', KEYS[5]) == 1 then return 'building' end
return 'missing'
"""

# KEYS as above. ARGV: token, lock ms. Takes the lock and clears the index unless it is whole
# or another rebuild holds the lock. Returns 1 when this caller is to rebuild.
_START = """
local built = redis.call('GET', KEYS[4])
if built and redis.call('ZCARD', KEYS[1]) >= tonumber(built) and redis.call('ZCARD', KEYS[2]) >= tonumber(built) then
  return 0
end
if not redis.call('SET', KEYS[5], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
"""

# KEYS as above. ARGV: token, lock ms (refresh) or '' (finish). Returns 0 when the lock was lost.
_HOLD = """
if redis.call('GET', KEYS[5]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[5], ARGV[2])
  return 1
end
redis.call('SET', KEYS[4], tostring(redis.call('ZCARD', KEYS[1])))
redis.call('DEL', KEYS[5])
return 1
"""


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int  # 1 is the best
    player: str


def _keys(mode: str, season: str) -> list[str]:
    return [keys.leaderboard(mode, season, "rating"), keys.leaderboard(mode, season, "wins"),
            keys.leaderboard_versions(mode, season), keys.leaderboard_built(mode, season),
            keys.leaderboard_lock(mode, season)]


class Leaderboard:
    def __init__(self, client: aioredis.Redis, standings: AsyncCollection[dict[str, Any]], *,
                 lock_s: float = 60.0) -> None:
        self.client = client
        self.standings = standings
        self.lock_ms = int(lock_s * 1000)
        self._write = client.register_script(_WRITE)
        self._state = client.register_script(_STATE)
        self._start = client.register_script(_START)
        self._hold = client.register_script(_HOLD)
        self.rebuilds: set[asyncio.Task[int]] = set()  # in flight on this replica
        self.rebuilds_started = 0

    # --- writing ---------------------------------------------------------------------------

    @staticmethod
    def _args(docs: Iterable[Mapping[str, Any]]) -> list[str]:
        args: list[str] = []
        for doc in docs:
            s = ranking.scores(doc)
            args += [str(doc["player_id"]), str(int(doc["v"])), repr(s["rating"]), repr(s["wins"])]
        return args

    async def write(self, mode: str, season: str, docs: Iterable[Mapping[str, Any]], *,
                    only_when_live: bool = True) -> int:
        """Write standings (``season_ratings`` documents), each only if newer than what the index holds.
        Returns how many changed; -1 when the index is absent and not being rebuilt (nothing written)."""
        args = self._args(docs)
        if not args:
            return 0
        return int(await self._write(keys=_keys(mode, season), args=["1" if only_when_live else "0", *args]))

    # --- the index's state and its rebuild ------------------------------------------------

    async def whole(self, mode: str, season: str) -> bool:
        """True when the index can answer; otherwise starts a rebuild (once, across replicas)."""
        state = redisreply.text(await self._state(keys=_keys(mode, season)))
        if state == "whole":
            return True
        if state == "missing":
            token = secrets.token_hex(16)
            if int(await self._start(keys=_keys(mode, season), args=[token, str(self.lock_ms)])):
                self.rebuilds_started += 1
                task = asyncio.get_running_loop().create_task(self._rebuild(mode, season, token),
                                                              name=f"leaderboard-rebuild-{mode}-{season}")
                self.rebuilds.add(task)
                task.add_done_callback(self.rebuilds.discard)
        return False

    async def rebuild(self, mode: str, season: str) -> int:
        """Rebuild the index now (waits for a rebuild in flight instead); returns its size."""
        while not await self.whole(mode, season):
            pending = [t for t in self.rebuilds if t.get_name() == f"leaderboard-rebuild-{mode}-{season}"]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            else:
                await asyncio.sleep(0.05)  # another replica holds the lock: poll its marker
        return await self.size(mode, season, "rating")

    async def _rebuild(self, mode: str, season: str, token: str) -> int:
        names = _keys(mode, season)
        count = 0
        try:
            batch: list[dict[str, Any]] = []
            cursor = self.standings.find({"mode": mode, "season": season},
                                         {"player_id": 1, "ordinal": 1, "wins": 1, "matches": 1, "v": 1},
                                         batch_size=REBUILD_BATCH)
            async for doc in cursor:
                batch.append(doc)
                if len(batch) >= REBUILD_BATCH:
                    count += await self._rebuild_batch(mode, season, token, batch)
                    batch = []
            count += await self._rebuild_batch(mode, season, token, batch)
            if not int(await self._hold(keys=names, args=[token, ""])):
                raise _LockLost()
            log.info("leaderboard rebuilt", extra={"mode": mode, "season": season, "players": count})
        except _LockLost:
            log.warning("leaderboard rebuild lost its lock; another replica rebuilds",
                        extra={"mode": mode, "season": season})
        except Exception:
            log.exception("leaderboard rebuild failed; the next reader starts another once the lock expires")
        return count

    async def _rebuild_batch(self, mode: str, season: str, token: str, batch: list[dict[str, Any]]) -> int:
        if not int(await self._hold(keys=_keys(mode, season), args=[token, str(self.lock_ms)])):
            raise _LockLost()
        await self.write(mode, season, batch, only_when_live=False)
        return len(batch)

    async def close(self) -> None:
        for task in list(self.rebuilds):
            task.cancel()
        await asyncio.gather(*self.rebuilds, return_exceptions=True)

    # --- reading (the index when whole, MongoDB otherwise) ---------------------------------

    async def size(self, mode: str, season: str, by: str) -> int:
        if await self.whole(mode, season):
            return int(await self.client.zcard(keys.leaderboard(mode, season, by)))
        return int(await self.standings.count_documents({"mode": mode, "season": season}))

    async def page(self, mode: str, season: str, by: str, offset: int, limit: int) -> list[Entry]:
        """Ranks ``offset + 1`` to ``offset + limit``."""
        if await self.whole(mode, season):
            members = await self.client.zrange(keys.leaderboard(mode, season, by), offset, offset + limit - 1)
            players = [redisreply.text(m) for m in members]
        else:
            docs = await self.standings.find({"mode": mode, "season": season}, {"player_id": 1}).sort(
                ranking.sort_spec(by)).skip(offset).limit(limit).to_list(None)
            players = [str(d["player_id"]) for d in docs]
        return [Entry(offset + i + 1, p) for i, p in enumerate(players)]

    async def rank(self, mode: str, season: str, by: str, player: str) -> int | None:
        """The player's rank (1 is the best), None when they have not played this season."""
        if await self.whole(mode, season):
            found = await self.client.zrank(keys.leaderboard(mode, season, by), player)
            return None if found is None else redisreply.integer(found) + 1
        doc = await self.standings.find_one({"mode": mode, "season": season, "player_id": player})
        if doc is None:
            return None
        return 1 + await self.standings.count_documents({"mode": mode, "season": season, **_better(by, doc)})


class _LockLost(Exception):
    """Another replica took the rebuild lock over (this one was too slow)."""


def _better(by: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The MongoDB filter of the standings ranked ahead of ``doc``."""
    pid = doc["player_id"]
    if by == "rating":
        o = doc["ordinal"]
        return {"$or": [{"ordinal": {"$gt": o}}, {"ordinal": o, "player_id": {"$lt": pid}}]}
    w, m = doc["wins"], doc["matches"]
    return {"$or": [{"wins": {"$gt": w}}, {"wins": w, "matches": {"$lt": m}},
                    {"wins": w, "matches": m, "player_id": {"$lt": pid}}]}
