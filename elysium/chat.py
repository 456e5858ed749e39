"""Chat: what every service that carries chat agrees on (the social socket, in-match team chat,
the matchmaker's parties and custom games).

- **Channel names**: ``dm:<a>:<b>`` (the two player ids in sorted order), ``game:<code>`` (a
  custom game), ``party:<code>`` and ``team:<match>:<team>``. :func:`parse_channel` is the one
  strict parser.
- **Membership** of the group channels, in Redis (:func:`add_members`, :func:`remove_members`,
  :func:`is_member`, :func:`members`): the matchmaker writes it as players enter and leave
  parties and custom games; chat reads it. Removing members also tells every replica carrying
  the channel, which stops delivering to them.
- **The text filter**: :class:`TextFilter` is the interface; :class:`WordListFilter`, which
  masks the words of a configurable list, is the default.
- **Limits** (:class:`ChatLimits`): message length, messages per player per window, history
  kept per channel, offline inbox size. :func:`check_text` applies length and filter (pure);
  :func:`take_rate` counts a player's messages in Redis, so the limit holds across sockets,
  replicas and the game server.
- **History, inbox and delivery** in Redis: the last N messages per channel, a bounded inbox of
  direct messages for players who are offline, and one pub/sub topic per channel and per player
  (``docs/redis-keys.md``). :func:`deliver_direct` publishes a direct message to its recipient's
  topic and, in the same script, keeps it in the inbox when no replica holds the recipient.

The relations chat obeys (friends, blocks, mutes) come from the social and moderation kernels
through :class:`Relations`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import msgpack
import redis.asyncio as aioredis

from elysium import keys, moderation, social
from elysium.config import between, setting
from elysium.errors import CodedError

# --- stable error codes (the social socket and the game protocol share them) ----------------

TOO_LONG: Final = "too_long"
EMPTY: Final = "empty"
CHAT_RATE_LIMITED: Final = "chat_rate_limited"
NOT_MEMBER: Final = "not_member"
NOT_FRIENDS: Final = "not_friends"
BLOCKED: Final = "blocked"
MUTED: Final = "muted"
BAD_CHANNEL: Final = "bad_channel"
FILTERED: Final = "filtered"


class ChatRefused(CodedError):
    """A message was refused and nothing was sent or kept; ``code`` is one of the codes above."""


# --- channel names ----------------------------------------------------------------------

DM: Final = "dm"
GAME: Final = "game"
PARTY: Final = "party"
TEAM: Final = "team"
GROUP_KINDS: Final = (GAME, PARTY, TEAM)

_PART = r"[A-Za-z0-9._~-]{1,64}"
_CHANNEL = re.compile(rf"(dm):({_PART}):({_PART})|(game|party):({_PART})|(team):({_PART}):(\d{{1,2}})")
MAX_CHANNEL_CHARS: Final = 140


@dataclass(frozen=True, slots=True)
class Channel:
    kind: str  # dm, game, party or team
    name: str  # the full channel name
    parts: tuple[str, ...]  # dm: the two players; game/party: the code; team: match and team

    @property
    def is_group(self) -> bool:
        return self.kind != DM


def dm_channel(a: str, b: str) -> str:
    """The direct channel of two players: the same name whoever writes first."""
    lo, hi = sorted((a, b))
    return f"{DM}:{lo}:{hi}"


def game_channel(code: str) -> str:
    return f"{GAME}:{code}"


def party_channel(code: str) -> str:
    return f"{PARTY}:{code}"


def team_channel(match_id: str, team: int) -> str:
    return f"{TEAM}:{match_id}:{team}"


def parse_channel(raw: Any) -> Channel:
    """The channel named by ``raw``, or :class:`ChatRefused` (``bad_channel``)."""
    if not isinstance(raw, str) or len(raw) > MAX_CHANNEL_CHARS:
        raise ChatRefused(BAD_CHANNEL, "ch must be a channel name: dm:A:B, game:CODE, party:CODE or team:MATCH:N")
    m = _CHANNEL.fullmatch(raw)
    if m is None:
        raise ChatRefused(BAD_CHANNEL, f"{raw[:64]!r} is not a channel: dm:A:B, game:CODE, party:CODE or "
                                       "team:MATCH:N (ids of 1 to 64 characters of A-Z a-z 0-9 . _ ~ -)")
    if m.group(1):
        a, b = m.group(2), m.group(3)
        if a >= b:
            raise ChatRefused(BAD_CHANNEL, "a dm channel names two different players in sorted order")
        return Channel(DM, raw, (a, b))
    if m.group(4):
        return Channel(m.group(4), raw, (m.group(5),))
    return Channel(TEAM, raw, (m.group(7), m.group(8)))


# --- the text filter --------------------------------------------------------------------


class TextFilter(Protocol):
    """What every text filter does: return the text to deliver, or raise ``ChatRefused(FILTERED)``
    to refuse it. Pure and quick: it runs once per message, before any delivery."""

    def apply(self, text: str) -> str: ...


# A short default list: operators replace it with ELYSIUM_CHAT_BLOCKED_WORDS.
DEFAULT_WORDS: Final = ("fuck", "shit", "cunt", "bitch", "asshole", "nigger", "faggot", "retard")


class WordListFilter:
    """Masks each listed word (case-insensitive, whole words and their simple suffixes) with ``*``."""

    __slots__ = ("_pattern",)

    def __init__(self, words: Iterable[str] = DEFAULT_WORDS) -> None:
        cleaned = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
        self._pattern = (re.compile(r"\b(?:" + "|".join(map(re.escape, cleaned)) + r")\w*", re.IGNORECASE)
                         if cleaned else None)

    def apply(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: "*" * len(m.group(0)), text)


# --- limits -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatLimits:
    max_chars: int = 500  # characters of one message
    messages_per_window: int = 10  # messages one player may send per window, all channels together
    window_s: int = 10
    history_len: int = 50  # messages kept per group channel
    inbox_len: int = 100  # direct messages kept for an offline player
    inbox_ttl_s: int = 7 * 24 * 3600
    history_ttl_s: int = 24 * 3600  # a channel silent this long forgets its history

    def __post_init__(self) -> None:
        for name in ("max_chars", "messages_per_window", "window_s", "history_len", "inbox_len", "inbox_ttl_s",
                     "history_ttl_s"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass(frozen=True)
class ChatSettings:
    """The chat variables of every service carrying chat (the relay and the game server), as a base
    of their settings classes."""

    chat_max_chars: int = setting("ELYSIUM_CHAT_MAX_CHARS", 500, "Longest chat message", unit="characters",
                                  check=between(1, 4000))
    chat_messages_per_window: int = setting("ELYSIUM_CHAT_MESSAGES_PER_WINDOW", 10,
                                            "Chat messages one player may send per window, every channel together",
                                            check=between(1, 10_000))
    chat_window_s: int = setting("ELYSIUM_CHAT_WINDOW_S", 10, "The chat rate window", unit="s",
                                 check=between(1, 3600))
    chat_history_len: int = setting("ELYSIUM_CHAT_HISTORY_LEN", 50,
                                    "Messages kept per chat channel and sent on subscribe", check=between(1, 1000))
    chat_inbox_len: int = setting("ELYSIUM_CHAT_INBOX_LEN", 100,
                                  "Direct messages kept for an offline player (the oldest are dropped)",
                                  check=between(1, 10_000))
    chat_blocked_words: tuple[str, ...] = setting("ELYSIUM_CHAT_BLOCKED_WORDS", (),
                                                  "Comma-separated words the default chat filter masks, in place "
                                                  "of its built-in list (unset: the built-in list, "
                                                  "elysium.chat.DEFAULT_WORDS; none: no words)")

    def chat_limits(self) -> ChatLimits:
        return ChatLimits(max_chars=self.chat_max_chars, messages_per_window=self.chat_messages_per_window,
                          window_s=self.chat_window_s, history_len=self.chat_history_len,
                          inbox_len=self.chat_inbox_len)

    def text_filter(self) -> TextFilter:
        words = self.chat_blocked_words or DEFAULT_WORDS
        return WordListFilter(() if words == ("none",) else words)


def check_text(raw: Any, limits: ChatLimits, text_filter: TextFilter) -> str:
    """The text to deliver: a non-empty string of at most ``max_chars``, filtered; else ChatRefused."""
    if not isinstance(raw, str):
        raise ChatRefused(EMPTY, "text must be a string")
    text = raw.strip()
    if not text:
        raise ChatRefused(EMPTY, "text is empty")
    if len(raw) > limits.max_chars:
        raise ChatRefused(TOO_LONG, f"text is {len(raw)} characters; the limit is {limits.max_chars}")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise ChatRefused(EMPTY, "text may not hold control characters")
    return text_filter.apply(text)


# --- relations (friends, blocks, mutes) -----------------------------------------------------


class Relations(Protocol):
    """The social graph and moderation state chat obeys."""

    async def are_friends(self, a: str, b: str) -> bool: ...

    async def blocked_between(self, a: str, b: str) -> bool: ...

    async def is_muted(self, player: str) -> bool: ...

    async def blocked_among(self, sender: str, players: Iterable[str]) -> set[str]:
        """Those of ``players`` who blocked ``sender`` or whom ``sender`` blocked."""
        ...


class KernelRelations:
    """The relations as the social kernel (friends, blocks) and the moderation kernel (mutes) keep them
    in Redis: what every service carrying chat uses."""

    __slots__ = ("redis",)

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def are_friends(self, a: str, b: str) -> bool:
        return await social.are_friends(self.redis, a, b)

    async def blocked_between(self, a: str, b: str) -> bool:
        return await social.blocked_between(self.redis, a, b)

    async def is_muted(self, player: str) -> bool:
        return await moderation.is_muted(self.redis, player)

    async def blocked_among(self, sender: str, players: Iterable[str]) -> set[str]:
        """One round trip: whom ``sender`` blocked, and which of ``players`` blocked ``sender``
        (:func:`elysium.social.blocked_between`, for many players at once)."""
        others = sorted({p for p in players if p != sender})
        if not others:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.smembers(keys.social_blocks(sender))
            for player in others:
                pipe.sismember(keys.social_blocks(player), sender)
            mine, *theirs = await pipe.execute()
        blocked = {m.decode() if isinstance(m, bytes) else str(m) for m in mine}
        return {p for p, they in zip(others, theirs, strict=True) if they or p in blocked}


# --- Redis keys -------------------------------------------------------------------------

MEMBERS_TTL_S: Final = 24 * 3600  # a group channel nobody joins for a day is forgotten


def members_key(channel: str) -> str:
    return f"{keys.PREFIX}chat:members:{channel}"


def history_key(channel: str) -> str:
    return f"{keys.PREFIX}chat:history:{channel}"


def inbox_key(player: str) -> str:
    return f"{keys.PREFIX}chat:inbox:{player}"


def rate_key(player: str, window: int) -> str:
    return f"{keys.PREFIX}chat:rate:{player}:{window}"


def channel_topic(channel: str) -> str:
    """The pub/sub topic of a group channel (every replica with a subscriber listens)."""
    return f"{keys.PREFIX}chat:pub:{channel}"


def replica_topic(replica_id: str) -> str:
    """A topic only its replica listens to (it keeps the pub/sub connection open while idle)."""
    return f"{keys.PREFIX}chat:replica:{replica_id}"


def player_topic(player: str) -> str:
    """The pub/sub topic of one player's direct messages (the replica holding the player listens)."""
    return f"{keys.PREFIX}chat:to:{player}"


