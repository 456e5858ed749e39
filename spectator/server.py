"""The relay process: listening socket, watch requests (resolved by :mod:`spectator.watch`), HTTP
endpoints, drain and stop."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from elysium import cors, numbers, redisclient, tokens
from elysium.chat import KernelRelations, Relations
from elysium.feeds import FeedUnavailable, MatchFeedReader
from elysium.feeds.redis_feed import RedisFeedReader
from elysium.listening import Listening
from elysium.metrics import CONTENT_TYPE_LATEST
from elysium.presence import MatchPresence, State
from elysium.problem import Problem
from elysium.ws import frames
from spectator import listing, watch
from spectator import openapi as openapi_doc
from spectator import protocol as sp
from spectator.connection import Watcher
from spectator.fanout import slow_reader_policy
from spectator.listing import MAX_LIST_LIMIT
from spectator.live import MatchRelay
from spectator.metrics import SpectatorMetrics
from spectator.replay import Replay
from spectator.settings import SpectatorSettings
from spectator.social import ChatHub

log = logging.getLogger("spectator")

CLOCK_SAMPLES = 30  # the last minute of clock samples at the default publishing period

class SpectatorServer:
    def __init__(self, settings: SpectatorSettings, redis_client: aioredis.Redis | None = None,
                 feeds: MatchFeedReader | None = None, relations: Relations | None = None) -> None:
        self.settings = settings
        self.relay_id = settings.resolved_id
        self.cors = cors.policy(settings.cors_origins)  # the probes' and listings' CORS headers
        self.metrics = SpectatorMetrics()
        self.slow_readers = slow_reader_policy(settings)
        # A retry on a fresh connection hides Redis restarts from single commands.
        self.redis = redis_client or redisclient.connect(settings.redis_url)
        self.feeds: MatchFeedReader = feeds or RedisFeedReader(self.redis)
        self.relays: dict[str, MatchRelay] = {}
        self.connections: set[Watcher] = set()
        self.watching = 0
        self.replays = 0
        self.draining = False
        self.redis_ok = False
        self.port = settings.port
        self.clock_offset = 0.0  # Redis clock minus ours, in seconds
        self._clock_samples: deque[tuple[float, float]] = deque(maxlen=CLOCK_SAMPLES)  # (round trip, offset)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._jobs: set[asyncio.Task[Any]] = set()
        self._published: set[str] = set()
        self._stopped = asyncio.Event()
        self.openapi = json.dumps(openapi_doc.build(), separators=(",", ":")).encode()
        have_key = bool(settings.player_public_key or settings.player_public_key_file)
        verifier = (tokens.Verifier(tokens.load_public_key(settings.player_public_key or None,
                                                           settings.player_public_key_file or None))
                    if have_key else None)
        self.player_tokens = verifier  # a watcher's ?token= (shown watching to friends) and the social socket
        self.presence = MatchPresence(self.redis, State.WATCHING, settings.presence_ttl_s)
        # Chat (the social socket) when a key to verify player tokens is configured.
        self.chat: ChatHub | None = None
        if settings.chat_enabled and verifier is not None:
            self.chat = ChatHub(self.redis, relations or KernelRelations(self.redis), settings, verifier,
                                self.metrics)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen (on ``sock`` when a ``--workers`` parent bound it) and start the housekeeping."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(self._new_connection, sock=sock, backlog=4096)
        else:
            self._server = await loop.create_server(self._new_connection, self.settings.host, self.settings.port,
                                                    backlog=4096, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        await self._sync_clock()
        if self.chat is not None:
            self.chat.start(self.relay_id)
        self._tasks = [loop.create_task(self._housekeeping(), name="housekeeping")]

    @property
    def public_url(self) -> str:
        return self.settings.resolved_public_url(self.port)

    def _new_connection(self) -> Watcher:
        conn = Watcher(self)
        self.connections.add(conn)
        return conn

    async def drain_and_stop(self) -> None:
        """Stop taking watchers, tell every watcher to reconnect elsewhere, then stop."""
        if self.draining:
            return
        self.draining = True
        self.metrics.draining.set(1)
        if self._server is not None:
            self._server.close()
        log.info("draining", extra={"watchers": self.watching})
        notice = frames.frame_binary(sp.shutdown("relay draining"))
        for conn in list(self.connections):
            if conn.open:
                conn.write(notice)
                conn.close(frames.CLOSE_GOING_AWAY, "relay draining")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.drain_s
        while self.connections and loop.time() < deadline:  # each leaves once its bytes are out
            await asyncio.sleep(0.05)
        await self.stop()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [*self._tasks, *self._jobs]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        for relay in list(self.relays.values()):
            relay.close()
        if self.chat is not None:
            await self.chat.stop()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        try:
            await asyncio.wait_for(self.presence.flush(), 5.0)
        except TimeoutError:
            pass
        try:
            await asyncio.wait_for(self.redis.aclose(), 5.0)
        except (RedisError, OSError, TimeoutError):
            pass
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # --- clock and housekeeping ------------------------------------------------------------

    def feed_now(self) -> float:
        """Now on the clock of the feed's entry ids (Redis's)."""
        return time.time() + self.clock_offset

    async def _sync_clock(self) -> None:
        """Estimate Redis's clock from ``TIME``, trusting the sample with the shortest round trip.

        Entry times are Redis's; a slow reply would skew a plain midpoint estimate by half
        its round trip, and delays (minimum delays included) would shift with it.
        """
        try:
            before = time.time()
            seconds, micros = await self.redis.time()
            after = time.time()
            self._clock_samples.append((after - before, seconds + micros / 1e6 - (before + after) / 2))
            self.clock_offset = min(self._clock_samples)[1]
            self.redis_ok = True
        except (RedisError, OSError) as exc:
            if self.redis_ok:
                log.warning("redis unreachable", extra={"error": str(exc)})
            self.redis_ok = False

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.settings.viewers_every_s)
            await self._sync_clock()  # also tells /readyz whether Redis answers
            counts: dict[str, int] = {}
            for relay in self.relays.values():
                counts[relay.match_id] = relay.watchers
            for conn in self.connections:
                if conn.replay is not None:
                    counts[conn.replay.match_id] = counts.get(conn.replay.match_id, 0) + 1
            for gone in self._published - counts.keys():
                counts[gone] = 0
            self._published = {m for m, n in counts.items() if n}
            await self.presence.flush()  # signed-in watchers, in one pipeline
            try:
                await listing.publish_viewers(self.redis, self.relay_id, counts)
                if counts:  # with nothing to publish no command was sent: no news of Redis
                    self.redis_ok = True
            except (RedisError, OSError):
                self.redis_ok = False

    def relay_done(self, relay: MatchRelay) -> None:
        if self.relays.get(relay.match_id) is relay:
            del self.relays[relay.match_id]

    # --- HTTP -------------------------------------------------------------------------------

    def handle_http(self, conn: Watcher, target: str) -> None:
        path, _, query = target.partition("?")
        if path == "/healthz":
            conn.http_reply(200, b'{"status":"ok"}', "application/json")
        elif path == "/readyz":
            ready = self.redis_ok and not self.draining
            body = json.dumps({"ready": ready, "redis": self.redis_ok, "draining": self.draining,
                               "watchers": self.watching, "matches": len(self.relays)}).encode()
            conn.http_reply(200 if ready else 503, body, "application/json")
        elif path == "/metrics":
            conn.http_reply(200, self.metrics.render(), CONTENT_TYPE_LATEST)
        elif path == "/v1/openapi.json":
            conn.http_reply(200, self.openapi, "application/json")
        elif path == "/v1/matches":
            self._spawn(self._list(conn, query))
        else:
            conn.http_problem(Problem(404, "not-found", detail=f"no resource at {path[:64]}"), path)

    async def _list(self, conn: Watcher, query: str) -> None:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if set(params) - {"limit"}:
            conn.http_problem(Problem(400, "bad-request", detail=f"the only parameter is limit, 1 to {MAX_LIST_LIMIT}"),
                              "/v1/matches")
            return
        try:
            limit = numbers.whole(params.get("limit", "50"), "limit", 1, MAX_LIST_LIMIT)
        except numbers.NumberError as exc:
            conn.http_problem(Problem(400, "bad-request", detail=str(exc)), "/v1/matches")
            return
        try:
            body = await listing.list_matches(self.feeds, self.redis, limit)
        except (FeedUnavailable, RedisError, OSError):
            conn.http_problem(Problem(503, "redis-unavailable", detail="match listings are unavailable; retry"),
                              "/v1/matches")
            return
        conn.http_reply(200, json.dumps(body).encode(), "application/json")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._jobs.add(task)
        task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[Any]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("request failed", exc_info=task.exception())

    # --- watching ---------------------------------------------------------------------------

    def refuse_new(self, social: bool = False) -> str:
        if self.draining:
            return "relay is draining"
        if social:
            if self.chat is not None and len(self.chat.sessions) >= self.settings.max_social:
                return "relay is full"
            return ""
        if self.watching >= self.settings.max_watchers:
            return "relay is full"
        return ""

    def start_watch(self, conn: Watcher, target: str) -> None:
        self._spawn(self._watch(conn, target))

    async def _watch(self, conn: Watcher, target: str) -> None:
        """Serve one watch request to its end; whatever happens, the connection's slot and counts are
        given back (here, or in :meth:`on_connection_lost` when the watcher leaves first)."""
        metrics = self.metrics
        try:
            req = sp.parse_watch_target(target, self.settings.max_delay_s)
            conn.player = self._watcher_id(req.token)
            plan = await watch.resolve(self.feeds, self.settings, req)
            if not conn.open:
                return  # the watcher left (or the relay began draining) while the request was looked up
            if plan.replay:
                await self._watch_replay(conn, plan)
            else:
                await self._watch_live(conn, plan)
        except sp.WatchRefused as exc:
            metrics.watches.labels(exc.code).inc()
            conn.refuse(exc.code, exc.message)
        except (FeedUnavailable, RedisError, OSError) as exc:
            metrics.watches.labels("redis").inc()
            log.warning("watch failed: redis", extra={"error": str(exc)})
            if conn.kind:
                conn.send(sp.stream_ended(req.match_id, "feed_unavailable", True))
                conn.close(frames.CLOSE_INTERNAL, "stream ended")
            else:
                conn.refuse(sp.INTERNAL, "match feeds are unreachable right now; retry", frames.CLOSE_INTERNAL)
        except Exception:
            # Our bug: log it, and close the watcher rather than leave it open with nothing coming.
            metrics.watches.labels(sp.INTERNAL).inc()
            log.exception("watch failed", extra={"target": target[:128]})
            conn.refuse(sp.INTERNAL, "the relay failed to serve this watch; retry", frames.CLOSE_INTERNAL)

    def _watcher_id(self, token: str | None) -> str | None:
        """The player a watch's token names, or None for an anonymous watch (or a relay that signs nobody in)."""
        if token is None or self.player_tokens is None:
            return None
        try:
            claims = self.player_tokens.verify(token, tokens.PLAYER_AUDIENCE)
        except tokens.TokenError as exc:
            raise sp.WatchRefused(sp.INVALID_TOKEN, f"the token is not a valid player access token: {exc}") from None
        return str(claims["sub"])

    def _began(self, conn: Watcher, kind: str, match_id: str) -> None:
        conn.watching(kind)
        conn.match_id = match_id
        if conn.player is not None:
            self.presence.joined(conn.player, match_id)
        self.watching += 1
        self.metrics.watchers.labels(kind).inc()
        self.metrics.watches.labels("ok").inc()

    async def _watch_live(self, conn: Watcher, plan: watch.WatchPlan) -> None:
        match_id = plan.match_id
        hello = watch.hello(plan)
        for _ in range(3):
            relay = self.relays.get(match_id)
            if relay is None:
                relay = self.relays[match_id] = MatchRelay(self, match_id)
                try:
                    await relay.open()
                except BaseException:
                    relay.close()
                    raise
            if not conn.open:
                relay._maybe_close()
                return
            if not conn.kind:
                conn.send(hello)
                self._began(conn, "live", match_id)
            if await relay.attach(conn, plan.delay_s, plan.bundle_s):
                return
        raise sp.WatchRefused(sp.INTERNAL, "the feed kept closing; retry")

    async def _watch_replay(self, conn: Watcher, plan: watch.WatchPlan) -> None:
        """Hold a replay slot for ``conn`` from here to the end of its replay (the caller checked it is open)."""
        if self.replays >= self.settings.max_replays:
            raise sp.WatchRefused(sp.BUSY, "this relay serves its maximum of replays; retry later or elsewhere")
        replay = Replay(self, conn, plan.match_id, plan.from_tick, plan.min_delay_s, plan.speed)
        self._hold_replay(conn, replay)
        try:
            catch_up = await replay.seek()
            if conn.replay is not replay or not conn.open:
                return  # the watcher left while we were seeking
            first = catch_up[0] if catch_up else replay.ahead[0]
            conn.send(watch.hello(plan, first.tick))
            self._began(conn, "replay", plan.match_id)
            replay.task = asyncio.current_task()
            await replay.play(catch_up)
        finally:
            # The replay is over (played out, failed, refused or cancelled): its cursor needs no slot now.
            self._release_replay(conn, replay)

    def _hold_replay(self, conn: Watcher, replay: Replay) -> None:
        self.replays += 1
        self.metrics.replay_slots.set(self.replays)
        conn.replay = replay

    def _release_replay(self, conn: Watcher, replay: Replay | None = None) -> Replay | None:
        """Give back ``conn``'s replay slot (only if it still holds ``replay``, when given); the replay it held."""
        held = conn.replay
        if held is None or (replay is not None and held is not replay):
            return None
        conn.replay = None
        self.replays -= 1
        self.metrics.replay_slots.set(self.replays)
        return held

    def on_connection_lost(self, conn: Watcher) -> None:
        self.connections.discard(conn)
        if conn.kind:
            self.watching -= 1
            self.metrics.watchers.labels(conn.kind).dec()
            if conn.player is not None:
                self.presence.left(conn.player, conn.match_id)
        if conn.relay is not None:
            conn.relay.detach(conn)
        replay = self._release_replay(conn)
        if replay is not None and replay.task is not None and replay.task is not asyncio.current_task():
            replay.task.cancel()


class RelayProcess:
    """The relay as ``elysium.serve`` runs it (an :class:`elysium.serve.Service`)."""

    def __init__(self, settings: SpectatorSettings) -> None:
        self.server = SpectatorServer(settings)

    async def start(self, sock: socket.socket | None) -> None:
        await self.server.start(sock)

    def listening(self) -> Listening:
        return Listening(self.server.public_url, self.server.port, self.server.relay_id)

    async def drain_and_stop(self) -> None:
        await self.server.drain_and_stop()
