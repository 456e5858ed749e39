"""Presence: whether a player is offline, online, in a queue, in a match or watching one.

Each live state is written only by the service that knows it, when it changes, as one
expiring Redis string per player and state (``elysium.keys.presence``):

| state | written by | set when | cleared when | expires after |
| --- | --- | --- | --- | --- |
| ``online`` | commerce | login, refresh | logout | the access token lifetime |
| ``in_queue`` | matchmaker (its ticket scripts) | a ticket is created | it is cancelled, claimed or expires | the ticket's |
| ``in_match`` (match id) | game server | a seat is taken | the seat is left, the match ends | a bound the heartbeat renews |
| ``watching`` (match id) | spectator relay | a signed-in watcher connects | it leaves | a bound the relay renews |

There is no polling loop per player: a dead process's states expire by themselves. A
reader takes the most specific live state (:data:`PRIORITY`); no live state is offline.
Clearing a state with a match id only clears it while it still names that match, so a
player who already moved to the next match is not shown offline by the old one's clean-up.

The ``queue_*`` functions add their command to a pipeline the caller already sends, so a
service adds no round trip of its own where it writes to Redis anyway.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from elysium import keys

log = logging.getLogger("elysium.presence")

MAX_READ = 1000  # players per read_many call


class State(StrEnum):
    OFFLINE = "offline"
    ONLINE = "online"
    IN_QUEUE = "in_queue"
    IN_MATCH = "in_match"
    WATCHING = "watching"


# The live states, most specific first: a player in a match who also has a ticket (or a
# watch open in another tab) is shown in the match.
PRIORITY: tuple[State, ...] = (State.IN_MATCH, State.IN_QUEUE, State.WATCHING, State.ONLINE)
WITH_MATCH = frozenset({State.IN_MATCH, State.WATCHING})


@dataclass(frozen=True)
class Presence:
    state: State
    match_id: str | None = None
    since_ms: int | None = None

    @property
    def watch(self) -> str | None:
        """The spectator relay's path that watches the match (relative to the relay's URL)."""
        return f"/v1/watch/{self.match_id}" if self.match_id is not None else None

    def body(self) -> dict[str, Any]:
        return {"state": self.state.value, "match_id": self.match_id, "watch": self.watch, "since_ms": self.since_ms}


OFFLINE = Presence(State.OFFLINE)

# DEL only while the value still names the match in ARGV[1].
_CLEAR_IF_MATCH = """
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['match_id'] == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class PresenceError(ValueError):
    """A caller passed a state and match id that do not go together (our bug, not the peer's)."""


def _value(state: State, match_id: str | None, now_ms: int | None) -> str:
    if state == State.OFFLINE:
        raise PresenceError("offline is the absence of every live state; clear the states instead")
    if (state in WITH_MATCH) != (match_id is not None):
        raise PresenceError(f"{state.value} {'needs' if state in WITH_MATCH else 'takes no'} match id")
    return json.dumps({"match_id": match_id, "since_ms": int(time.time() * 1000) if now_ms is None else now_ms},
                      separators=(",", ":"))


def key(player: str, state: State) -> str:
    """The Redis key of ``player``'s ``state``, for a service whose own script writes it."""
    return keys.presence(player, state.value)


def stored(state: State, match_id: str | None = None, now_ms: int | None = None) -> str:
    """The value a state is stored with, for a service whose own script writes it."""
    return _value(state, match_id, now_ms)


def _ttl(ttl_s: float) -> int:
    if ttl_s < 1:
        raise PresenceError(f"a presence lives at least 1 s, not {ttl_s}")
    return int(ttl_s)


def parse(state: State, raw: bytes | str | None) -> Presence | None:
    """The presence a stored value describes, or None for a missing or unreadable value."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        match_id = value.get("match_id")
        since_ms = value.get("since_ms")
    except (ValueError, AttributeError):
        return None
    if (state in WITH_MATCH) != isinstance(match_id, str) or not isinstance(since_ms, int):
        return None
    return Presence(state, match_id if isinstance(match_id, str) else None, since_ms)


def strongest(values: dict[State, bytes | str | None]) -> Presence:
    """The most specific live state among a player's stored values (pure)."""
    for state in PRIORITY:
        found = parse(state, values.get(state))
        if found is not None:
            return found
    return OFFLINE


# --- writes (by the owning service) ------------------------------------------------------------

def queue_set(pipe: Pipeline, players: Iterable[str], state: State, ttl_s: float, *, match_id: str | None = None,
              now_ms: int | None = None) -> None:
    """Add "these players are in ``state``" to a pipeline."""
    value = _value(state, match_id, now_ms)
    ex = _ttl(ttl_s)
    for player in players:
        pipe.set(keys.presence(player, state.value), value, ex=ex)


