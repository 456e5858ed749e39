"""GameBook: custom games in Redis, every change one Lua script.

A custom game is a ticket of status ``hosted`` that its members share (``ticket:{id}``,
with the game's fields beside the ticket's), found by its join code (``game:{code}``).
Each member's ``player:{id}`` marker names the game's ticket, as it names a queued
ticket, so a player sits in one game or one queue, never both, and the same scripts that
queue players refuse those seated in a game. Starting moves the ticket through
``forming`` to ``matched`` with the assignment of a room, exactly as the matching loop
does, so members receive their join tokens from the ticket (``GET /v1/tickets/{id}`` and
its event stream) like matched players::

    hosted ──begin──▶ forming ──assign──▶ matched
      ▲                 │ unform (no server)
      └─────────────────┘
    hosted ──last member leaves──▶ cancelled (reason game_empty)

Every script reads the status and members it acts on and changes them in the same step:
two replicas racing for the last seat cannot both take it. A game not started expires
``idle_s`` after its last change: the ticket, the code and every member's marker share one
deadline, moved forward by each change. Ticket and player keys are built from prefixes
passed in ARGV, as ``tickets.py`` does (see docs/matchmaker.md on Redis Cluster).

Each game has a chat channel (``game:<code>``, :mod:`elysium.chat`) whose members follow the
game's: added when they host or join, removed when they leave or are kicked, the channel
closed when the last member leaves. It outlives the start, so the players keep talking in
the match's lobby channel until the membership expires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from elysium import chat, redisreply
from matchmaker import keys
from matchmaker.codes import DRAWS, NoFreeCode, new_code
from matchmaker.gamerules import lobby_entry, state_of

_COMMON = """
local function touch(ticket, code_key, prefix, members, at)
  redis.call('PEXPIREAT', ticket, at)
  redis.call('PEXPIREAT', code_key, at)
  for _, m in ipairs(members) do redis.call('PEXPIREAT', prefix .. m.id, at) end
  redis.call('HSET', ticket, 'expires_ms', at)
end
local function list(lobby, entry, shown, idle_ms)
  if entry == '' then return end
  if shown then
    redis.call('ZADD', lobby, 0, entry)
    redis.call('PEXPIRE', lobby, idle_ms)
  else
    redis.call('ZREM', lobby, entry)
  end
