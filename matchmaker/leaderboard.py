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

# Every script below takes KEYS rating, wins, versions, built, lock and starts with this test.
_WHOLE = """
local function whole()
  local built = redis.call('GET', KEYS[4])
  return built and redis.call('ZCARD', KEYS[1]) >= tonumber(built) and redis.call('ZCARD', KEYS[2]) >= tonumber(built)
end
"""

# Returns 'whole', 'building' or 'missing'.
_STATE = _WHOLE + """
if whole() then return 'whole' end
if redis.call('EXISTS', KEYS[5]) == 1 then return 'building' end
return 'missing'
"""

# ARGV: which sorted set (1 rating, 2 wins), then 'page', offset, limit or 'around', player, k.
# Returns {0, 'building' | 'missing'} when the index is not whole, else {1, size, members...}
# for a page, {1, size, -1} for an unranked player, or {1, size, rank (0-based), first rank
# shown, members...}.
_READ = _WHOLE + """
if not whole() then
  if redis.call('EXISTS', KEYS[5]) == 1 then return {0, 'building'} end
  return {0, 'missing'}
end
local set = KEYS[tonumber(ARGV[1])]
local size = redis.call('ZCARD', set)
if ARGV[2] == 'page' then
  local offset, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
  if limit <= 0 then return {1, size} end
  local out = {1, size}
  for _, m in ipairs(redis.call('ZRANGE', set, offset, offset + limit - 1)) do out[#out + 1] = m end
  return out
end
local rank = redis.call('ZRANK', set, ARGV[3])
if not rank then return {1, size, -1} end
local k = tonumber(ARGV[4])
local first = math.max(0, rank - k)
local out = {1, size, rank, first}
for _, m in ipairs(redis.call('ZRANGE', set, first, rank + k)) do out[#out + 1] = m end
return out
"""

# ARGV: token, lock ms. Takes the lock and clears the index unless it is whole or another
# rebuild holds the lock. Returns 1 when this caller is to rebuild.
_START = _WHOLE + """
if whole() then return 0 end
if not redis.call('SET', KEYS[5], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
"""

# ARGV: token, lock ms (refresh) or '' (finish: mark the index whole with its size). Returns 0
# when the lock was lost.
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
                 lock_s: float = 60.0, metrics: Any = None) -> None:
        self.client = client
        self.metrics = metrics
        self.standings = standings
        self.lock_ms = int(lock_s * 1000)
        self._write = client.register_script(_WRITE)
        self._state = client.register_script(_STATE)
        self._start = client.register_script(_START)
        self._hold = client.register_script(_HOLD)
        self._read = client.register_script(_READ)
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
            await self._start_rebuild(mode, season)
        return False

    async def _start_rebuild(self, mode: str, season: str) -> None:
        if await self.standings.find_one({"mode": mode, "season": season}, {"_id": 1}) is None:
            return  # nobody ranked (any season id can be asked for): no keys for it, MongoDB answers
        token = secrets.token_hex(16)
        if int(await self._start(keys=_keys(mode, season), args=[token, str(self.lock_ms)])):
            self.rebuilds_started += 1
            task = asyncio.get_running_loop().create_task(self._rebuild(mode, season, token),
                                                          name=f"leaderboard-rebuild-{mode}-{season}")
            self.rebuilds.add(task)
            task.add_done_callback(self.rebuilds.discard)

    async def rebuild(self, mode: str, season: str) -> int:
        """Rebuild the index now (waits for a rebuild in flight instead); returns its size (0, with no
        index, for a season nobody has a standing in)."""
        while not await self.whole(mode, season):
            if await self.standings.find_one({"mode": mode, "season": season}, {"_id": 1}) is None:
                return 0
            pending = [t for t in self.rebuilds if t.get_name() == f"leaderboard-rebuild-{mode}-{season}"]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            else:
                await asyncio.sleep(0.05)  # another replica holds the lock: poll its marker
        return int(await self.client.zcard(keys.leaderboard(mode, season, "rating")))

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
            if self.metrics is not None:
                self.metrics.leaderboard_rebuilds.inc()
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

    async def _indexed(self, mode: str, season: str, by: str, op: str, a: int | str, b: int) -> list[Any] | None:
        """One script call: the whole-ness check and the read; None (a rebuild started if needed)
        when the index cannot answer."""
        reply = await self._read(keys=_keys(mode, season), args=[ranking.BY.index(by) + 1, op, a, b])
        if int(reply[0]) == 1:
            return list(reply[1:])
        if redisreply.text(reply[1]) == "missing":
            await self._start_rebuild(mode, season)
        return None

    async def page(self, mode: str, season: str, by: str, offset: int, limit: int) -> tuple[int, list[Entry]]:
        """(players ranked, ranks ``offset + 1`` to ``offset + limit``)."""
        found = await self._indexed(mode, season, by, "page", offset, limit)
        if found is not None:
            return int(found[0]), [Entry(offset + i + 1, redisreply.text(m)) for i, m in enumerate(found[1:])]
        total = await self.standings.count_documents({"mode": mode, "season": season})
        docs = await self.standings.find({"mode": mode, "season": season}, {"player_id": 1}).sort(
            ranking.sort_spec(by)).skip(offset).limit(limit).to_list(None)
        return total, [Entry(offset + i + 1, str(d["player_id"])) for i, d in enumerate(docs)]

    async def around(self, mode: str, season: str, by: str, player: str, k: int
                     ) -> tuple[int, int | None, list[Entry]]:
        """(players ranked, the player's rank or None when unranked, the ranks within ``k`` of it)."""
        found = await self._indexed(mode, season, by, "around", player, k)
        if found is not None:
            total, rank = int(found[0]), int(found[1])
            if rank < 0:
                return total, None, []
            first = int(found[2])
            return total, rank + 1, [Entry(first + i + 1, redisreply.text(m)) for i, m in enumerate(found[3:])]
        total = await self.standings.count_documents({"mode": mode, "season": season})
        doc = await self.standings.find_one({"mode": mode, "season": season, "player_id": player})
        if doc is None:
            return total, None, []
        position = await self.standings.count_documents({"mode": mode, "season": season, **_better(by, doc)})
        first = max(0, position - k)
        _, entries = await self.page(mode, season, by, first, position - first + k + 1)
        return total, position + 1, entries

    async def rank(self, mode: str, season: str, by: str, player: str) -> int | None:
        """The player's rank (1 is the best), None when they have not played this season."""
        return (await self.around(mode, season, by, player, 0))[1]

    async def size(self, mode: str, season: str, by: str = "rating") -> int:
        return (await self.page(mode, season, by, 0, 0))[0]


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
