"""The butler service, wired in one place: :func:`create_app` (``elysium butler`` runs it).

The engine is chosen here, once: the model engine when an API key is configured, else the
offline intent engine, which drives the same tools under the same confirmation rule and
spends no tokens. Clients are made here and closed in the clean-up, in reverse order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from butler import api, turns
from butler import openapi as openapi_doc
from butler.appkeys import MODEL, OFFLINE, SERVICES, Services
from butler.budget import Budget
from butler.conversations import Conversations
from butler.metrics import ButlerMetrics
from butler.prefs import PrefsStore
from butler.proposals import Proposals
from butler.provider import Provider
from butler.ratelimit import RateLimiter
from butler.settings import ButlerSettings
from butler.tools import Toolbox
from elysium import http, redisclient, tokens

log = logging.getLogger("butler")

UNAVAILABLE_DETAIL = "MongoDB or Redis did not answer; nothing was performed, retry shortly"
PING_TIMEOUT_S = 2.0
# MongoDB collections of the butler's database.
PREFS, CONVERSATIONS, USAGE, PROPOSALS = "settings", "conversations", "usage", "proposals"


def mongo_client(settings: ButlerSettings) -> AsyncMongoClient[dict[str, Any]]:
    """Every operation has a deadline; writes are not retried by the driver (SecantusDB has no retryable writes)."""
    return AsyncMongoClient(settings.mongo_url, tz_aware=True, retryWrites=False, appname="elysium-butler",
                            serverSelectionTimeoutMS=int(min(settings.mongo_timeout_s, 5.0) * 1000),
                            timeoutMS=int(settings.mongo_timeout_s * 1000))


def create_app(settings: ButlerSettings) -> web.Application:
    """Build the whole service (inside the running event loop)."""
    verifier = tokens.Verifier(tokens.load_public_key(settings.player_public_key or None,
                                                      settings.player_public_key_file or None))
    api_key = settings.api_key()
    metrics = ButlerMetrics()
    mongo = mongo_client(settings)
    db = mongo[settings.db_name]
    redis = redisclient.connect(settings.redis_url)
    session = aiohttp.ClientSession()
    toolbox = Toolbox(session, settings.commerce_url.rstrip("/"), settings.matchmaker_url.rstrip("/"),
                      timeout_s=settings.tools_timeout_s)
    proposals = Proposals(db[PROPOSALS], ttl_s=settings.proposal_ttl_s)
    provider: Provider | None = None
    engine: turns.Engine
    if api_key:
        from butler.engine import ModelEngine

        provider = Provider(api_key=api_key, base_url=settings.openai_base_url or None, model=settings.model,
                            timeout_s=settings.provider_timeout_s, max_retries=settings.provider_retries,
                            observe=metrics.provider)
        engine = ModelEngine(provider, toolbox, proposals, max_tool_rounds=settings.max_tool_rounds,
                             observe=metrics.tool)
    else:
        from butler.offline import OfflineEngine

        engine = OfflineEngine(toolbox, proposals)
    svc = Services(
        settings=settings, metrics=metrics, tokens=http.VerifiedTokens(verifier, tokens.PLAYER_AUDIENCE),
        mongo=mongo, redis=redis, session=session,
        prefs=PrefsStore(db[PREFS], settings.default_daily_tokens, settings.max_daily_tokens),
        conversations=Conversations(db[CONVERSATIONS], max_entries=settings.max_messages,
                                    max_conversations=settings.max_conversations),
        budget=Budget(db[USAGE]), limiter=RateLimiter(redis, settings.rate_window_s), proposals=proposals,
        toolbox=toolbox, engine=engine, engine_name=MODEL if api_key else OFFLINE, provider=provider)
    app = http.application(observe=metrics.http.observe, client_max_size=settings.max_body_bytes,
                           unavailable_detail=UNAVAILABLE_DETAIL, cors_origins=settings.cors_origins)
    app[SERVICES] = svc
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_on_shutdown)
    http.add_probes(app, ready=lambda: ready(svc), metrics=metrics.render, openapi=openapi_doc.build(settings))
    api.add_routes(app)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    svc = app[SERVICES]
    try:
        await svc.proposals.ensure_indexes()
        await svc.conversations.ensure_indexes()
    except BaseException:
        await _close(svc)
        raise
    log.info("butler ready", extra={"engine": svc.engine_name})
    yield
    await _close(svc)


async def _on_shutdown(app: web.Application) -> None:
    app[SERVICES].draining = True


async def _close(svc: Services) -> None:
    for what, closing in (("model provider", svc.provider.close() if svc.provider else None),
                          ("http client", svc.session.close()), ("redis client", svc.redis.aclose()),
                          ("mongo client", svc.mongo.close())):
        if closing is None:
            continue
        try:
            await asyncio.wait_for(closing, 2.0)
        except Exception as exc:  # closing must go on with the next client
            log.warning("closing failed", extra={"what": what, "error": str(exc)[:200]})


async def ready(svc: Services) -> http.Ready:
    """Ready when MongoDB and Redis answer and the process is not draining."""
    async def mongo_ok() -> bool:
        try:
            await asyncio.wait_for(svc.mongo.admin.command("ping"), PING_TIMEOUT_S)
            return True
        except (PyMongoError, TimeoutError):
            return False

    async def redis_ok() -> bool:
        try:
            return bool(await asyncio.wait_for(svc.redis.ping(), PING_TIMEOUT_S))
        except (RedisError, OSError, TimeoutError):
            return False

    mongo, redis = await asyncio.gather(mongo_ok(), redis_ok())
    return http.Ready(mongo and redis and not svc.draining,
                      {"mongo": mongo, "redis": redis, "draining": svc.draining, "engine": svc.engine_name})