end
"""

_HOST = _COMMON + """
-- KEYS: ticket, code, host's player marker, lobby   ARGV: fields JSON, deadline_ms, idle_ms, lobby entry ('' private)
local cur = redis.call('GET', KEYS[3])
if cur then return {'busy', cur} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'taken', ''} end
local t = cjson.decode(ARGV[1])
local fields = {}
for k, v in pairs(t) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], t.id, 'PXAT', ARGV[2])
redis.call('SET', KEYS[3], t.id, 'PXAT', ARGV[2])
list(KEYS[4], ARGV[4], true, ARGV[3])
return {'ok', t.id}
"""

_JOIN = _COMMON + """
-- KEYS: ticket, joiner's player marker, code, lobby
-- ARGV: ticket id, player, name, now_ms, deadline_ms, idle_ms, player prefix
local t = redis.call('HMGET', KEYS[1], 'status', 'players', 'seats', 'locked', 'listing')
if not t[1] then return {'missing', ''} end
local cur = redis.call('GET', KEYS[2])
if cur == ARGV[1] then return {'member', ''} end
if cur then return {'busy', cur} end
if t[1] ~= 'hosted' then return {'started', t[1]} end
if t[4] == '1' then return {'locked', ''} end
local members = cjson.decode(t[2])
local seats = tonumber(t[3])
if #members >= seats then return {'full', ''} end
members[#members + 1] = {id = ARGV[2], name = ARGV[3], since_ms = tonumber(ARGV[4])}
redis.call('HSET', KEYS[1], 'players', cjson.encode(members), 'size', #members)
redis.call('SET', KEYS[2], ARGV[1], 'PXAT', ARGV[5])
touch(KEYS[1], KEYS[3], ARGV[7], members, ARGV[5])
list(KEYS[4], t[5], #members < seats, ARGV[6])
return {'ok', ''}
"""

_LEAVE = _COMMON + """
-- KEYS: ticket, leaver's player marker, code, lobby
-- ARGV: ticket id, player, host ('' when leaving, the host's id when kicking), now_ms, deadline_ms, idle_ms,
--       player prefix, retention_ms, events channel
local t = redis.call('HMGET', KEYS[1], 'status', 'players', 'seats', 'locked', 'listing', 'leader')
if not t[1] then return {'missing', ''} end
if ARGV[3] ~= '' and t[6] ~= ARGV[3] then return {'not_host', ''} end
if t[1] ~= 'hosted' then return {'started', t[1]} end
local kept, found = {}, false
for _, m in ipairs(cjson.decode(t[2])) do
  if m.id == ARGV[2] then found = true else kept[#kept + 1] = m end
end
if not found then return {'not_member', ''} end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if #kept == 0 then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'reason', 'game_empty', 'ended_ms', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  redis.call('DEL', KEYS[3])
  list(KEYS[4], t[5], false, ARGV[6])
  redis.call('PUBLISH', ARGV[9], 'cancelled ' .. ARGV[1])
  return {'empty', ''}
end
local host = t[6]
if host == ARGV[2] then host = kept[1].id end  -- the longest seated member hosts now
redis.call('HSET', KEYS[1], 'players', cjson.encode(kept), 'leader', host, 'size', #kept)
touch(KEYS[1], KEYS[3], ARGV[7], kept, ARGV[5])
list(KEYS[4], t[5], t[4] ~= '1', ARGV[6])
return {'left', host}
"""

_LOCK = _COMMON + """
-- KEYS: ticket, code, lobby   ARGV: host, '1' lock | '0' unlock, deadline_ms, idle_ms, player prefix
local t = redis.call('HMGET', KEYS[1], 'status', 'players', 'seats', 'listing', 'leader')
if not t[1] then return {'missing', ''} end
if t[5] ~= ARGV[1] then return {'not_host', ''} end
if t[1] ~= 'hosted' then return {'started', t[1]} end
local members = cjson.decode(t[2])
redis.call('HSET', KEYS[1], 'locked', ARGV[2])
touch(KEYS[1], KEYS[2], ARGV[5], members, ARGV[3])
list(KEYS[3], t[4], ARGV[2] == '0' and #members < tonumber(t[3]), ARGV[4])
return {'ok', ''}
"""

_BEGIN = """
-- KEYS: ticket   ARGV: host, match_id, now_ms, forming_ms, fewest members
local t = redis.call('HMGET', KEYS[1], 'status', 'leader', 'players', 'forming_until')
if not t[1] then return {'missing', ''} end
if t[2] ~= ARGV[1] then return {'not_host', ''} end
if t[1] == 'matched' then return {'matched', ''} end
local now = tonumber(ARGV[3])
if t[1] == 'forming' and tonumber(t[4]) > now then return {'forming', ''} end
if t[1] ~= 'hosted' and t[1] ~= 'forming' then return {'ended', t[1]} end
if #cjson.decode(t[3]) < tonumber(ARGV[5]) then return {'too_few', ''} end
redis.call('HSET', KEYS[1], 'status', 'forming', 'match_id', ARGV[2], 'forming_until', now + tonumber(ARGV[4]))
return {'ok', t[3]}
"""

_ASSIGN = """
-- KEYS: ticket, code, lobby   ARGV: ticket id, match_id, match JSON, now_ms, retention_ms, player prefix, channel
local t = redis.call('HMGET', KEYS[1], 'status', 'match_id', 'players', 'listing')
if t[1] ~= 'forming' or t[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'matched', 'match', ARGV[3], 'ended_ms', ARGV[4], 'forming_until', '')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if t[4] ~= '' then redis.call('ZREM', KEYS[3], t[4]) end
for _, m in ipairs(cjson.decode(t[3])) do
  if redis.call('GET', ARGV[6] .. m.id) == ARGV[1] then redis.call('DEL', ARGV[6] .. m.id) end
end
redis.call('PUBLISH', ARGV[7], 'matched ' .. ARGV[1])
return 1
"""

_UNFORM = """
-- KEYS: ticket   ARGV: match_id
local t = redis.call('HMGET', KEYS[1], 'status', 'match_id')
if t[1] ~= 'forming' or t[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'hosted', 'match_id', '', 'forming_until', '')
return 1
"""


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    since_ms: int


@dataclass(frozen=True, slots=True)
class Game:
    code: str
    ticket_id: str
    mode: str
    region: str
    seats: int
    public: bool
    password_hash: str  # argon2id, "" without a password
    options: dict[str, Any]  # every declared option, resolved
    host: str
    members: tuple[Member, ...]  # in the order they sat down
    status: str  # the ticket's: hosted, forming, matched, cancelled
    locked: bool
    created_ms: int
    expires_ms: int
    match: dict[str, Any] | None  # the assignment once started
    ranked: bool  # rated and on the leaderboards like a queued match

    @property
    def state(self) -> str:
        return state_of(self.status, self.locked)

    @property
    def member_ids(self) -> list[str]:
        return [m.id for m in self.members]

    @property
    def lobby_key(self) -> str:
        return keys.lobby(self.mode, self.region)

    @classmethod
    def of_ticket(cls, t: dict[str, str]) -> Game:
        return cls(t["game"], t["id"], t["mode"], t["region"], int(t["seats"]), t["public"] == "1", t["password"],
                   json.loads(t["options"]), t["leader"],
                   tuple(Member(str(m["id"]), str(m.get("name", m["id"])), int(m.get("since_ms", 0)))
                         for m in json.loads(t["players"])),
                   t["status"], t.get("locked") == "1", int(t["created_ms"]), int(t["expires_ms"]),
                   json.loads(t["match"]) if t.get("match") else None, t.get("ranked") == "1")


@dataclass(frozen=True, slots=True)
class NewGame:
    ticket_id: str
    mode: str
    region: str
    seats: int
    public: bool
    password_hash: str
    options: dict[str, Any]
    host: str
    host_name: str
    created_ms: int
    ranked: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a script did: ``kind`` (ok, busy, full, ...) and its detail (the ticket that keeps
    a player busy, the new host, the status that stopped it)."""
    kind: str
    detail: str = ""


def _fields(game: NewGame, code: str, deadline_ms: int) -> dict[str, str]:
    """The ticket hash of a new game: the ticket's fields (see ``TicketQueue.as_stored``) and the game's."""
    compact = (",", ":")
    return {
        "id": game.ticket_id, "mode": game.mode, "status": "hosted", "leader": game.host, "party": "",
        "players": json.dumps([{"id": game.host, "name": game.host_name, "since_ms": game.created_ms}],
                              separators=compact),
        "region": game.region, "size": "1", "created_ms": str(game.created_ms), "expires_ms": str(deadline_ms),
        "regions": json.dumps([[game.region, 0]]), "fallback": "0",
        "game": code, "seats": str(game.seats), "public": "1" if game.public else "0", "locked": "0",
        "password": game.password_hash, "options": json.dumps(game.options, separators=compact),
        "listing": lobby_entry(game.created_ms, code) if game.public else "", "ranked": "1" if game.ranked else "0",
    }


class GameBook:
    """Custom games: host, join, leave, kick, lock, start (begin, assign or unform), list."""

    def __init__(self, client: aioredis.Redis, *, idle_s: float, retention_s: float, forming_timeout_s: float) -> None:
        self.client = client
        self.idle_ms = int(idle_s * 1000)
        self.retention_ms = int(retention_s * 1000)
        self.forming_ms = int(forming_timeout_s * 1000)
        self._host = client.register_script(_HOST)
        self._join = client.register_script(_JOIN)
        self._leave = client.register_script(_LEAVE)
        self._lock = client.register_script(_LOCK)
        self._begin = client.register_script(_BEGIN)
        self._assign = client.register_script(_ASSIGN)
        self._unform = client.register_script(_UNFORM)

    async def host(self, game: NewGame) -> tuple[Outcome, str]:
        """(ok, code) or (busy with the ticket that keeps the host busy, "")."""
        deadline = game.created_ms + self.idle_ms
        for _ in range(DRAWS):
            code = new_code()
            fields = _fields(game, code, deadline)
            kind, detail = redisreply.script_texts(await self._host(
                keys=[keys.ticket(game.ticket_id), keys.game(code), keys.player(game.host),
                      keys.lobby(game.mode, game.region)],
                args=[json.dumps(fields, separators=(",", ":")), deadline, self.idle_ms, fields["listing"]]))
            if kind == "ok":
                await chat.add_members(self.client, chat.game_channel(code), [game.host])
            if kind != "taken":
                return Outcome(kind, detail), code
        raise NoFreeCode("could not find a free game code")

    async def get(self, code: str) -> Game | None:
        ticket_id = redisreply.optional_text(await self.client.get(keys.game(code)))
        if not ticket_id:
            return None
        fields = redisreply.text_map(await self.client.hgetall(keys.ticket(ticket_id)))
        return Game.of_ticket(fields) if fields.get("game") == code else None

    async def join(self, game: Game, player: str, name: str, now_ms: int) -> Outcome:
        kind, detail = redisreply.script_texts(await self._join(
            keys=[keys.ticket(game.ticket_id), keys.player(player), keys.game(game.code), game.lobby_key],
            args=[game.ticket_id, player, name, now_ms, now_ms + self.idle_ms, self.idle_ms, keys.player("")]))
        if kind == "ok":
            await chat.add_members(self.client, chat.game_channel(game.code), [player])
        return Outcome(kind, detail)

    async def leave(self, game: Game, player: str, now_ms: int, *, by_host: str = "") -> Outcome:
        """The member leaves, or with ``by_host`` the host removes them (kick)."""
        kind, detail = redisreply.script_texts(await self._leave(
            keys=[keys.ticket(game.ticket_id), keys.player(player), keys.game(game.code), game.lobby_key],
            args=[game.ticket_id, player, by_host, now_ms, now_ms + self.idle_ms, self.idle_ms, keys.player(""),
                  self.retention_ms, keys.EVENTS]))
        if kind == "left":
            await chat.remove_members(self.client, chat.game_channel(game.code), [player])
        elif kind == "empty":
            await chat.close_channel(self.client, chat.game_channel(game.code))
        return Outcome(kind, detail)

    async def lock(self, game: Game, host: str, locked: bool, now_ms: int) -> Outcome:
        kind, detail = redisreply.script_texts(await self._lock(
            keys=[keys.ticket(game.ticket_id), keys.game(game.code), game.lobby_key],
            args=[host, "1" if locked else "0", now_ms + self.idle_ms, self.idle_ms, keys.player("")]))
        return Outcome(kind, detail)

    async def begin(self, game: Game, host: str, match_id: str, now_ms: int, fewest: int) -> Outcome:
        """Freeze the game for placing (forming); ``ok`` with the members JSON as frozen."""
        kind, detail = redisreply.script_texts(await self._begin(
            keys=[keys.ticket(game.ticket_id)], args=[host, match_id, now_ms, self.forming_ms, fewest]))
        return Outcome(kind, detail)

    async def assign(self, game: Game, match: dict[str, Any], now_ms: int) -> bool:
        return redisreply.integer(await self._assign(
            keys=[keys.ticket(game.ticket_id), keys.game(game.code), game.lobby_key],
            args=[game.ticket_id, match["match_id"], json.dumps(match, separators=(",", ":")), now_ms,
                  self.retention_ms, keys.player(""), keys.EVENTS])) == 1

    async def unform(self, game: Game, match_id: str) -> bool:
        """Open the game again after no server could host it."""
        return redisreply.integer(await self._unform(keys=[keys.ticket(game.ticket_id)], args=[match_id])) == 1

    async def listed(self, mode: str, region: str, after: str, limit: int) -> tuple[list[Game], str | None]:
        """Public games with a free seat, oldest first, after the cursor ``after`` ("" from the
        start): up to ``limit`` and the cursor of the next page (None on the last)."""
        lobby = keys.lobby(mode, region)
        out: list[Game] = []
        start = f"({after}" if after else "-"
        while len(out) < limit:
            want = limit - len(out)
            entries = redisreply.texts(await self.client.zrangebylex(lobby, start, "+", start=0, num=want + 1))
            if not entries:
                return out, None
            page, more = entries[:want], len(entries) > want
            for entry in page:
                game = await self.get(entry.partition(".")[2])
                if (game is None or lobby_entry(game.created_ms, game.code) != entry or game.state != "open"
                        or len(game.members) >= game.seats):
                    await self.client.zrem(lobby, entry)  # its ticket expired: the lazy clean-up
                else:
                    out.append(game)
            start = f"({page[-1]}"
            if not more:
                return out, None
        return out, start[1:]
