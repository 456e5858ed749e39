"""ServerRegistry: live game servers from their heartbeats, and atomic seat claims on them.

A game server's heartbeat (``elysium:gs:{id}``, written by the game server) says how many
seats and rooms it has free, counting only rooms that exist. Between the moment the
matchmaker picks a server and the moment the first player's join creates the room, those
seats are promised but not yet visible in the heartbeat; a claim records them in
``elysium:mm:seats:{id}``. The claim script reads the heartbeat and every live claim and
adds the new one only if it fits, in one step, so two replicas can never promise the same
seats. A claim ends when it expires (players never came) or once a heartbeat taken after
the room appeared already counts the room.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from elysium import keys as shared_keys
from elysium import redisreply
from elysium.modes import ModeDeclaration, SchemaError
from matchmaker import keys

_EXPIRE = """
-- Claims of one server: KEYS[2] sorted set (match id -> expiry ms) and KEYS[3] hash
-- (match id -> "seats|claimed_ms", plus the running totals "_seats" and "_rooms").
local function drop(claims, book, mid)
  local v = redis.call('HGET', book, mid)
  if v then
    local n = tonumber(string.match(v, '^(%d+)|'))
    redis.call('HINCRBY', book, '_seats', -n)
    redis.call('HINCRBY', book, '_rooms', -1)
    redis.call('HDEL', book, mid)
  end
  redis.call('ZREM', claims, mid)
end
local function expire(claims, book, now)
  for _, mid in ipairs(redis.call('ZRANGEBYSCORE', claims, '-inf', now)) do drop(claims, book, mid) end
end
local function totals(book)
  local t = redis.call('HMGET', book, '_seats', '_rooms')
  return tonumber(t[1] or '0'), tonumber(t[2] or '0')
end
local function tidy(claims, book)
  if redis.call('ZCARD', claims) == 0 then redis.call('DEL', claims, book) end
end
"""

_CLAIMED = _EXPIRE + """
-- KEYS: heartbeat, claims, book   ARGV: now_ms, match key prefix   -> {seats, rooms} still promised
-- Also ends the claims whose room a heartbeat taken after the room's creation already counts.
local raw = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[1])
expire(KEYS[2], KEYS[3], now)
if raw then
  local ts = tonumber(cjson.decode(raw).ts_ms)
  for _, mid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    local created = redis.call('HGET', ARGV[2] .. mid, 'started_at_us')
    if created and tonumber(created) / 1000 < ts then drop(KEYS[2], KEYS[3], mid) end
  end
end
tidy(KEYS[2], KEYS[3])
local seats, rooms = totals(KEYS[3])
return {seats, rooms}
"""

_CLAIM_SEATS = _EXPIRE + """
-- KEYS: heartbeat, claims, book   ARGV: match_id, seats, now_ms, hold_ms, fresh_ms, region
local raw = redis.call('GET', KEYS[1])
if not raw then return 'gone' end
local gs = cjson.decode(raw)
if gs.draining then return 'draining' end
if gs.region ~= ARGV[6] then return 'region' end
local now = tonumber(ARGV[3])
if now - tonumber(gs.ts_ms) > tonumber(ARGV[5]) then return 'stale' end
expire(KEYS[2], KEYS[3], now)
local seats, rooms = totals(KEYS[3])
local need = tonumber(ARGV[2])
if seats + need > tonumber(gs.seats_free) or rooms + 1 > tonumber(gs.rooms_free) then
  tidy(KEYS[2], KEYS[3])
  return 'full'
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('HINCRBY', KEYS[3], '_seats', need)
redis.call('HINCRBY', KEYS[3], '_rooms', 1)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 'ok'
"""

_RELEASE_SEATS = _EXPIRE + """
-- KEYS: claims, book   ARGV: match_id
drop(KEYS[1], KEYS[2], ARGV[1])
tidy(KEYS[1], KEYS[2])
return 1
"""


@dataclass(slots=True)
class LiveServer:
    server_id: str
    address: str
    region: str
    modes: tuple[str, ...]
    seats_free: int  # from the heartbeat, less the seats other matches have claimed
    rooms_free: int
    ts_ms: int
    # Each game mode's declaration from the heartbeat's mode_info (elysium.modes.declaration).
    declarations: dict[str, ModeDeclaration] = field(default_factory=dict)
    undeclared: frozenset[str] = frozenset()  # modes whose advertised declaration did not parse


def _declarations(raw: Any) -> tuple[dict[str, ModeDeclaration], frozenset[str]]:
    """The heartbeat's ``mode_info``: declarations that parse, and the names of those that do not."""
    if not isinstance(raw, dict):
        return {}, frozenset()
    good: dict[str, ModeDeclaration] = {}
    bad: set[str] = set()
    for name, body in raw.items():
        try:
            good[name] = ModeDeclaration.parse(name, body)
        except SchemaError:
            bad.add(str(name))
    return good, frozenset(bad)