# --- membership ------------------------------------------------------------------------


async def add_members(redis: aioredis.Redis, channel: str, players: Sequence[str],
                      ttl_s: int = MEMBERS_TTL_S) -> None:
    """Make ``players`` members of the group ``channel`` (kept ``ttl_s`` after the last change)."""
    if parse_channel(channel).kind == DM:
        raise ValueError("direct channels have no members list: friends may write to each other")
    if not players:
        return
    key = members_key(channel)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.sadd(key, *players)
        pipe.expire(key, ttl_s)
        await pipe.execute()


async def remove_members(redis: aioredis.Redis, channel: str, players: Sequence[str]) -> None:
    """Take ``players`` out of ``channel``; every replica stops delivering it to them."""
    if not players:
        return
    async with redis.pipeline(transaction=True) as pipe:
        pipe.srem(members_key(channel), *players)
        pipe.publish(channel_topic(channel), encode_removal(players))
        await pipe.execute()


async def close_channel(redis: aioredis.Redis, channel: str) -> None:
    """Forget a group channel (a disbanded party, an ended game): members, history, subscribers."""
    current = [m.decode() if isinstance(m, bytes) else str(m) for m in await redis.smembers(members_key(channel))]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(members_key(channel), history_key(channel))
        if current:
            pipe.publish(channel_topic(channel), encode_removal(current))
        await pipe.execute()


