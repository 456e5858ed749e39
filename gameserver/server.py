"""The game server process: wiring, start, drain and stop, the HTTP probes and the registry heartbeat.

The work is done by the parts it wires together: :class:`~gameserver.joins.Joins` seats
players, :class:`~gameserver.scheduler.Scheduler` ticks the rooms, and
:class:`~gameserver.fanout.FanOut` sends each tick to the players.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from elysium import cors, redisclient, tokens
from elysium.presence import MatchPresence, State
from elysium.moderation import ModerationEvent, ModerationWatch
from elysium.chat import KernelRelations, Relations
from elysium.feeds import MatchFeedWriter
from elysium.feeds.redis_feed import RedisFeedWriter
from elysium.listening import Listening
from elysium.metrics import CONTENT_TYPE_LATEST
from elysium.problem import CONTENT_TYPE as PROBLEM
from elysium.problem import Problem
from elysium.ws import frames
from gameserver import agones
from gameserver.admin import Admin
from gameserver import openapi as openapi_doc
from gameserver import protocol as p
from gameserver.chat import TeamChat
from gameserver.connection import Connection
from gameserver.fanout import FanOut, policy_from
from gameserver.joins import Joins
from gameserver.lifecycle import RoomState
from gameserver.metrics import GameMetrics
from elysium.modes.registry import declared_modes, enabled_names, load_modes
from gameserver.modes import GameMode
from gameserver.redisio import Registry, ReplayGuard, ResultsWriter
from gameserver.scheduler import Scheduler
from gameserver.settings import GameServerSettings

log = logging.getLogger("gameserver")

# How long a stopping server keeps retrying results Redis has not durably accepted, past the
# drain (under elysium.serve's STOP_GRACE_S, after which the process is given up).
RESULTS_GRACE_S = 20.0


class GameServer:
    """One game server process; ``modes`` are the game modes it hosts (default: those of the
    ``elysium.modes`` entry points that ``ELYSIUM_MODES`` enables)."""

    def __init__(self, settings: GameServerSettings, redis_client: aioredis.Redis | None = None,
                 modes: Mapping[str, type[GameMode[Any]]] | None = None, relations: Relations | None = None) -> None:
        self.settings = settings
        if modes is None:
            modes = load_modes(enabled_names(settings.modes))
        self.mode_info = declared_modes(modes)  # each hosted mode's declaration, for the heartbeat
        self.server_id = settings.resolved_id
        self.cors = cors.policy(settings.cors_origins)  # CORS headers of the probes' answers
        self.metrics = GameMetrics()
        self.openapi = json.dumps(openapi_doc.build(), separators=(",", ":")).encode()
        self.redis = redis_client or redisclient.connect(settings.redis_url)
        verifier = tokens.Verifier(
            tokens.load_public_key(settings.join_public_key or None, settings.join_public_key_file or None)
        )
        self.registry = Registry(self.redis, self.server_id, settings.heartbeat_ttl_s)
        self.feed: MatchFeedWriter = RedisFeedWriter(self.redis, settings.feed_maxlen, settings.feed_retention_s)
        self.results = ResultsWriter(self.redis)
        # The scheduler hands expired seats and ended rooms back to the joins, built just after.
        self.scheduler = Scheduler(self.server_id, self.feed, self.results, FanOut(policy_from(settings), self.metrics),
                                   self.metrics, on_seats_expired=lambda seats: self.joins.seats_expired(seats),
                                   on_disposed=lambda room: self.joins.room_disposed(room))
        self.presence = MatchPresence(self.redis, State.IN_MATCH, settings.presence_ttl_s)
        self.bans = ModerationWatch(self.redis, on_event=self._on_moderation, on_resync=self._on_banned)
        self.joins = Joins(settings, self.server_id, verifier, ReplayGuard(self.redis), self.scheduler, self.metrics,
                           modes, draining=lambda: self.draining, presence=self.presence, bans=self.bans)
        self.rooms = self.scheduler.rooms
        self.admin = Admin(self.server_id, tokens.Verifier(tokens.load_public_key(path=settings.service_public_key_file))
                           if settings.service_public_key_file else None, self.rooms, self.scheduler.grid.clocks,
                           self.joins.remove, time.monotonic)
        # What a connection calls (on_inputs is the per-message hot path: one attribute, no hop).
        self.on_inputs = self.scheduler.on_inputs
        self.start_join = self.joins.start
        self.on_leave = self.joins.leave
        self.team_chat = TeamChat(self.redis, relations or KernelRelations(self.redis), settings.chat_limits(),
                                  settings.text_filter())
        self.on_chat = self.team_chat.on_chat
        self.connections: set[Connection] = set()
        self.draining = False
        self._drain_started = False
        self.redis_ok = False
        self.port = settings.port
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = asyncio.Event()
        self._stopping = asyncio.Event()
        self.agones = self._agones() if settings.agones_sdk_port else None

    # --- lifecycle of the process ----------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, self.settings.host, self.settings.port,
                                                backlog=4096, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            await self.redis.ping()
            self.redis_ok = True
        except (RedisError, OSError) as exc:
            log.warning("redis not reachable at start", extra={"error": str(exc)})
        self._tasks = [loop.create_task(self.scheduler.run(self._stopping), name="scheduler"),
                       loop.create_task(self._heartbeat(), name="heartbeat"),
                       loop.create_task(self.bans.run(self._stopping), name="moderation")]
        if self.agones is not None:
            self.agones.start()

    @property
    def public_url(self) -> str:
        return self.settings.resolved_public_url(self.port)

    def _new_connection(self) -> Connection:
        conn = Connection(self)
        self.connections.add(conn)
        return conn

    async def drain_and_stop(self) -> None:
        """Stop taking rooms, let matches finish up to the drain deadline, then shut down."""
        if self._drain_started:  # (draining may be set already: Agones' Shutdown, gameserver/agones.py)
            return
        self._drain_started = True
        log.info("draining", extra={"rooms": len(self.rooms), "deadline_s": self.settings.drain_timeout_s})
        await self.stop_taking_matches()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.drain_timeout_s
        while self.rooms and loop.time() < deadline:
            await asyncio.sleep(0.05)
        now, wall = loop.time(), time.time_ns() // 1000
        for room in list(self.rooms.values()):
            room.abort("shutdown", now, wall)
        # Give aborted rooms one tick to send their end events and hand in results.
        await asyncio.sleep(0.1)
        self._close_connections()
        # Every result is kept until Redis durably accepted it, through an outage too.
        grace = max(deadline - loop.time(), RESULTS_GRACE_S)
        if self.results.held:
            log.info("waiting for results to be accepted", extra={"held": self.results.held, "up_to_s": grace})
        await self.results.settle(grace)
        if self.agones is not None:
            await self.agones.drained()
        await self.stop()

    async def stop_taking_matches(self) -> None:
        """Out of the registry for placement at once: the heartbeat says draining, no seats free."""
        self.draining = True
        self.metrics.draining.set(1)
        await self._beat_once()

    def _close_connections(self) -> None:
        """Tell every player the server is going, close their connections and stop listening."""
        shutdown = frames.frame_binary(p.shutdown("server shutting down"))
        for conn in list(self.connections):
            if conn.open:
                conn.write_framed(shutdown)
                conn.close(frames.CLOSE_GOING_AWAY, "server shutting down")
        if self._server is not None:
            self._server.close()

    async def stop(self) -> None:
        self._close_connections()
        self._stopping.set()
        for task in [*self._tasks, *self.team_chat.in_flight]:
            task.cancel()
        # A Redis call may swallow a cancellation; the loops also watch _stopping, and no
        # task is waited for longer than a few seconds.
        await asyncio.wait(self._tasks, timeout=5.0)
        for room in list(self.rooms.values()):
            self.scheduler.describe(room, live=False)
        try:
            await asyncio.wait_for(self.results.flush(), 5.0)
        except TimeoutError:
            pass
        for result in self.results.undelivered():
            # The last resort: the result in the log, whole, for an operator to append by hand.
            log.error("match result not delivered", extra={"match_id": result.match_id, "result": result.encode()})
        try:
            await self.feed.drain(5.0)
            await self.presence.flush()  # the seats of the matches that ended while stopping
            await self.registry.remove()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("redis unavailable during shutdown", extra={"error": str(exc)})
        if self.agones is not None:
            await self.agones.close()
        await self.redis.aclose()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # --- HTTP ------------------------------------------------------------------------------

    def http_get(self, path: str) -> tuple[int, bytes, str]:
        if path == "/healthz":
            return 200, b'{"status":"ok"}', "application/json"
        if path == "/readyz":
            ready = self.redis_ok and not self.draining
            body = json.dumps({"ready": ready, "redis": self.redis_ok, "draining": self.draining}).encode()
            return (200 if ready else 503), body, "application/json"
        if path == "/metrics":
            self._refresh_gauges()
            return 200, self.metrics.render(), CONTENT_TYPE_LATEST
        if path == "/v1/openapi.json":
            return 200, self.openapi, "application/json"
        return 404, Problem(404, "not-found", detail=f"no resource at {path[:64]}").encode(path[:128]), PROBLEM

    def http_admin(self, method: str, target: str, head: bytes, body: bytes) -> tuple[int, bytes, str, dict[str, str]]:
        """``/v1/admin/*`` (:mod:`gameserver.admin`): the rooms and the kick, with a service token."""
        return self.admin.handle(method, target, head, body)

    def _refresh_gauges(self) -> None:
        self.scheduler.flush_inputs()
        counts = {state: 0 for state in RoomState}
        players = connected = 0
        for room in self.rooms.values():
            counts[room.state] += 1
            players += room.players
            connected += room.connected
        for state, n in counts.items():
            self.metrics.rooms.labels(state.value).set(n)
        self.metrics.players.set(players)
        self.metrics.connected.set(connected)
        self.metrics.feed_pending.set(self.feed.pending)
        self.metrics.results_held.set(self.results.held)

    # --- traffic from players ----------------------------------------------------------------

    def on_connection_lost(self, conn: Connection) -> None:
        self.connections.discard(conn)
        room, seat = conn.room, conn.seat
        if room is not None and seat is not None and seat.link is conn:
            room.drop(seat, asyncio.get_running_loop().time())

    # --- moderation ----------------------------------------------------------------------------

    async def _on_moderation(self, event: ModerationEvent) -> None:
        if event.action == "ban":
            self.kick_banned(event.player)

    async def _on_banned(self, banned: frozenset[str]) -> None:
        """After a start or a lost connection to Redis: everyone banned meanwhile leaves too."""
        for room in list(self.rooms.values()):
            for player in banned.intersection(room.by_player):
                self.kick_banned(player)

    def kick_banned(self, player: str) -> int:
        removed = self.joins.remove(player, p.BANNED, "this account is banned", "banned")
        if removed:
            log.info("banned player removed from their match", extra={"player": player, "seats": removed})
        return removed

    # --- registry ----------------------------------------------------------------------------

    def describe_server(self) -> dict[str, Any]:
        players = sum(r.players for r in self.rooms.values())
        in_use = self.joins.seats_in_use()
        return {
            "address": self.public_url,
            "region": self.settings.region,
            "capacity": self.settings.max_players,
            "seats_free": 0 if self.draining else max(0, self.settings.max_players - in_use),
            "rooms": len(self.rooms),
            "rooms_free": 0 if self.draining else max(0, self.settings.max_rooms - len(self.rooms)),
            "players": players,
            "draining": self.draining,
            "modes": self.joins.modes,
            "mode_info": self.mode_info,
        }

    async def _beat_once(self) -> None:
        try:
            await self.registry.beat(self.describe_server())
            await self.results.flush()
            await self.presence.flush()
            self.redis_ok = True
        except (RedisError, OSError) as exc:
            if self.redis_ok:
                log.warning("heartbeat failed", extra={"error": str(exc)})
            self.redis_ok = False

    # --- Agones (gameserver/agones.py) ------------------------------------------------------

    def _agones(self) -> agones.AgonesLifecycle:
        s = self.settings
        calls = self.metrics.base.counter("agones_sdk_calls", "Calls to the Agones SDK sidecar by call and outcome "
                                          "(ok, error)", ("call", "outcome"))
        return agones.AgonesLifecycle(agones.AgonesSDK(s.agones_sdk_port, calls), self._occupancy,
                                      health_s=s.agones_health_s, idle_s=s.agones_idle_s,
                                      when_empty=s.agones_when_empty,
                                      on_shutdown=self.stop_taking_matches)

    def _occupancy(self) -> agones.Occupancy:
        info = self.describe_server()
        label = agones.seats_label(info["seats_free"], info["rooms_free"], self.settings.max_seats_per_room)
        return agones.Occupancy(rooms=len(self.rooms), seats_label=label, draining=self.draining)

    async def _heartbeat(self) -> None:
        while not self._stopping.is_set():
            await self._beat_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.heartbeat_s)


class GameServerProcess:
    """The game server as ``elysium.serve`` runs it (an :class:`elysium.serve.Service`)."""

    def __init__(self, settings: GameServerSettings) -> None:
        self.server = GameServer(settings)

    async def start(self, sock: socket.socket | None) -> None:
        if sock is not None:
            raise ValueError("the game server binds its own listening socket")
        await self.server.start()

    def listening(self) -> Listening:
        return Listening(self.server.public_url, self.server.port, self.server.server_id)

    async def drain_and_stop(self) -> None:
        await self.server.drain_and_stop()

