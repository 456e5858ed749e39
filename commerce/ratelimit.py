"""Login rate limits in Redis: attempts counted per username and per client address.

Keys (owned by commerce, each with an expiry of one window):
``elysium:commerce:login:user:{sha256(lower username)}`` and ``elysium:commerce:login:addr:{address}``.
The username is hashed so the key space never lists who tried to log in.

An attempt is *reserved* before its password is checked: one script, run atomically by
Redis, refuses it when either counter has reached its limit and otherwise counts it on
both. So however many guesses arrive at once, at most the limit of them are ever checked.
A login that succeeds gives its own reservation back (:meth:`LoginLimiter.release`); the
failures before it still count until their window ends.

The script touches both keys, so on Redis Cluster they must live in one slot; the keys carry
no hash tag yet (one Redis or Sentinel, as deployed today, is fine).
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

PREFIX = "elysium:commerce:login:"

# KEYS: user key, address key. ARGV: per-user limit, per-address limit, window (s).
# Returns 0 when the attempt is reserved, else the seconds until the fuller counter expires.
_RESERVE = """
local wait = 0
for i = 1, 2 do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[i]) then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 1 then ttl = 1 end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i = 1, 2 do
  if redis.call('INCR', KEYS[i]) == 1 or redis.call('TTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  end
end
return 0
"""

# KEYS: user key, address key. Takes one reservation back from each counter that still exists.
_RELEASE = """
for i = 1, 2 do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count > 1 then
    redis.call('DECR', KEYS[i])
  elseif count == 1 then
    redis.call('DEL', KEYS[i])
  end
end
return 0
"""


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
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)

    async def reserve(self, username: str, address: str) -> int:
        """Count one attempt and return 0, or refuse it and return the seconds until one is allowed."""
        wait = await self._reserve(keys=[user_key(username), addr_key(address)],
                                   args=[self.per_user, self.per_address, self.window_s])
        return int(wait)

    async def release(self, username: str, address: str) -> None:
        """Give back the reservation of an attempt that succeeded."""
        await self._release(keys=[user_key(username), addr_key(address)])