async def is_member(redis: aioredis.Redis, channel: str, player: str) -> bool:
    return bool(await redis.sismember(members_key(channel), player))


async def members(redis: aioredis.Redis, channel: str) -> set[str]:
    return {m.decode() if isinstance(m, bytes) else str(m) for m in await redis.smembers(members_key(channel))}


# --- rate ------------------------------------------------------------------------------


async def take_rate(redis: aioredis.Redis, player: str, limits: ChatLimits, now: float | None = None) -> bool:
    """Count one message of ``player`` in the current fixed window; False when over the limit.

    A refused message is counted too (a flood stays refused until the window turns)."""
    window = int((time.time() if now is None else now) // limits.window_s)
    key = rate_key(player, window)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, limits.window_s + 1)
        count, _ = await pipe.execute()
    return int(count) <= limits.messages_per_window


# --- messages on the wire and in Redis ----------------------------------------------------

@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One delivered message, as the social socket sends it (``docs/protocol.md``, *Social socket*)."""

    ch: str
    sender: str
    name: str
    text: str
    ts_ms: int
    mid: str  # unique message id

    def to_wire(self) -> dict[str, Any]:
        return {"t": "msg", "ch": self.ch, "from": self.sender, "name": self.name, "text": self.text,
                "ts": self.ts_ms, "mid": self.mid}

    def pack(self) -> bytes:
        data: bytes = msgpack.packb(self.to_wire(), use_bin_type=True)
        return data


def unpack_message(data: bytes) -> ChatMessage:
    """Strictly parse a packed :class:`ChatMessage` (from history, an inbox or a topic)."""
    msg = msgpack.unpackb(data, raw=False)
    if not isinstance(msg, dict) or msg.get("t") != "msg":
        raise ValueError("not a chat message")
    ch, sender, name, text, ts, mid = (msg.get(k) for k in ("ch", "from", "name", "text", "ts", "mid"))
    if not (isinstance(ch, str) and isinstance(sender, str) and isinstance(name, str) and isinstance(text, str)
            and type(ts) is int and isinstance(mid, str)):
        raise ValueError("chat message fields have the wrong types")
    return ChatMessage(ch, sender, name, text, ts, mid)


# A topic carries either a message (with the recipients blocked from it) or a removal.
_KIND_MESSAGE: Final = 0
_KIND_REMOVAL: Final = 1
_KIND_TAKEOVER: Final = 2


@dataclass(frozen=True, slots=True)
class Published:
    """What a replica reads from a topic: a packed message and who must not get it, or a removal."""

    message: bytes | None  # the packed ChatMessage, sent as is
    skip: frozenset[str]  # players blocked from this message (blocks either way)
    removed: frozenset[str]  # players taken out of the channel (message is None)
    takeover: str = ""  # on a player's topic: the socket (its id) that now holds the player; others close


def encode_published(message: bytes, skip: Iterable[str] = ()) -> bytes:
    data: bytes = msgpack.packb([_KIND_MESSAGE, sorted(skip), message], use_bin_type=True)
    return data


def encode_removal(players: Iterable[str]) -> bytes:
    data: bytes = msgpack.packb([_KIND_REMOVAL, sorted(players), None], use_bin_type=True)
    return data


def encode_takeover(socket_id: str) -> bytes:
    """On a player's topic: the socket ``socket_id`` holds the player now; every other one closes."""
    data: bytes = msgpack.packb([_KIND_TAKEOVER, [socket_id], None], use_bin_type=True)
    return data


