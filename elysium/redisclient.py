"""The one way a service makes its Redis client.

Every service talks to Redis through a client from :func:`connect` (or :func:`connect_sync`
for a command-line tool), so all of them behave the same under load and through outages:

- **A burst queues.** The pool is a :class:`~redis.asyncio.BlockingConnectionPool`: when
  all ``max_connections`` are busy a command waits up to ``pool_wait_s`` for one to come
  back instead of failing at once with "Too many connections".
- **A Redis restart costs no request.** Pooled connections opened before the restart are
  dead; the first command on one fails with a connection error. Each command is retried
  (``retries`` times, exponential backoff from 50 ms up to 1 s) on a fresh connection after
  a :class:`ConnectionError` or :class:`TimeoutError`, and a connection idle for more than
  ``health_check_interval_s`` is checked with a PING before it is used.
- **A bad URL is a settings error.** :func:`elysium.config.redis_url` is the ``check`` of
  every service's ``ELYSIUM_REDIS_URL`` setting, so ``http://...`` stops the service at
  start with one line naming the variable, not a traceback at the first command.

- **Sentinel.** ``redis+sentinel://[:password@]host:port[,host:port...]/<master>[/<db>]``
  names Redis Sentinels instead of Redis: the client asks them for the master named
  ``<master>`` and follows a failover (a connection to a demoted master is dropped and the
  next command asks the Sentinels again). Its pool is redis-py's Sentinel pool (a command
  does not queue for a free connection as the blocking pool's do); retries and health checks
  are the same.

A retried write may reach Redis twice when Redis applied it but the reply was lost, so a
write that must happen once is made safe to repeat: a match result is keyed by its match
id, and a join token's replay guard stores who claimed it, so a repeated claim by the same
caller still wins (``gameserver/redisio.py``).
"""

from __future__ import annotations

from typing import Any

import redis as sync_redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as aiosentinel
import redis.sentinel as sync_sentinel
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as SyncRetry

from elysium.redisurls import SENTINEL_SCHEME, SentinelTarget, parse_sentinel

__all__ = ["SENTINEL_SCHEME", "SentinelTarget", "connect", "connect_sync", "parse_sentinel"]

MAX_CONNECTIONS = 64  # per process
POOL_WAIT_S = 10.0  # how long a command waits for a free pooled connection
HEALTH_CHECK_INTERVAL_S = 15.0  # a connection idle longer than this is PINGed before use
RETRIES = 3  # per command, after a connection error or a timeout
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
SOCKET_TIMEOUT_S = 10.0  # a reply slower than this is a timeout (blocking reads ask for less)
CONNECT_TIMEOUT_S = 5.0


def _sentinel_client(url: str, options: dict[str, Any], retry: Any, max_connections: int,
                     sentinel_class: Any, redis_class: Any) -> Any:
    target = parse_sentinel(url)
    timeouts = {"socket_timeout": options["socket_timeout"], "socket_connect_timeout": options["socket_connect_timeout"]}
    sentinel = sentinel_class(list(target.sentinels), sentinel_kwargs=timeouts, **options)
    return sentinel.master_for(target.master, redis_class=redis_class, db=target.db, password=target.password,
                               retry=retry, max_connections=max_connections)


def _options(health_check_interval_s: float, retries: int) -> dict[str, Any]:
    return {
        "health_check_interval": health_check_interval_s,
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError],
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_keepalive": True,
        "_retries": retries,
    }


def connect(url: str, *, max_connections: int = MAX_CONNECTIONS, pool_wait_s: float = POOL_WAIT_S,
            health_check_interval_s: float = HEALTH_CHECK_INTERVAL_S, retries: int = RETRIES) -> aioredis.Redis:
    """An asyncio client on a blocking pool, with health checks and retry on reconnect.

    ``aclose()`` on the client closes its pool.
    """
    options = _options(health_check_interval_s, retries)
    retry = Retry(ExponentialBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S), options.pop("_retries"))
    if url.lower().startswith(SENTINEL_SCHEME + "://"):
        client: aioredis.Redis = _sentinel_client(url, options, retry, max_connections, aiosentinel.Sentinel,
                                                  aioredis.Redis)
        return client
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=pool_wait_s,
                                                    retry=retry, **options)
    return aioredis.Redis.from_pool(pool)


def connect_sync(url: str, *, max_connections: int = 4, pool_wait_s: float = POOL_WAIT_S,
                 health_check_interval_s: float = HEALTH_CHECK_INTERVAL_S, retries: int = RETRIES) -> sync_redis.Redis:
    """The same for a synchronous caller (a command-line tool)."""
    options = _options(health_check_interval_s, retries)
    retry = SyncRetry(ExponentialBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S), options.pop("_retries"))
    if url.lower().startswith(SENTINEL_SCHEME + "://"):
        client: sync_redis.Redis = _sentinel_client(url, options, retry, max_connections, sync_sentinel.Sentinel,
                                                    sync_redis.Redis)
        return client
    pool = sync_redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=pool_wait_s,
                                                      retry=retry, **options)
    return sync_redis.Redis.from_pool(pool)
