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

from matchmaker import keys
from matchmaker.core import Proposal, QueueEntry

_CREATE = """
-- KEYS: ticket, queue, waiting, party (or the ticket again), player keys...
-- ARGV: id, created_ms, ttl_ms, region, size, channel, expected party members JSON ('' if none), fields...
for i = 5, #KEYS do
  local existing = redis.call('GET', KEYS[i])
  if existing then return {'exists', existing, tostring(i - 5)} end
end
if ARGV[7] ~= '' then
  local members = redis.call('HGET', KEYS[4], 'members')
  if members ~= ARGV[7] then return {'party_changed', '', '0'} end
  redis.call('HSET', KEYS[4], 'ticket', ARGV[1])
end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[4], ARGV[5])
for i = 5, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[3]) end
redis.call('PUBLISH', ARGV[6], 'queued')
return {'created', ARGV[1], '0'}
"""

_CLAIM = """
-- KEYS: forming, queue, waiting, tickets...   ARGV: match_id, deadline_ms
for i = 4, #KEYS do
  if redis.call('HGET', KEYS[i], 'status') ~= 'queued' then return 0 end
end
for i = 4, #KEYS do
  local t = redis.call('HMGET', KEYS[i], 'id', 'region', 'size')
  redis.call('HSET', KEYS[i], 'status', 'forming', 'match_id', ARGV[1])
  redis.call('ZREM', KEYS[2], t[1])
  if redis.call('HINCRBY', KEYS[3], t[2], -tonumber(t[3])) <= 0 then redis.call('HDEL', KEYS[3], t[2]) end
  redis.call('ZADD', KEYS[1], ARGV[2], t[1])
end
return 1
"""

_RELEASE = """
-- KEYS: forming, queue, waiting, tickets...   ARGV: match_id, ticket ids (same order)...
local n = 0
for i = 4, #KEYS do
  local t = redis.call('HMGET', KEYS[i], 'status', 'match_id', 'region', 'size', 'created_ms')
  if t[1] == 'forming' and t[2] == ARGV[1] then
    redis.call('HSET', KEYS[i], 'status', 'queued', 'match_id', '')
    redis.call('ZADD', KEYS[2], t[5], ARGV[i - 2])
    redis.call('HINCRBY', KEYS[3], t[3], t[4])
    n = n + 1
  end
  redis.call('ZREM', KEYS[1], ARGV[i - 2])
end
return n
"""

_ASSIGN = """
-- KEYS: forming, waits, tickets (n)..., player keys...
-- ARGV: match_id, now_ms, retention_ms, stats_ms, match JSON, n, waits kept, channels (n)...
local n = tonumber(ARGV[6])
for i = 3, 2 + n do
  local t = redis.call('HMGET', KEYS[i], 'status', 'match_id')
  if t[1] ~= 'forming' or t[2] ~= ARGV[1] then return 0 end
end
for i = 3, 2 + n do
  local t = redis.call('HMGET', KEYS[i], 'id', 'created_ms')
  redis.call('HSET', KEYS[i], 'status', 'matched', 'match', ARGV[5], 'ended_ms', ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
  redis.call('ZREM', KEYS[1], t[1])
  redis.call('LPUSH', KEYS[2], tonumber(ARGV[2]) - tonumber(t[2]))
  redis.call('PUBLISH', ARGV[5 + i], 'matched')
end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[7]) - 1)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
for i = 3 + n, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
"""

_END = """
-- KEYS: ticket, queue, waiting, forming, player keys...
-- ARGV: status (cancelled|expired), now_ms, retention_ms, channel, only when queued ('1'|'0'), reason
local t = redis.call('HMGET', KEYS[1], 'id', 'status', 'region', 'size')
if not t[1] then return 'missing' end
if t[2] == 'queued' then
  redis.call('ZREM', KEYS[2], t[1])
  if redis.call('HINCRBY', KEYS[3], t[3], -tonumber(t[4])) <= 0 then redis.call('HDEL', KEYS[3], t[3]) end
elseif t[2] == 'forming' and ARGV[5] == '0' then
  redis.call('ZREM', KEYS[4], t[1])
else
  return t[2]
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'match_id', '', 'ended_ms', ARGV[2], 'reason', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for i = 5, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 'ok'
"""