def decode_published(data: bytes) -> Published:
    """The one parser of a topic entry, whether Python (:func:`encode_published`) or the say
    script (``cmsgpack``, which packs every string as a msgpack str) wrote it."""
    kind, raw_players, message = msgpack.unpackb(data, raw=True)
    players = frozenset(p.decode() for p in raw_players)
    if kind == _KIND_MESSAGE and isinstance(message, bytes):
        return Published(message, players, frozenset())
    if kind == _KIND_REMOVAL:
        return Published(None, frozenset(), players)
    if kind == _KIND_TAKEOVER and len(raw_players) == 1:
        return Published(None, frozenset(), frozenset(), raw_players[0].decode())
    raise ValueError("not a chat topic entry")


# --- history and inbox ----------------------------------------------------------------------

# One round trip for a line to a group channel: the sender's membership, their rate, the members
# blocked from the line (either way, as elysium.social.blocked_between reads the mirror), the
# history and the publish, atomically.
_SAY = """
-- KEYS: members, rate counter, history, topic, the sender's blocks
-- ARGV: sender, packed message, messages per window, window s, history length, history ttl s,
--       prefix of a player's blocks key
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 'not_member' end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]) + 1) end
if n > tonumber(ARGV[3]) then return 'rate' end
local skip = {}
for _, p in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if p ~= ARGV[1] and (redis.call('SISMEMBER', KEYS[5], p) == 1
                       or redis.call('SISMEMBER', ARGV[7] .. p, ARGV[1]) == 1) then
    skip[#skip + 1] = p
  end
end
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[5]), -1)
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('PUBLISH', KEYS[4], cmsgpack.pack({0, skip, ARGV[2]}))
return 'ok'
"""

