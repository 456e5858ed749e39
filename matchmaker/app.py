"""``create_app(settings)``: the whole matchmaker service wired in one place.

One aiohttp application holds the Redis and MongoDB clients, the adapters, the matching
loop, the results consumer, the ticket event fan-out and the moderation watch; ``cleanup_ctx`` pairs each
start with its stop. The shared edge (``elysium.http``) answers errors as problem+json
(``errors.Problem``), logs anything else and answers it with a generic 500, and serves the
probes and the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from argon2 import PasswordHasher
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from elysium import http, redisclient, tokens
from elysium.moderation import ModerationWatch
from elysium.config import ConfigError
from matchmaker.events import TicketEvents
from matchmaker.history import MatchHistory
from matchmaker.leaderboard import Leaderboard
from matchmaker.games import GameBook
from matchmaker.matcher import Matcher
from matchmaker.metrics import MatchmakerMetrics
from matchmaker.moderation import BanReactions
from matchmaker.modes import ModeConfig, ModeError, as_modes, load_modes
from matchmaker.parties import PartyBook
from matchmaker.ratings import RatingBook
from matchmaker.agones import AgonesAllocator
from matchmaker.registry import ServerRegistry
from matchmaker.results import ResultsConsumer
from matchmaker.settings import MatchmakerSettings
from matchmaker.tickets import TicketQueue

log = logging.getLogger("matchmaker")

JOIN_ISSUER = tokens.MATCHMAKER_ISSUER
REDIS_CONNECTIONS = 64
DRAIN_TIMEOUT_S = 10.0
MAX_BODY_BYTES = 64 * 1024
TOKEN_CACHE_ENTRIES = 100_000
INDEX_RETRY_S = 5.0
# A game password guards a lobby for an hour, not an account: the OWASP minimum for argon2id
# (19 MiB, 2 passes) keeps a join's hash near 20 ms.
GAME_PASSWORD_TIME_COST = 2
GAME_PASSWORD_MEMORY_KIB = 19_456
OPENAPI_PATH = Path(__file__).with_name("openapi.json")


@dataclass
class Services:
    settings: MatchmakerSettings
    modes: dict[str, ModeConfig]
    redis: aioredis.Redis
    mongo: AsyncMongoClient  # type: ignore[type-arg]
    queue: TicketQueue
    parties: PartyBook
    games: GameBook
    passwords: PasswordHasher  # custom games' passwords (argon2id)
    registry: ServerRegistry
    ratings: RatingBook
    history: MatchHistory
    leaderboard: Leaderboard
    matcher: Matcher
    consumer: ResultsConsumer
    events: TicketEvents
    auth: http.VerifiedTokens
    service_auth: http.VerifiedTokens | None
    signer: tokens.Signer
    metrics: MatchmakerMetrics
    bans: BanReactions
    moderation: ModerationWatch  # who is banned (their tokens are refused); reacts to bans with ``bans``
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    draining: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


SERVICES = web.AppKey("services", Services)


def _build(settings: MatchmakerSettings, modes: Mapping[str, ModeConfig] | None) -> Services:
    if modes is not None:
        mode_map = as_modes(modes)
    elif settings.modes_file:
        try:
            mode_map = load_modes(Path(settings.modes_file).read_text())
        except OSError as exc:
            raise ConfigError("ELYSIUM_MATCHMAKER_MODES_FILE",
                              f"cannot read {settings.modes_file}: {exc.strerror}") from None
        except ModeError as exc:
            raise ConfigError("ELYSIUM_MATCHMAKER_MODES_FILE", str(exc)) from None
    else:
        mode_map = load_modes(None)
    # Requests past the pool's size wait for a connection instead of failing.
    client = redisclient.connect(settings.redis_url, max_connections=REDIS_CONNECTIONS)
    mongo: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)  # type: ignore[type-arg]
    queue = TicketQueue(client, ttl_s=settings.ticket_ttl_s, retention_s=settings.ticket_retention_s,
                        forming_timeout_s=settings.forming_timeout_s, stats_window_s=settings.stats_window_s)
    registry = ServerRegistry(client, fresh_s=settings.server_fresh_s, hold_s=settings.seat_hold_s,
                              policy=settings.allocation)
    metrics = MatchmakerMetrics()
    ratings = RatingBook(mongo, settings.mongo_db, season=settings.season)
    leaderboard = Leaderboard(client, ratings.standings, lock_s=settings.leaderboard_rebuild_lock_s,
                              metrics=metrics)
    service_auth = None
    if settings.service_public_key_file:
        service_auth = http.VerifiedTokens(tokens.Verifier(tokens.load_public_key(
            path=settings.service_public_key_file)), tokens.SERVICE_AUDIENCE, size=TOKEN_CACHE_ENTRIES)
    parties = PartyBook(client, ttl_s=settings.party_ttl_s, max_size=settings.party_max_size)
    bans = BanReactions(queue, parties)
    return Services(
        settings=settings, modes=mode_map, redis=client, mongo=mongo, queue=queue, parties=parties,
        games=GameBook(client, idle_s=settings.game_idle_s, retention_s=settings.ticket_retention_s,
                       forming_timeout_s=settings.forming_timeout_s),
        passwords=PasswordHasher(time_cost=GAME_PASSWORD_TIME_COST, memory_cost=GAME_PASSWORD_MEMORY_KIB,
                                 parallelism=1),
        registry=registry, ratings=ratings, history=MatchHistory(ratings.matches), leaderboard=leaderboard,
        matcher=Matcher(queue, registry, mode_map, max_tickets=settings.max_tickets_per_pass, metrics=metrics,
                        allocator=AgonesAllocator(settings, registry, metrics) if settings.allocator == "agones"
                        else None),
        consumer=ResultsConsumer(client, ratings, mode_map, settings.resolved_id, leaderboard=leaderboard,
                                 metrics=metrics),
        events=TicketEvents(client),
        auth=http.VerifiedTokens(tokens.Verifier(tokens.load_public_key(settings.player_public_key or None,
                                                                        settings.player_public_key_file or None)),
                                 tokens.PLAYER_AUDIENCE, size=TOKEN_CACHE_ENTRIES),
        service_auth=service_auth,
        signer=tokens.Signer(tokens.load_private_key(settings.join_private_key or None,
                                                     settings.join_private_key_file or None), JOIN_ISSUER),
        metrics=metrics, bans=bans,
        moderation=ModerationWatch(client, on_event=bans.on_event, on_resync=bans.on_resync),
    )


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    svc = app[SERVICES]
    loop = asyncio.get_running_loop()
    svc.tasks = [
        loop.create_task(svc.matcher.run(svc.stop, svc.settings.match_interval_s), name="matcher"),
        loop.create_task(_consume(svc), name="results"),
        loop.create_task(svc.events.run(svc.stop), name="events"),
        loop.create_task(svc.moderation.run(svc.stop), name="moderation"),
    ]
    await svc.moderation.wait_ready()  # ready once it knows who is banned (Redis down: not ready anyway)
    yield
    svc.stop.set()
    # The matching pass in flight finishes (a pass cut short leaves tickets forming until
    # the forming timeout); the consumer and the subscription notice the stop within 1 s.
    await asyncio.wait(svc.tasks, timeout=DRAIN_TIMEOUT_S)
    for task in svc.tasks:
        task.cancel()
    await asyncio.gather(*svc.tasks, return_exceptions=True)
    await _close(svc)


async def _close(svc: Services) -> None:
    if isinstance(svc.matcher.allocator, AgonesAllocator):
        await svc.matcher.allocator.close()
    await svc.leaderboard.close()
    await svc.redis.aclose()
    await svc.mongo.close()


async def _indexes(svc: Services) -> None:
    """Create the history and leaderboard indexes, retrying while MongoDB is away."""
    while not svc.stop.is_set():
        try:
            await svc.ratings.ensure_indexes()
            return
        except PyMongoError as exc:
            log.warning("cannot create the MongoDB indexes yet; retrying", extra={"error": str(exc)})
        try:
            await asyncio.wait_for(svc.stop.wait(), INDEX_RETRY_S)
        except TimeoutError:
            pass


async def _consume(svc: Services) -> None:
    """The results consumer, once the indexes exist (none is built under the first writes)."""
    await _indexes(svc)
    await svc.consumer.run(svc.stop)


async def _on_shutdown(app: web.Application) -> None:
    svc = app[SERVICES]
    svc.draining = True
    svc.stop.set()
    svc.events.wake_all()  # open event streams see the stop and end, so the runner can close


def create_app(settings: MatchmakerSettings, *, modes: Mapping[str, ModeConfig] | None = None,
               run_loops: bool = True) -> web.Application:
    """The matchmaker service. ``modes`` overrides the modes file; ``run_loops=False`` serves the
    API without the matching loop and results consumer (tests drive :class:`Matcher` directly)."""
    from matchmaker import admin_api, api, gameapi, history_api

    svc = _build(settings, modes)
    app = http.application(observe=svc.metrics.http.observe, client_max_size=MAX_BODY_BYTES,
                           unavailable_detail="A data store is unavailable; retry shortly",
                           cors_origins=settings.cors_origins)
    app[SERVICES] = svc
    if run_loops:
        app.cleanup_ctx.append(_lifecycle)
    else:
        app.cleanup_ctx.append(_events_only)
    app.on_shutdown.append(_on_shutdown)
    http.add_probes(app, ready=lambda: ready(svc), metrics=svc.metrics.render, openapi=openapi_document(svc.modes))
    api.add_routes(app)
    history_api.add_routes(app)
    gameapi.add_routes(app)
    admin_api.add_routes(app)
    return app


def openapi_document(modes: Mapping[str, ModeConfig]) -> dict[str, Any]:
    """``openapi.json`` with the ``mode`` of a ticket and of a custom game an enum of the modes
    this matchmaker serves."""
    document: dict[str, Any] = json.loads(OPENAPI_PATH.read_text())
    for schema in ("TicketRequest", "GameRequest"):
        document["components"]["schemas"][schema]["properties"]["mode"]["enum"] = sorted(modes)
    lobby = document["paths"]["/v1/games"]["get"]["parameters"]
    next(p for p in lobby if p["name"] == "mode")["schema"]["enum"] = sorted(modes)
    return document


async def _events_only(app: web.Application) -> AsyncIterator[None]:
    svc = app[SERVICES]
    await svc.ratings.ensure_indexes()  # the test drives the consumer itself, at once
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(svc.events.run(svc.stop), name="events"),
             loop.create_task(svc.moderation.run(svc.stop), name="moderation")]
    await svc.moderation.wait_ready()
    yield
    svc.stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await _close(svc)


async def ready(svc: Services) -> http.Ready:
    try:
        redis_ok = bool(await asyncio.wait_for(svc.redis.ping(), 2.0))
    except (RedisError, OSError, TimeoutError):
        redis_ok = False
    bans_loaded = svc.moderation.ready.is_set()  # until then a banned account's token would pass
    return http.Ready(redis_ok and bans_loaded and not svc.draining,
                      {"redis": redis_ok, "draining": svc.draining, "bans_loaded": bans_loaded})
