"""The commerce service, wired in one place: :func:`create_app` (``elysium commerce`` runs it)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp
from aiohttp import web
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from commerce import (admin_api, api, batch_api, catalog, friends_api, identity_api, market_api, moderation_api,
                      payments_api, rewards, trades_api, withdrawals_api, works_api)
from commerce import openapi as openapi_doc
from commerce.accounts import ISSUER, Accounts
from commerce.appkeys import (ACCOUNTS, ADMIN_VERIFIER, ECONOMY, FRIENDS, LIMITER, MATCHMAKER, METRICS, MODERATION,
                              PLAYER_TOKENS, REDIS, SETTINGS, STATUS, STORE, Status)
from commerce.economy import Economy
from commerce.friends import Friends
from commerce.friendship import Limits
from commerce.errors import Problem
from commerce.metrics import CommerceMetrics
from commerce.profiles import Matchmaker
from commerce.ratelimit import LoginLimiter
from commerce.settings import CommerceSettings
from commerce.store import Store, mongo_client
from elysium import http, redisclient, tokens
from elysium.config import ConfigError

log = logging.getLogger("commerce")

UNAVAILABLE_DETAIL = ("MongoDB or Redis did not answer; money and items change only in whole transactions, so retry "
                      "the same request")
INTERNAL_DETAIL = "something went wrong on our side"
INTERNAL_KEYED_DETAIL = "nothing was charged twice; retry with the same Idempotency-Key"


def read_catalog(path: str) -> catalog.CatalogFile:
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError("ELYSIUM_COMMERCE_CATALOG_FILE", f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError("ELYSIUM_COMMERCE_CATALOG_FILE", f"{path} is not JSON: {exc}") from None
    try:
        return catalog.parse_file(raw)
    except catalog.CatalogError as exc:
        raise ConfigError("ELYSIUM_COMMERCE_CATALOG_FILE", f"{path} is not a valid catalog: {exc}") from None


def _keys(settings: CommerceSettings) -> tuple[tokens.Signer, tokens.Verifier, tokens.Verifier | None]:
    private = tokens.load_private_key(path=settings.player_private_key_file)
    public = (tokens.load_public_key(path=settings.player_public_key_file) if settings.player_public_key_file
              else private.public_key())
    admin = (tokens.Verifier(tokens.load_public_key(path=settings.service_public_key_file))
             if settings.service_public_key_file else None)
    return tokens.Signer(private, ISSUER), tokens.Verifier(public), admin


def create_app(settings: CommerceSettings) -> web.Application:
    """Build the whole service. Connections open and close in ``cleanup_ctx``."""
    from argon2 import PasswordHasher

    cat = read_catalog(settings.resolved_catalog_file)
    mode_rules = rewards.parse_mode_rules(cat.rewards)
    signer, verifier, admin_verifier = _keys(settings)
    status = Status()
    metrics = CommerceMetrics(retries=lambda: app[STORE].conflicts if STORE in app else 0,
                              rewards=lambda: status.consumer, leases_swept=lambda: _leases_swept(app))
    app = http.application(observe=metrics.http.observe, client_max_size=settings.max_body_bytes,
                           unavailable_detail=UNAVAILABLE_DETAIL, internal_detail=INTERNAL_DETAIL,
                           internal_keyed_detail=INTERNAL_KEYED_DETAIL, cors_origins=settings.cors_origins)
    app[SETTINGS] = settings
    app[STATUS] = status
    app[METRICS] = metrics
    app[PLAYER_TOKENS] = http.VerifiedTokens(verifier, tokens.PLAYER_AUDIENCE, ISSUER)
    app[ADMIN_VERIFIER] = admin_verifier
    document = openapi_doc.build(settings.trade_max_ttl_s)

    async def mongo(app: web.Application) -> AsyncIterator[None]:
        client = mongo_client(settings.mongo_url, settings.mongo_timeout_s, status.mongo_health)
        store = Store(client, settings.db_name, settings.txn_attempts, settings.mongo_timeout_s, settings.lease_s)
        leases = store.leases
        assert leases is not None
        try:
            await leases.renew_and_sweep()  # a crashed replica's transactions go before ours start
            await store.ensure_indexes()
            await store.load_catalog(cat)
        except Problem as exc:
            await client.close()
            raise ConfigError("ELYSIUM_COMMERCE_CATALOG_FILE", f"version {cat.version} cannot be loaded: "
                                                               f"{exc.detail}") from None
        except BaseException:
            await client.close()
            raise
        status.mongo_ok = True
        hasher = PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                                parallelism=1)
        app[STORE] = store
        app[ECONOMY] = Economy(store)
        app[ACCOUNTS] = Accounts(store, signer, hasher, settings.access_token_ttl_s, settings.refresh_token_ttl_s,
                                 cat.signup_grant, settings.refresh_reuse_grace_s)
        stop = asyncio.Event()
        renewing = asyncio.get_running_loop().create_task(leases.run(stop), name="session-lease")
        yield
        stop.set()
        await closing("session lease renewal", renewing)
        await closing("session lease (it expires by itself)", leases.release())
        await closing("mongo client", client.close())

    async def redis(app: web.Application) -> AsyncIterator[None]:
        client = redisclient.connect(settings.redis_url)
        app[REDIS] = client
        app[LIMITER] = LoginLimiter(client, settings.login_max_failures, settings.login_max_failures_per_address,
                                    settings.login_window_s)
        friends = Friends(app[STORE], client, Limits(settings.max_friends, settings.max_friend_requests,
                                                     settings.max_blocks), settings.spectator_url)
        await friends.ensure_indexes()
        app[FRIENDS] = friends
        stop = asyncio.Event()
        repairing = asyncio.get_running_loop().create_task(friends.run_repair(stop), name="friends-mirror-repair")
        yield
        stop.set()
        repairing.cancel()  # safe at any point: what it has not written stays in the outbox
        await asyncio.wait([repairing], timeout=1.0)
        await closing("redis client", client.aclose())

    async def matchmaker(app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession() if settings.matchmaker_url else None
        app[MATCHMAKER] = Matchmaker(session, settings.matchmaker_url, settings.matchmaker_timeout_s)
        yield
        if session is not None:
            await closing("matchmaker client", session.close())

    async def consumer(app: web.Application) -> AsyncIterator[None]:
        if not settings.rewards_enabled:
            yield
            return
        worker = rewards.RewardsConsumer(app[REDIS], app[ECONOMY], mode_rules, settings.rewards_group,
                                         settings.resolved_consumer, settings.rewards_claim_idle_s)
        status.consumer = worker
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(worker.run(stop), name="rewards")
        yield
        stop.set()
        await closing("rewards consumer (its entry stays pending and is redelivered)", task)

    async def closing(what: str, step: Awaitable[object]) -> None:
        """Await one clean-up step within what is left of the drain time; past it, give the step up."""
        try:
            await asyncio.wait_for(step, status.drain_left_s(settings.drain_timeout_s))
        except TimeoutError:
            log.warning("not closed within the drain time", extra={"what": what})

    app.cleanup_ctx.extend([mongo, redis, matchmaker, moderation_api.lifecycle, consumer])
    http.add_probes(app, ready=lambda: readiness(app), metrics=metrics.render, openapi=document,
                    alive=lambda: liveness(app))
    api.add_routes(app)
    payments_api.add_routes(app, cat.packs)
    trades_api.add_routes(app)
    market_api.add_routes(app)
    withdrawals_api.add_routes(app, settings)
    works_api.add_routes(app)
    friends_api.add_routes(app)
    batch_api.add_routes(app)
    identity_api.add_routes(app)
    moderation_api.add_routes(app)
    admin_api.add_routes(app)
    return app


async def readiness(app: web.Application) -> http.Ready:
    status = app[STATUS]
    try:
        await asyncio.wait_for(app[STORE].ping(2.0), 3.0)
        status.mongo_ok = True
    except (PyMongoError, OSError, TimeoutError):
        status.mongo_ok = False
    try:
        await asyncio.wait_for(app[REDIS].ping(), 2.0)
        status.redis_ok = True
    except (RedisError, OSError, TimeoutError):
        status.redis_ok = False
    consumer = status.consumer
    bans_loaded = app[MODERATION].watch.ready.is_set()  # until then a banned account's token would pass
    return http.Ready(status.mongo_ok and status.redis_ok and bans_loaded and not status.draining,
                      {"mongo": status.mongo_ok, "redis": status.redis_ok, "draining": status.draining,
                       "bans_loaded": bans_loaded, "rewards_consumer": None if consumer is None else consumer.healthy})


def _leases_swept(app: web.Application) -> int:
    leases = app[STORE].leases if STORE in app else None
    return 0 if leases is None else leases.swept


def liveness(app: web.Application) -> http.Ready:
    """Alive unless every MongoDB command has failed for ``unhealthy_after_s`` (a wedged database or client)."""
    failing = app[STATUS].mongo_health.failing_for_s()
    return http.Ready(failing <= app[SETTINGS].unhealthy_after_s, {"mongo_failing_s": round(failing, 1)})