_PUBLISH_DIRECT = """
-- KEYS: topic, inbox   ARGV: published entry, packed message, inbox length, inbox ttl
local n = redis.call('PUBLISH', KEYS[1], ARGV[1])
if n == 0 then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return n
"""

_TAKE_INBOX = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return items
"""


class ChatStore:
    """History, inboxes and publishing, over one Redis client (scripts registered once)."""

    def __init__(self, redis: aioredis.Redis, limits: ChatLimits) -> None:
        self.redis = redis
        self.limits = limits
        self._say = redis.register_script(_SAY)
        self._direct = redis.register_script(_PUBLISH_DIRECT)
        self._take = redis.register_script(_TAKE_INBOX)

    async def say(self, message: ChatMessage, now: float | None = None) -> None:
        """Keep and publish a line to a group channel in one round trip, for a member within their
        rate, skipping the members blocked either way; else ChatRefused (``not_member``,
        ``chat_rate_limited``; a line refused for its rate still counts towards it)."""
        limits = self.limits
        window = int((time.time() if now is None else now) // limits.window_s)
        outcome = await self._say(
            keys=[members_key(message.ch), rate_key(message.sender, window), history_key(message.ch),
                  channel_topic(message.ch), keys.social_blocks(message.sender)],
            args=[message.sender, message.pack(), limits.messages_per_window, limits.window_s,
                  limits.history_len, limits.history_ttl_s, keys.social_blocks("")])
        result = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
        if result == "not_member":
            raise ChatRefused(NOT_MEMBER, f"you are not a member of {message.ch}")
        if result == "rate":
            raise ChatRefused(CHAT_RATE_LIMITED, f"more than {limits.messages_per_window} messages per "
                                                 f"{limits.window_s} s")

    async def deliver_direct(self, message: ChatMessage, recipient: str) -> bool:
        """Publish a direct message to ``recipient``; True when a replica holds them, False when it
        went to their inbox (one script: a recipient connecting meanwhile misses nothing)."""
        packed = message.pack()
        n = await self._direct(keys=[player_topic(recipient), inbox_key(recipient)],
                               args=[encode_published(packed), packed, self.limits.inbox_len,
                                     self.limits.inbox_ttl_s])
        return int(n) > 0

    async def history(self, channel: str) -> list[ChatMessage]:
        """The channel's last messages, oldest first."""
        raw = await self.redis.lrange(history_key(channel), -self.limits.history_len, -1)
        return _parsed(raw)

    async def take_over(self, player: str, socket_id: str) -> None:
        """Tell every replica that the socket ``socket_id`` holds ``player`` now (one per player)."""
        await self.redis.publish(player_topic(player), encode_takeover(socket_id))

    async def take_inbox(self, player: str) -> list[ChatMessage]:
        """The player's waiting direct messages, oldest first; the inbox is emptied."""
        return _parsed(await self._take(keys=[inbox_key(player)]))


def _parsed(raw: Iterable[Any]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for item in raw:
        try:
            out.append(unpack_message(item))
        except (ValueError, TypeError, msgpack.UnpackException):
            continue  # not ours: skipped, never sent
    return out
