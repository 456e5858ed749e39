"""The social graph as every service reads it: friends and blocks, mirrored in Redis.

MongoDB (commerce) is the truth. After each change there, commerce writes the change here
in the same request, and rebuilds a player's mirror from MongoDB whenever it is missing
(at login, at a refresh, at any friends or blocks request), so a player who is online has
one. Other services (chat, moderation, the matchmaker's invitations) only read.

Layout (``elysium.keys``): one set of friend ids and one set of the ids a player blocked,
per player. A mirrored set always holds :data:`MIRRORED`, which is never a player id, so
"no friends" and "no mirror" differ: :func:`is_mirrored` tells them apart, and the
incremental writers never create a set that lacks it (a half-written set would read as
complete). Friendship is written on both players' sets; a block only on the blocker's.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from elysium import keys

MIRRORED = "~"  # the member every mirrored set holds; player ids never contain it

# SADD only to a set that is mirrored already, so an incremental write to a player whose
# mirror is missing leaves it missing (commerce rebuilds it whole from MongoDB).
_ADD_IF_MIRRORED = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return redis.call('SADD', KEYS[1], ARGV[2])
end
return 0
"""


# --- reads ------------------------------------------------------------------------------------

async def are_friends(redis: aioredis.Redis, a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are friends (a missing mirror reads as not friends)."""
    return a != b and bool(await redis.sismember(keys.social_friends(a), b))


async def blocked_between(redis: aioredis.Redis, a: str, b: str) -> bool:
    """Whether either of ``a`` and ``b`` blocked the other."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.sismember(keys.social_blocks(a), b)
        pipe.sismember(keys.social_blocks(b), a)
        one, other = await pipe.execute()
    return bool(one) or bool(other)


async def friends_of(redis: aioredis.Redis, player: str) -> set[str]:
    """The ids of ``player``'s friends (empty when the mirror is missing)."""
    members = await redis.smembers(keys.social_friends(player))
    return {m.decode() if isinstance(m, bytes) else str(m) for m in members} - {MIRRORED}


async def blocked_by(redis: aioredis.Redis, player: str) -> set[str]:
    """The ids ``player`` blocked (empty when the mirror is missing)."""
    members = await redis.smembers(keys.social_blocks(player))
    return {m.decode() if isinstance(m, bytes) else str(m) for m in members} - {MIRRORED}


async def is_mirrored(redis: aioredis.Redis, player: str) -> bool:
    """Whether both of ``player``'s sets are in Redis (else commerce must rebuild them)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.sismember(keys.social_friends(player), MIRRORED)
        pipe.sismember(keys.social_blocks(player), MIRRORED)
        friends, blocks = await pipe.execute()
    return bool(friends) and bool(blocks)


# --- writes (commerce only, after the MongoDB write) -------------------------------------------

async def write_graph(redis: aioredis.Redis, player: str, friends: Iterable[str], blocks: Iterable[str]) -> None:
    """Replace ``player``'s mirror with what MongoDB holds, atomically."""
    async with redis.pipeline(transaction=True) as pipe:
        for key, members in ((keys.social_friends(player), friends), (keys.social_blocks(player), blocks)):
            pipe.delete(key)
            pipe.sadd(key, MIRRORED, *members)
        await pipe.execute()


async def write_pair(redis: aioredis.Redis, a: str, b: str, *, friends: bool, a_blocks_b: bool,
                     b_blocks_a: bool) -> None:
    """Set what MongoDB holds between ``a`` and ``b``, read after the change committed.

    Writing the pair's whole state (not the change) makes the write safe to repeat and
    lets a later request's write correct an earlier one's.
    """
    script = redis.register_script(_ADD_IF_MIRRORED)
    async with redis.pipeline(transaction=True) as pipe:
        for key, member, present in ((keys.social_friends(a), b, friends), (keys.social_friends(b), a, friends),
                                     (keys.social_blocks(a), b, a_blocks_b), (keys.social_blocks(b), a, b_blocks_a)):
            if present:
                await script(keys=[key], args=[MIRRORED, member], client=pipe)
            else:
                pipe.srem(key, member)
        await pipe.execute()


async def befriend(redis: aioredis.Redis, a: str, b: str) -> None:
    """``a`` and ``b`` became friends."""
    script = redis.register_script(_ADD_IF_MIRRORED)
    async with redis.pipeline(transaction=True) as pipe:
        await script(keys=[keys.social_friends(a)], args=[MIRRORED, b], client=pipe)
        await script(keys=[keys.social_friends(b)], args=[MIRRORED, a], client=pipe)
        await pipe.execute()


async def unfriend(redis: aioredis.Redis, a: str, b: str) -> None:
    """``a`` and ``b`` are no longer friends."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.srem(keys.social_friends(a), b)
        pipe.srem(keys.social_friends(b), a)
        await pipe.execute()


async def block(redis: aioredis.Redis, blocker: str, blocked: str) -> None:
    """``blocker`` blocked ``blocked``: recorded, and any friendship between them ended."""
    script = redis.register_script(_ADD_IF_MIRRORED)
    async with redis.pipeline(transaction=True) as pipe:
        await script(keys=[keys.social_blocks(blocker)], args=[MIRRORED, blocked], client=pipe)
        pipe.srem(keys.social_friends(blocker), blocked)
        pipe.srem(keys.social_friends(blocked), blocker)
        await pipe.execute()


async def unblock(redis: aioredis.Redis, blocker: str, blocked: str) -> None:
    """``blocker`` no longer blocks ``blocked``."""
    await redis.srem(keys.social_blocks(blocker), blocked)


async def forget(redis: aioredis.Redis, player: str) -> None:
    """Drop ``player``'s mirror (the next commerce request rebuilds it)."""
    await redis.delete(keys.social_friends(player), keys.social_blocks(player))
