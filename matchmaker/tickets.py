"""TicketQueue: tickets in Redis, and every change of a ticket's status as one Lua script.

Status changes (``docs/matchmaker.md`` has the diagram)::

    queued ──claim──▶ forming ──assign──▶ matched
      ▲  │              │ release (no server, lost race, replica died)
      │  │              ▼
      │  └─cancel/expire─▶ cancelled | expired     forming ──cancel──▶ cancelled
      └───────────────────┘

Each script checks the status it expects for *every* ticket it touches before it changes
any, so a ticket is in one match or in none, whichever replica runs which script when.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from elysium import presence, redisreply
from matchmaker import keys
from matchmaker.core import Proposal, QueueEntry

_CREATE = """
-- KEYS: ticket, queue, waiting, entries, party (or the ticket again), player keys (n), presence keys (n)
-- ARGV: ttl_ms, channel, expected party members JSON ('' if none), ticket fields as one JSON object,
--       n, the in_queue presence value (elysium.presence)
local last = 5 + tonumber(ARGV[5])
for i = 6, last do
  local existing = redis.call('GET', KEYS[i])
  if existing then return {'exists', existing, tostring(i - 6)} end
end
local t = cjson.decode(ARGV[4])
if ARGV[3] ~= '' then
  local members = redis.call('HGET', KEYS[5], 'members')
  if members ~= ARGV[3] then return {'party_changed', '', '0'} end
  redis.call('HSET', KEYS[5], 'ticket', t.id)
