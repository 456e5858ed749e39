"""Per-player rate limits on chat and confirm: a fixed window counted in Redis.

``INCR`` of ``butler:rl:<action>:<player>:<window>`` with the window's expiry set on the first
count; past ``limit`` the request answers ``429 rate-limited`` with ``Retry-After`` to the
window's end. Fixed windows let a player send up to twice the limit across one boundary;
that is the price of one round trip per request, and the limit is an abuse guard, not a meter.
Shared by every replica through Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis

from elysium.problem import shared


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, window_s: int, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.window_s = window_s
        self.clock = clock

    async def hit(self, action: str, player_id: str, limit: int) -> None:
        """Count one ``action`` by ``player_id``; raise ``429 rate-limited`` past ``limit`` in the window."""
        now = self.clock()
        window = int(now // self.window_s)
        key = f"butler:rl:{action}:{player_id}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_s + 1, nx=True)
            count, _ = await pipe.execute()
        if int(count) > limit:
            wait = max(1, int((window + 1) * self.window_s - now + 0.999))
            raise shared("rate-limited", f"at most {limit} {action} requests per {self.window_s} s; retry in {wait} s",
                         headers={"Retry-After": str(wait)})