def queue_clear(pipe: Pipeline, players: Iterable[str], state: State, *, match_id: str | None = None) -> None:
    """Add "these players left ``state``" to a pipeline (only while it names ``match_id``, if given)."""
    for player in players:
        key = keys.presence(player, state.value)
        if match_id is None:
            pipe.delete(key)
        else:
            pipe.eval(_CLEAR_IF_MATCH, 1, key, match_id)


async def set_state(redis: aioredis.Redis, players: Iterable[str], state: State, ttl_s: float, *,
                    match_id: str | None = None, now_ms: int | None = None) -> None:
    """These players are in ``state`` for ``ttl_s`` seconds unless set again or cleared."""
    async with redis.pipeline(transaction=False) as pipe:
        queue_set(pipe, players, state, ttl_s, match_id=match_id, now_ms=now_ms)
        await pipe.execute()


async def clear_state(redis: aioredis.Redis, players: Iterable[str], state: State, *,
                      match_id: str | None = None) -> None:
    """These players left ``state`` (only while it still names ``match_id``, if given)."""
    async with redis.pipeline(transaction=False) as pipe:
        queue_clear(pipe, players, state, match_id=match_id)
        await pipe.execute()


# --- reads -------------------------------------------------------------------------------------

async def read_many(redis: aioredis.Redis, players: Sequence[str]) -> dict[str, Presence]:
    """Each player's presence, in one round trip (at most :data:`MAX_READ` players)."""
    if len(players) > MAX_READ:
        raise PresenceError(f"read at most {MAX_READ} players at once, not {len(players)}")
    if not players:
        return {}
    names = [keys.presence(p, s.value) for p in players for s in PRIORITY]
    raw = await redis.mget(names)
    width = len(PRIORITY)
    return {p: strongest(dict(zip(PRIORITY, raw[i * width:(i + 1) * width], strict=True)))
            for i, p in enumerate(players)}


async def read(redis: aioredis.Redis, player: str) -> Presence:
    return (await read_many(redis, [player]))[player]


# --- batched writes of a service's players -------------------------------------------------------

class MatchPresence:
    """One service's players in one state that names a match (``in_match`` for a game server,
    ``watching`` for a relay), written in batches off the service's hot path.

    :meth:`joined` and :meth:`left` only note the change (no I/O, no await); :meth:`flush`,
    called from a loop the service already runs (a heartbeat), sends what changed in one
    pipeline, and every third of the expiry sets every player again, so a service that dies
    leaves nobody shown for longer than the expiry. Through a Redis outage the changes wait
    for the next flush. A player is in at most one match of the state at a time: the latest.
    """

    def __init__(self, client: aioredis.Redis, state: State, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if state not in WITH_MATCH:
            raise PresenceError(f"{state.value} names no match")
        _ttl(ttl_s)
        self.client = client
        self.state = state
        self.ttl_s = ttl_s
        self.clock = clock
        self.players: dict[str, str] = {}  # player -> match id, as Redis should show it
        self._changed: dict[str, str | None] = {}  # player -> match id to show, None: clear
        self._cleared: dict[str, str] = {}  # player -> the match id a clear is for
        self._renew_at = 0.0

    def joined(self, player: str, match_id: str) -> None:
        self.players[player] = match_id
        self._changed[player] = match_id

    def left(self, player: str, match_id: str) -> None:
        """``player`` left ``match_id`` (ignored when they are already in another one)."""
        if self.players.get(player) != match_id:
            return
        del self.players[player]
        self._changed[player] = None
        self._cleared[player] = match_id

    @property
    def pending(self) -> int:
        return len(self._changed)

    async def flush(self) -> None:
        """Send the changes since the last flush (and everyone seated, when a renewal is due)."""
        now = self.clock()
        renew = now >= self._renew_at
        changed = dict(self.players) if renew else {p: m for p, m in self._changed.items() if m is not None}
        cleared = {p: self._cleared[p] for p, m in self._changed.items() if m is None and p in self._cleared}
        if not changed and not cleared:
            self._renew_at = now + self.ttl_s / 3 if renew else self._renew_at
            return
        self._changed.clear()
        self._cleared.clear()
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for match_id in set(changed.values()):
                    players = [p for p, m in changed.items() if m == match_id]
                    queue_set(pipe, players, self.state, self.ttl_s, match_id=match_id)
                for player, match_id in cleared.items():
                    queue_clear(pipe, [player], self.state, match_id=match_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("presence not written: redis", extra={"state": self.state.value, "error": str(exc)[:200]})
            for player, match_id in cleared.items():  # retried at the next heartbeat, unless overtaken
                self._changed.setdefault(player, None)
                self._cleared.setdefault(player, match_id)
            for player in changed:
                if player in self.players:
                    self._changed.setdefault(player, self.players[player])
            return
        if renew:
            self._renew_at = now + self.ttl_s / 3