class ServerRegistry:
    def __init__(self, client: aioredis.Redis, *, fresh_s: float, hold_s: float, policy: str) -> None:
        self.client = client
        self.fresh_ms = int(fresh_s * 1000)
        self.hold_ms = int(hold_s * 1000)
        self.policy = policy
        self._claim = client.register_script(_CLAIM_SEATS)
        self._release = client.register_script(_RELEASE_SEATS)
        self._claimed = client.register_script(_CLAIMED)

    async def live(self, now_ms: int | None = None) -> list[LiveServer]:
        """Servers with a fresh heartbeat that are not draining, with claimed seats taken off."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        names = redisreply.texts(await self.client.zrangebyscore(shared_keys.SERVERS_LIVE, now - self.fresh_ms,
                                                                 "+inf"))
        if not names:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.get(shared_keys.server(name))
                await self._claimed(keys=[shared_keys.server(name), keys.seats(name), keys.seat_book(name)],
                                    args=[now, shared_keys.match_info("")], client=pipe)
            raw = redisreply.each(await pipe.execute(), 2 * len(names))
        out = []
        for k, name in enumerate(names):
            body = redisreply.optional_blob(raw[2 * k])
            if body is None:
                continue
            try:
                info = json.loads(body)
                claims = redisreply.integers(raw[2 * k + 1])
                claimed_seats, claimed_rooms = claims[0], claims[1]
                server = LiveServer(name, str(info["address"]), str(info["region"]), tuple(info.get("modes", ())),
                                    int(info["seats_free"]) - claimed_seats, int(info["rooms_free"]) - claimed_rooms,
                                    int(info["ts_ms"]))
                server.declarations, server.undeclared = _declarations(info.get("mode_info"))
            except (ValueError, KeyError, TypeError):
                continue  # a malformed heartbeat is ignored, not trusted
            if info.get("draining") or now - server.ts_ms > self.fresh_ms:
                continue
            out.append(server)
        return out

    def candidates(self, servers: Sequence[LiveServer], region: str, game_mode: str, seats: int) -> list[LiveServer]:
        """Servers that may host the match, best first by the allocation policy."""
        fit = [s for s in servers if s.region == region and game_mode in s.modes and s.seats_free >= seats
               and s.rooms_free >= 1]
        if self.policy == "pack":
            fit.sort(key=lambda s: (s.seats_free, s.server_id))
        else:
            fit.sort(key=lambda s: (-s.seats_free, s.server_id))
        return fit

    async def place(self, servers: Sequence[LiveServer], region: str, game_mode: str, seats: int, match_id: str,
                    now_ms: int, *, tries: int = 3) -> LiveServer | None:
        """Claim ``seats`` for ``match_id`` on the best of ``servers`` that accepts, trying up to
        ``tries`` candidates; the picture of each server asked is updated. None when none would."""
        for server in self.candidates(servers, region, game_mode, seats)[:tries]:
            if await self.claim(server, match_id, seats, now_ms) == "ok":
                server.seats_free -= seats
                server.rooms_free -= 1
                return server
            server.seats_free = 0  # the registry disagrees with our picture; skip it
        return None

    async def claim(self, server: LiveServer, match_id: str, seats: int, now_ms: int) -> str:
        """Promise ``seats`` on ``server`` for ``match_id``: "ok", or why not (full, draining, stale, ...)."""
        result = await self._claim(keys=[shared_keys.server(server.server_id), keys.seats(server.server_id),
                                         keys.seat_book(server.server_id)],
                                   args=[match_id, seats, now_ms, self.hold_ms, self.fresh_ms, server.region])
        return redisreply.script_text(result)

    async def claim_many(self, wanted: Sequence[tuple[LiveServer, str, int]], now_ms: int) -> list[str]:
        """Several claims (server, match id, seats) in one round trip; each is checked on its own, in order."""
        if not wanted:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for server, match_id, seats in wanted:
                await self._claim(keys=[shared_keys.server(server.server_id), keys.seats(server.server_id),
                                        keys.seat_book(server.server_id)],
                                  args=[match_id, seats, now_ms, self.hold_ms, self.fresh_ms, server.region],
                                  client=pipe)
            results = redisreply.each(await pipe.execute(), len(wanted))
        return [redisreply.script_text(r) for r in results]

    async def release(self, server_id: str, match_id: str) -> None:
        await self._release(keys=[keys.seats(server_id), keys.seat_book(server_id)], args=[match_id])