end
local fields = {}
for k, v in pairs(t) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], t.created_ms, t.id)
redis.call('HINCRBY', KEYS[3], t.region, t.size)
redis.call('HSET', KEYS[4], t.id, t.entry)
for i = 6, last do redis.call('SET', KEYS[i], t.id, 'PX', ARGV[1]) end
for i = last + 1, #KEYS do redis.call('SET', KEYS[i], ARGV[6], 'PX', ARGV[1]) end
redis.call('PUBLISH', ARGV[2], 'queued ' .. t.id)
return {'created', t.id, '0'}
"""

# The batch scripts below take many matches per call; each match is still all or nothing.
# Ticket, player and channel names are built from the prefixes passed in ARGV, so on Redis
# Cluster every matchmaker key must share one hash slot (see docs/matchmaker.md).

_CLAIM = """
-- KEYS: forming, queue, waiting, entries
-- ARGV: deadline_ms, ticket prefix, then per match: match_id, n, ticket ids (n)...
local out = {}
local waiting = {}
local i = 3
while i <= #ARGV do
  local mid, n = ARGV[i], tonumber(ARGV[i + 1])
  local ids, seen = {}, {}
  local ok = 1
  for k = 1, n do
    local id = ARGV[i + 1 + k]
    local t = redis.call('HMGET', ARGV[2] .. id, 'status', 'region', 'size')
    if t[1] ~= 'queued' then ok = 0 break end
    ids[k] = id
    seen[k] = t
  end
  if ok == 1 then
    local forming = {}
    for k = 1, n do
      redis.call('HSET', ARGV[2] .. ids[k], 'status', 'forming', 'match_id', mid)
      waiting[seen[k][2]] = (waiting[seen[k][2]] or 0) + tonumber(seen[k][3])
      forming[#forming + 1] = ARGV[1]
      forming[#forming + 1] = ids[k]
    end
    redis.call('ZREM', KEYS[2], unpack(ids))
    redis.call('HDEL', KEYS[4], unpack(ids))
    redis.call('ZADD', KEYS[1], unpack(forming))
  end
  out[#out + 1] = ok
  i = i + 2 + n
end
for region, size in pairs(waiting) do
  if redis.call('HINCRBY', KEYS[3], region, -size) <= 0 then redis.call('HDEL', KEYS[3], region) end
end
return out
"""

_RELEASE = """
-- KEYS: forming, queue, waiting, entries
-- ARGV: ticket prefix, then per match: match_id, n, ticket ids (n)...
local back = 0
local i = 2
while i <= #ARGV do
  local mid, n = ARGV[i], tonumber(ARGV[i + 1])
  for k = 1, n do
    local id = ARGV[i + 1 + k]
    local key = ARGV[1] .. id
    local t = redis.call('HMGET', key, 'status', 'match_id', 'region', 'size', 'created_ms', 'entry')
    if t[1] == 'forming' and t[2] == mid then
      redis.call('HSET', key, 'status', 'queued', 'match_id', '')
      redis.call('ZADD', KEYS[2], t[5], id)
      redis.call('HSET', KEYS[4], id, t[6])
      redis.call('HINCRBY', KEYS[3], t[3], t[4])
      back = back + 1
    end
    redis.call('ZREM', KEYS[1], id)
  end
  i = i + 2 + n
end
return back
"""

_ASSIGN = """
-- KEYS: forming, waits
-- ARGV: now_ms, retention_ms, stats_ms, waits kept, ticket prefix, player prefix, events channel,
--       then per match: match_id, match JSON, n, ticket ids (n)...
local out = {}
local now = tonumber(ARGV[1])
local matched = {'matched'}
local i = 8
while i <= #ARGV do
  local mid, match, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local ids, rows = {}, {}
  local ok = 1
  for k = 1, n do
    local id = ARGV[i + 2 + k]
    local t = redis.call('HMGET', ARGV[5] .. id, 'status', 'match_id', 'created_ms', 'entry')
    if t[1] ~= 'forming' or t[2] ~= mid then ok = 0 break end
    ids[k] = id
    rows[k] = t
  end
  if ok == 1 then
    local waits, players = {}, {}
    for k = 1, n do
      local key = ARGV[5] .. ids[k]
      redis.call('HSET', key, 'status', 'matched', 'match', match, 'ended_ms', ARGV[1])
      redis.call('PEXPIRE', key, ARGV[2])
      waits[k] = now - tonumber(rows[k][3])
      for _, pid in ipairs(cjson.decode(rows[k][4]).p) do players[#players + 1] = ARGV[6] .. pid end
      matched[#matched + 1] = ids[k]
    end
    redis.call('ZREM', KEYS[1], unpack(ids))
    redis.call('LPUSH', KEYS[2], unpack(waits))
    redis.call('DEL', unpack(players))
  end
  out[#out + 1] = ok
  i = i + 3 + n
end
if #matched > 1 then
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  redis.call('PUBLISH', ARGV[7], table.concat(matched, ' '))
end
return out
"""

_END = """
-- KEYS: ticket, queue, waiting, forming, entries, player keys and their in_queue presence keys...
-- ARGV: status (cancelled|expired), now_ms, retention_ms, channel, only when queued ('1'|'0'), reason
local t = redis.call('HMGET', KEYS[1], 'id', 'status', 'region', 'size')
if not t[1] then return 'missing' end
if t[2] == 'queued' then
  redis.call('ZREM', KEYS[2], t[1])
  redis.call('HDEL', KEYS[5], t[1])
  if redis.call('HINCRBY', KEYS[3], t[3], -tonumber(t[4])) <= 0 then redis.call('HDEL', KEYS[3], t[3]) end
elseif t[2] == 'forming' and ARGV[5] == '0' then
  redis.call('ZREM', KEYS[4], t[1])
else
  return t[2]
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'match_id', '', 'ended_ms', ARGV[2], 'reason', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for i = 6, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('PUBLISH', ARGV[4], ARGV[1] .. ' ' .. t[1])
return 'ok'
"""

BATCH_MATCHES = 200  # matches per script call: bounds how long one call holds Redis

FINAL = ("matched", "cancelled", "expired")


@dataclass(frozen=True, slots=True)
class NewTicket:
    ticket_id: str
    mode: str
    leader: str
    party: str  # party code, or ""
    party_members_json: str  # the party's members as stored, checked atomically ("" without a party)
    players: tuple[dict[str, Any], ...]  # {"id", "name", "rating"}
    regions: tuple[tuple[str, float], ...]
    fallback: bool
    created_ms: int

    @property
    def rating(self) -> float:
        return sum(float(p["rating"]) for p in self.players) / len(self.players)


@dataclass(frozen=True, slots=True)
class Created:
    created: bool
    ticket_id: str  # the new ticket, or the existing one that blocked it
    blocked_player: str = ""  # who already has a ticket, when not created
    party_changed: bool = False


def entry_of(ticket_id: str, raw: bytes | str) -> QueueEntry:
    data = json.loads(raw)
    return QueueEntry(ticket_id, tuple(data["p"]), float(data["r"]), tuple((r, float(l)) for r, l in data["g"]),
                      int(data["t"]), bool(data["f"]))


class TicketQueue:
    """Tickets of every mode: create, read, claim for a match, assign, release, cancel, expire."""

    def __init__(self, client: aioredis.Redis, *, ttl_s: float, retention_s: float, forming_timeout_s: float,
                 stats_window_s: float) -> None:
        self.client = client
        self.ttl_ms = int(ttl_s * 1000)
        self.retention_ms = int(retention_s * 1000)
        self.forming_ms = int(forming_timeout_s * 1000)
        self.stats_ms = int(stats_window_s * 1000)
        self._create = client.register_script(_CREATE)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._assign = client.register_script(_ASSIGN)
        self._end = client.register_script(_END)

    # --- players ----------------------------------------------------------------------------

    def as_stored(self, t: NewTicket) -> dict[str, str]:
        """The ticket's hash fields as :meth:`create` writes them."""
        entry = json.dumps({"p": [p["id"] for p in t.players], "r": round(t.rating, 4),
                            "g": [[r, lat] for r, lat in t.regions], "t": t.created_ms, "f": int(t.fallback)},
                           separators=(",", ":"))
        return {
            "id": t.ticket_id, "mode": t.mode, "status": "queued", "leader": t.leader, "party": t.party,
            "players": json.dumps(list(t.players), separators=(",", ":")), "region": t.regions[0][0],
            "size": str(len(t.players)), "created_ms": str(t.created_ms),
            "expires_ms": str(t.created_ms + self.ttl_ms), "entry": entry,
            "regions": json.dumps([[r, lat] for r, lat in t.regions]), "fallback": "1" if t.fallback else "0",
        }

    async def create(self, t: NewTicket) -> Created:
        party_key = keys.party(t.party) if t.party else keys.ticket(t.ticket_id)
        key_ttl = self.ttl_ms + self.forming_ms + self.retention_ms
        players = [p["id"] for p in t.players]
        # The players show in the queue (elysium.presence) from the same script: no extra round
        # trip. The script ending the ticket deletes it; the assign clears it for a whole pass.
        result = await self._create(
            keys=[keys.ticket(t.ticket_id), keys.queue(t.mode), keys.waiting(t.mode), keys.entries(t.mode), party_key,
                  *[keys.player(p) for p in players], *[presence.key(p, presence.State.IN_QUEUE) for p in players]],
            args=[key_ttl, keys.EVENTS, t.party_members_json, json.dumps(self.as_stored(t), separators=(",", ":")),
                  len(players), presence.stored(presence.State.IN_QUEUE, now_ms=t.created_ms)],
        )
        kind, ticket_id, index = redisreply.script_texts(result)
        if kind == "created":
            return Created(True, ticket_id)
        if kind == "party_changed":
            return Created(False, "", party_changed=True)
        return Created(False, ticket_id, blocked_player=str(t.players[int(index)]["id"]))

    async def get(self, ticket_id: str) -> dict[str, str] | None:
        fields = redisreply.text_map(await self.client.hgetall(keys.ticket(ticket_id)))
        return fields or None

    async def active_ticket_of(self, player_id: str) -> str | None:
        return redisreply.optional_text(await self.client.get(keys.player(player_id))) or None

    async def cancel(self, ticket: dict[str, str], *, status: str = "cancelled", reason: str = "cancelled",
                     only_queued: bool = False, now_ms: int) -> str:
        """End an active ticket. Returns "ok", "missing" or the status that stopped it."""
        players = [p["id"] for p in json.loads(ticket["players"])]
        result = await self._end(
            keys=[keys.ticket(ticket["id"]), keys.queue(ticket["mode"]), keys.waiting(ticket["mode"]), keys.FORMING,
                  keys.entries(ticket["mode"]), *[keys.player(p) for p in players],
                  *[presence.key(p, presence.State.IN_QUEUE) for p in players]],
            args=[status, now_ms, self.retention_ms, keys.EVENTS, "1" if only_queued else "0", reason],
        )
        return redisreply.script_text(result)

    # --- matching -----------------------------------------------------------------------------

    async def waiting_entries(self, mode: str, limit: int) -> list[QueueEntry]:
        ids = redisreply.texts(await self.client.zrange(keys.queue(mode), 0, limit - 1))
        if not ids:
            return []
        raws = redisreply.optional_blobs(await self.client.hmget(keys.entries(mode), ids))
        out: list[QueueEntry] = []
        gone: list[str] = []
        for ticket_id, raw in zip(ids, raws, strict=True):
            if raw is None:
                gone.append(ticket_id)
            else:
                out.append(entry_of(ticket_id, raw))
        if gone:  # the ticket's own expiry beat the sweep; drop the dangling members
            await self.client.zrem(keys.queue(mode), *gone)
        return out

    async def claim(self, proposals: Sequence[tuple[str, Proposal]]) -> list[bool]:
        """Move each proposal's tickets to forming, all or none per proposal."""
        out: list[bool] = []
        deadline = _now_ms() + self.forming_ms
        by_mode: dict[str, list[int]] = {}
        for n, (_, prop) in enumerate(proposals):
            by_mode.setdefault(prop.mode, []).append(n)
        results: dict[int, bool] = {}
        for mode, idx in by_mode.items():
            for chunk in _chunks(idx, BATCH_MATCHES):
                args: list[Any] = [deadline, keys.ticket("")]
                for n in chunk:
                    match_id, prop = proposals[n]
                    args += [match_id, len(prop.tickets), *prop.tickets]
                got = redisreply.script_flags(await self._claim(
                    keys=[keys.FORMING, keys.queue(mode), keys.waiting(mode), keys.entries(mode)], args=args))
                results.update(zip(chunk, got, strict=True))
        out = [results[n] for n in range(len(proposals))]
        return out

    async def assign(self, items: Sequence[tuple[str, Proposal, dict[str, Any]]], now_ms: int) -> list[bool]:
        """Mark each forming match's tickets matched with their assignment, all or none per match."""
        results: dict[int, bool] = {}
        by_mode: dict[str, list[int]] = {}
        for n, (_, prop, _) in enumerate(items):
            by_mode.setdefault(prop.mode, []).append(n)
        for mode, idx in by_mode.items():
            for chunk in _chunks(idx, BATCH_MATCHES):
                args: list[Any] = [now_ms, self.retention_ms, self.stats_ms, keys.WAITS_KEPT, keys.ticket(""),
                                   keys.player(""), keys.EVENTS]
                for n in chunk:
                    match_id, prop, match = items[n]
                    args += [match_id, json.dumps(match, separators=(",", ":")), len(prop.tickets), *prop.tickets]
                got = redisreply.script_flags(await self._assign(keys=[keys.FORMING, keys.waits(mode)], args=args))
                results.update(zip(chunk, got, strict=True))
        matched = [player for n, (_, prop, _) in enumerate(items) if results[n] for player, _ in prop.roster]
        if matched:  # out of the queue; the game server shows them in the match once they take their seats
            await presence.clear_state(self.client, matched, presence.State.IN_QUEUE)
        return [results[n] for n in range(len(items))]

    async def release(self, items: Sequence[tuple[str, str, Sequence[str]]]) -> int:
        """Queue forming tickets again: (match id, mode, ticket ids) per match."""
        back = 0
        by_mode: dict[str, list[int]] = {}
        for n, (_, mode, _) in enumerate(items):
            by_mode.setdefault(mode, []).append(n)
        for mode, idx in by_mode.items():
            for chunk in _chunks(idx, BATCH_MATCHES):
                args: list[Any] = [keys.ticket("")]
                for n in chunk:
                    match_id, _, tickets = items[n]
                    args += [match_id, len(tickets), *tickets]
                back += redisreply.integer(await self._release(keys=[keys.FORMING, keys.queue(mode), keys.waiting(mode),
                                                                     keys.entries(mode)], args=args))
        return back

    # --- housekeeping -------------------------------------------------------------------------

    async def sweep(self, modes: Sequence[str], now_ms: int, batch: int = 500) -> tuple[int, int]:
        """Expire tickets that waited too long; queue again those a dead replica left forming."""
        expired = 0
        for mode in modes:
            ids = redisreply.texts(await self.client.zrangebyscore(keys.queue(mode), "-inf", now_ms - self.ttl_ms,
                                                                   start=0, num=batch))
            for ticket_id in ids:
                ticket = await self.get(ticket_id)
                if ticket is None:
                    await self.client.zrem(keys.queue(mode), ticket_id)
                    continue
                if await self.cancel(ticket, status="expired", reason="expired", only_queued=True,
                                     now_ms=now_ms) == "ok":
                    expired += 1
        requeued = 0
        overdue = redisreply.texts(await self.client.zrangebyscore(keys.FORMING, "-inf", now_ms, start=0, num=batch))
        for ticket_id in overdue:
            ticket_mode, match_id = redisreply.optional_texts(await self.client.hmget(keys.ticket(ticket_id), "mode",
                                                                                      "match_id"))
            if ticket_mode is None:
                await self.client.zrem(keys.FORMING, ticket_id)
                continue
            requeued += await self.release([(redisreply.text(match_id), ticket_mode, [ticket_id])])
        return expired, requeued

    # --- statistics ---------------------------------------------------------------------------

    async def depths(self, modes: Sequence[str]) -> dict[str, int]:
        """Tickets waiting in each mode's queue (every replica sees the same queues)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for mode in modes:
                pipe.zcard(keys.queue(mode))
            counts = await pipe.execute()
        return {mode: int(n) for mode, n in zip(modes, counts, strict=True)}

    async def stats(self, modes: Sequence[str]) -> dict[str, tuple[dict[str, int], list[int]]]:
        async with self.client.pipeline(transaction=False) as pipe:
            for mode in modes:
                pipe.hgetall(keys.waiting(mode))
                pipe.lrange(keys.waits(mode), 0, -1)
            raw = redisreply.each(await pipe.execute(), 2 * len(modes))
        out: dict[str, tuple[dict[str, int], list[int]]] = {}
        for i, mode in enumerate(modes):
            out[mode] = (redisreply.int_map(raw[2 * i]), redisreply.integers(raw[2 * i + 1]))
        return out


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[k:k + size] for k in range(0, len(items), size)]


def _now_ms() -> int:
    return int(time.time() * 1000)