ACTIVE = ("queued", "forming")
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

    async def create(self, t: NewTicket) -> Created:
        region = t.regions[0][0]
        entry = json.dumps({"p": [p["id"] for p in t.players], "r": round(t.rating, 4),
                            "g": [[r, lat] for r, lat in t.regions], "t": t.created_ms, "f": int(t.fallback)},
                           separators=(",", ":"))
        fields: dict[str, str] = {
            "id": t.ticket_id, "mode": t.mode, "status": "queued", "leader": t.leader, "party": t.party,
            "players": json.dumps(list(t.players), separators=(",", ":")), "region": region,
            "size": str(len(t.players)), "created_ms": str(t.created_ms),
            "expires_ms": str(t.created_ms + self.ttl_ms), "entry": entry,
            "regions": json.dumps([[r, lat] for r, lat in t.regions]), "fallback": "1" if t.fallback else "0",
        }
        flat = [x for kv in fields.items() for x in kv]
        party_key = keys.party(t.party) if t.party else keys.ticket(t.ticket_id)
        key_ttl = self.ttl_ms + self.forming_ms + self.retention_ms
        result = await self._create(
            keys=[keys.ticket(t.ticket_id), keys.queue(t.mode), keys.waiting(t.mode), party_key,
                  *[keys.player(p["id"]) for p in t.players]],
            args=[t.ticket_id, t.created_ms, key_ttl, region, len(t.players), keys.events(t.ticket_id),
                  t.party_members_json, *flat],
        )
        kind, ticket_id, index = (x.decode() if isinstance(x, bytes) else str(x) for x in result)
        if kind == "created":
            return Created(True, ticket_id)
        if kind == "party_changed":
            return Created(False, "", party_changed=True)
        return Created(False, ticket_id, blocked_player=str(t.players[int(index)]["id"]))

    async def get(self, ticket_id: str) -> dict[str, str] | None:
        raw = await self.client.hgetall(keys.ticket(ticket_id))
        if not raw:
            return None
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def active_ticket_of(self, player_id: str) -> str | None:
        raw = await self.client.get(keys.player(player_id))
        return raw.decode() if raw else None

    async def cancel(self, ticket: dict[str, str], *, status: str = "cancelled", reason: str = "cancelled",
                     only_queued: bool = False, now_ms: int) -> str:
        """End an active ticket. Returns "ok", "missing" or the status that stopped it."""
        players = [p["id"] for p in json.loads(ticket["players"])]
        result = await self._end(
            keys=[keys.ticket(ticket["id"]), keys.queue(ticket["mode"]), keys.waiting(ticket["mode"]), keys.FORMING,
                  *[keys.player(p) for p in players]],
            args=[status, now_ms, self.retention_ms, keys.events(ticket["id"]), "1" if only_queued else "0", reason],
        )
        return result.decode() if isinstance(result, bytes) else str(result)

    # --- matching -----------------------------------------------------------------------------

    async def waiting_entries(self, mode: str, limit: int) -> list[QueueEntry]:
        ids = await self.client.zrange(keys.queue(mode), 0, limit - 1)
        if not ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for raw_id in ids:
                pipe.hget(keys.ticket(raw_id.decode()), "entry")
            raws = await pipe.execute()
        out, gone = [], []
        for raw_id, raw in zip(ids, raws, strict=True):
            if raw is None:
                gone.append(raw_id)
            else:
                out.append(entry_of(raw_id.decode(), raw))
        if gone:  # the ticket's own expiry beat the sweep; drop the dangling members
            await self.client.zrem(keys.queue(mode), *gone)
        return out

    async def claim(self, proposals: Sequence[tuple[str, Proposal]]) -> list[bool]:
        """Move each proposal's tickets to forming, all or none per proposal."""
        if not proposals:
            return []
        deadline = _now_ms() + self.forming_ms
        async with self.client.pipeline(transaction=False) as pipe:
            for match_id, prop in proposals:
                await self._claim(keys=[keys.FORMING, keys.queue(prop.mode), keys.waiting(prop.mode),
                                        *[keys.ticket(t) for t in prop.tickets]],
                                  args=[match_id, deadline], client=pipe)
            results = await pipe.execute()
        return [bool(r) for r in results]

    async def assign(self, items: Sequence[tuple[str, Proposal, dict[str, Any]]], now_ms: int) -> list[bool]:
        """Mark each forming match's tickets matched with their assignment, all or none per match."""
        if not items:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for match_id, prop, match in items:
                players = [p for p, _ in prop.roster]
                await self._assign(
                    keys=[keys.FORMING, keys.waits(prop.mode), *[keys.ticket(t) for t in prop.tickets],
                          *[keys.player(p) for p in players]],
                    args=[match_id, now_ms, self.retention_ms, self.stats_ms,
                          json.dumps(match, separators=(",", ":")), len(prop.tickets), keys.WAITS_KEPT,
                          *[keys.events(t) for t in prop.tickets]],
                    client=pipe)
            results = await pipe.execute()
        return [bool(r) for r in results]

    async def release(self, items: Sequence[tuple[str, str, Sequence[str]]]) -> int:
        """Queue forming tickets again: (match id, mode, ticket ids) per match."""
        if not items:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for match_id, mode, tickets in items:
                await self._release(keys=[keys.FORMING, keys.queue(mode), keys.waiting(mode),
                                          *[keys.ticket(t) for t in tickets]],
                                    args=[match_id, *tickets], client=pipe)
            results = await pipe.execute()
        return sum(int(r) for r in results)

    # --- housekeeping -------------------------------------------------------------------------

    async def sweep(self, modes: Sequence[str], now_ms: int, batch: int = 500) -> tuple[int, int]:
        """Expire tickets that waited too long; queue again those a dead replica left forming."""
        expired = 0
        for mode in modes:
            ids = await self.client.zrangebyscore(keys.queue(mode), "-inf", now_ms - self.ttl_ms, start=0, num=batch)
            for raw_id in ids:
                ticket = await self.get(raw_id.decode())
                if ticket is None:
                    await self.client.zrem(keys.queue(mode), raw_id)
                    continue
                if await self.cancel(ticket, status="expired", reason="expired", only_queued=True,
                                     now_ms=now_ms) == "ok":
                    expired += 1
        requeued = 0
        overdue = await self.client.zrangebyscore(keys.FORMING, "-inf", now_ms, start=0, num=batch)
        for raw_id in overdue:
            ticket_id = raw_id.decode()
            fields = await self.client.hmget(keys.ticket(ticket_id), "mode", "match_id")
            if fields[0] is None:
                await self.client.zrem(keys.FORMING, ticket_id)
                continue
            requeued += await self.release([(fields[1].decode(), fields[0].decode(), [ticket_id])])
        return expired, requeued

    # --- statistics ---------------------------------------------------------------------------

    async def stats(self, modes: Sequence[str]) -> dict[str, tuple[dict[str, int], list[int]]]:
        async with self.client.pipeline(transaction=False) as pipe:
            for mode in modes:
                pipe.hgetall(keys.waiting(mode))
                pipe.lrange(keys.waits(mode), 0, -1)
            raw = await pipe.execute()
        out = {}
        for i, mode in enumerate(modes):
            waiting = {k.decode(): int(v) for k, v in raw[2 * i].items()}
            out[mode] = (waiting, [int(w) for w in raw[2 * i + 1]])
        return out


def _now_ms() -> int:
    return int(time.time() * 1000)
