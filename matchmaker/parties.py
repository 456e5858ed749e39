"""PartyBook: players who queue together. A party lives ``party_ttl_s`` from its creation;
the party hash and every member's marker expire at the same instant, and leaving deletes
the marker (the leader leaving disbands the party).

Each party has a chat channel (``party:<code>``, :mod:`elysium.chat`) whose members follow
the party's: added on create and join, removed on leave, the channel closed when the party
is disbanded; its membership expires with the party."""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis.asyncio as aioredis

from elysium import chat, redisreply
from matchmaker import keys
from matchmaker.codes import DRAWS, NoFreeCode, new_code

_CREATE = """
-- KEYS: party, member   ARGV: code, leader, members JSON, expires_at_ms
local cur = redis.call('GET', KEYS[2])
if cur then return {'in_party', cur} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'taken', ''} end
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'leader', ARGV[2], 'members', ARGV[3], 'ticket', '',
           'expires_ms', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[1], 'PXAT', ARGV[4])
return {'ok', ARGV[1]}
"""

_JOIN = """
-- KEYS: party, member   ARGV: code, player, name, max size
local p = redis.call('HMGET', KEYS[1], 'members', 'expires_ms')
if not p[1] then return 'missing' end
local cur = redis.call('GET', KEYS[2])
if cur == ARGV[1] then return 'ok' end
if cur then return 'in_party' end
local members = cjson.decode(p[1])
if #members >= tonumber(ARGV[4]) then return 'full' end
members[#members + 1] = {id = ARGV[2], name = ARGV[3]}
redis.call('HSET', KEYS[1], 'members', cjson.encode(members))
redis.call('SET', KEYS[2], ARGV[1], 'PXAT', p[2])
return 'ok'
"""

_LEAVE = """
-- KEYS: party, member of the leaver, member markers of everyone (when the leader leaves)...
-- ARGV: code, player, members JSON as read
local p = redis.call('HMGET', KEYS[1], 'members', 'leader')
if not p[1] then return 'missing' end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'not_member' end
if p[1] ~= ARGV[3] then return 'retry' end
if p[2] == ARGV[2] then
  for i = 3, #KEYS do
    if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
  end
  redis.call('DEL', KEYS[1], KEYS[2])
  return 'disbanded'
end
local members = cjson.decode(p[1])
local kept = {}
for _, m in ipairs(members) do if m.id ~= ARGV[2] then kept[#kept + 1] = m end end
redis.call('HSET', KEYS[1], 'members', cjson.encode(kept))
redis.call('DEL', KEYS[2])
return 'left'
"""


@dataclass(frozen=True, slots=True)
class Party:
    code: str
    leader: str
    members: tuple[dict[str, str], ...]  # {"id", "name"}, leader first
    members_json: str  # as stored, to detect changes atomically
    ticket: str
    expires_ms: int


class PartyBook:
    def __init__(self, client: aioredis.Redis, *, ttl_s: float, max_size: int) -> None:
        self.client = client
        self.ttl_ms = int(ttl_s * 1000)
        self.max_size = max_size
        self._create = client.register_script(_CREATE)
        self._join = client.register_script(_JOIN)
        self._leave = client.register_script(_LEAVE)

    async def create(self, leader: str, name: str, now_ms: int) -> tuple[str, str]:
        """("ok", code) or ("in_party", code of the party the leader is already in)."""
        members = json.dumps([{"id": leader, "name": name}], separators=(",", ":"))
        for _ in range(DRAWS):
            code = new_code()
            kind, found = redisreply.script_texts(await self._create(keys=[keys.party(code), keys.member(leader)],
                                                                     args=[code, leader, members, now_ms + self.ttl_ms]))
            if kind == "ok":
                await chat.add_members(self.client, chat.party_channel(code), [leader], self._chat_ttl_s())
            if kind != "taken":
                return kind, found
        raise NoFreeCode("could not find a free party code")

    async def get(self, code: str) -> Party | None:
        d = redisreply.text_map(await self.client.hgetall(keys.party(code)))
        if not d:
            return None
        return Party(d["code"], d["leader"], tuple(_members(d["members"])), d["members"], d.get("ticket", ""),
                     int(d["expires_ms"]))

    async def code_of(self, player_id: str) -> str | None:
        """The code of the party the player is in, if any."""
        return redisreply.optional_text(await self.client.get(keys.member(player_id)))

    async def join(self, code: str, player_id: str, name: str) -> str:
        result = redisreply.script_text(await self._join(keys=[keys.party(code), keys.member(player_id)],
                                                         args=[code, player_id, name, self.max_size]))
        if result == "ok":
            await chat.add_members(self.client, chat.party_channel(code), [player_id], self._chat_ttl_s())
        return result

    async def leave(self, code: str, player_id: str) -> str:
        for _ in range(10):
            party = await self.get(code)
            if party is None:
                return "missing"
            member_keys = [keys.member(m["id"]) for m in party.members]
            result = redisreply.script_text(await self._leave(keys=[keys.party(code), keys.member(player_id),
                                                                    *member_keys],
                                                              args=[code, player_id, party.members_json]))
            if result == "left":
                await chat.remove_members(self.client, chat.party_channel(code), [player_id])
            elif result == "disbanded":
                await chat.close_channel(self.client, chat.party_channel(code))
            if result != "retry":
                return result
        return "retry"

    def _chat_ttl_s(self) -> int:
        return max(1, -(-self.ttl_ms // 1000))


def _members(raw: str) -> list[dict[str, str]]:
    data = json.loads(raw)
    return [{"id": str(m["id"]), "name": str(m.get("name", m["id"]))} for m in data] if isinstance(data, list) else []
