"""Login rate limits in Redis: failed attempts counted per username and per client address.

Keys (owned by commerce, each with an expiry of one window):
``elysium:commerce:login:user:{sha256(lower username)}`` and ``elysium:commerce:login:addr:{address}``.
The username is hashed so the key space never lists who tried to log in.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

PREFIX = "elysium:commerce:login:"


def user_key(username: str) -> str:
    return PREFIX + "user:" + hashlib.sha256(username.lower().encode()).hexdigest()[:32]


def addr_key(address: str) -> str:
    return PREFIX + "addr:" + address[:64]


class LoginLimiter:
    def __init__(self, client: aioredis.Redis, per_user: int, per_address: int, window_s: int) -> None:
        self.client = client
        self.per_user = per_user
        self.per_address = per_address
        self.window_s = window_s

    async def blocked_for(self, username: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        ukey, akey = user_key(username), addr_key(address)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.get(ukey)
            pipe.get(akey)
            pipe.ttl(ukey)
            pipe.ttl(akey)
            users, addrs, uttl, attl = await pipe.execute()
        wait = 0
        if users is not None and int(users) >= self.per_user:
            wait = max(wait, int(uttl), 1)
        if addrs is not None and int(addrs) >= self.per_address:
            wait = max(wait, int(attl), 1)
        return wait

    async def failed(self, username: str, address: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            for key in (user_key(username), addr_key(address)):
                pipe.incr(key)
                pipe.expire(key, self.window_s, nx=True)
            await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self.client.delete(user_key(username))
