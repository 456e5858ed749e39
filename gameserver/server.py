"""The game server process: rooms, the tick scheduler, joins, fan-out and operations."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from elysium import feeds
from elysium import tokens
from elysium.feeds import MatchFeedWriter
from elysium.feeds.redis_feed import RedisFeedWriter
from elysium.metrics import CONTENT_TYPE_LATEST
from elysium.problem import CONTENT_TYPE as PROBLEM
from elysium.problem import Problem
from elysium.ws import frames
from gameserver import protocol as p
from gameserver.connection import Connection
from gameserver.lifecycle import RoomState
from gameserver.metrics import GameMetrics
from gameserver.modes import MODES, GameMode, ModeConfig
from gameserver.modes.arena import Arena, ArenaWorld, WorldFull
from gameserver.redisio import Registry, ReplayGuard, ResultsWriter
from gameserver.room import (
    JoinRefused,
    MatchId,
    PlayerId,
    Room,
    RoomSpec,
    Seat,
    TickOutput,
    spec_from_claims,
    step_rooms,
)
from gameserver.schedule import TickGrid
from gameserver.settings import GameServerSettings

log = logging.getLogger("gameserver")

JOIN_TOKEN_MAX_TTL_S = 60.0


class GameServer:
    def __init__(self, settings: GameServerSettings, redis_client: aioredis.Redis | None = None) -> None:
        self.settings = settings
        self.server_id = settings.resolved_id
        self.metrics = GameMetrics()
        self.redis = redis_client or aioredis.from_url(settings.redis_url)
        self.verifier = tokens.Verifier(
            tokens.load_public_key(settings.join_public_key or None, settings.join_public_key_file or None)
        )
        self.guard = ReplayGuard(self.redis)
        self.registry = Registry(self.redis, self.server_id, settings.heartbeat_ttl_s)
        self.feed: MatchFeedWriter = RedisFeedWriter(self.redis, settings.feed_maxlen, settings.feed_retention_s)
        self.results = ResultsWriter(self.redis)
        self.rooms: dict[MatchId, Room] = {}
        self.grid = TickGrid()
        # Arena rooms of one tick rate and one phase of the tick grid share a world: they fall
        # due together, so each batch steps exactly one world's rooms and touches no others.
        self.worlds: dict[tuple[int, int], ArenaWorld] = {}
        self.resumes: dict[str, tuple[Room, Seat]] = {}
        self.connections: set[Connection] = set()
        self.draining = False
        self.redis_ok = False
        self.inputs_accepted = 0
        self.port = settings.port
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._sleep: asyncio.Future[None] | None = None  # the scheduler's wait for its next deadline
        self._stopped = asyncio.Event()
        self._stopping = asyncio.Event()

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
        self._tasks = [loop.create_task(self._scheduler(), name="scheduler"),
                       loop.create_task(self._heartbeat(), name="heartbeat")]
        log.info("game server listening", extra={"server_id": self.server_id, "url": self.public_url,
                                                 "region": self.settings.region})

    @property
    def public_url(self) -> str:
        return self.settings.resolved_public_url(self.port)

    def _new_connection(self) -> Connection:
        conn = Connection(self)
        self.connections.add(conn)
        return conn

    async def drain_and_stop(self) -> None:
        """Stop taking rooms, let matches finish up to the drain deadline, then shut down."""
        if self.draining:
            return
        self.draining = True
        self.metrics.draining.set(1)
        log.info("draining", extra={"rooms": len(self.rooms), "deadline_s": self.settings.drain_timeout_s})
        await self._beat_once()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.drain_timeout_s
        while self.rooms and loop.time() < deadline:
            await asyncio.sleep(0.05)
        now, wall = loop.time(), time.time_ns() // 1000
        for room in list(self.rooms.values()):
            room.abort("shutdown", now, wall)
        # Give aborted rooms one tick to send their end events and hand in results.
        await asyncio.sleep(0.1)
        await self.stop()

    async def stop(self) -> None:
        shutdown = frames.frame_binary(p.shutdown("server shutting down"))
        for conn in list(self.connections):
            if conn.open:
                conn.write_framed(shutdown)
                conn.close(frames.CLOSE_GOING_AWAY, "server shutting down")
        if self._server is not None:
            self._server.close()
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        # A Redis call may swallow a cancellation; the loops also watch _stopping, and no
        # task is waited for longer than a few seconds.
        await asyncio.wait(self._tasks, timeout=5.0)
        for room in list(self.rooms.values()):
            self._describe(room, live=False)
        try:
            await asyncio.wait_for(self.results.flush(), 5.0)
            await self.feed.drain(5.0)
            await self.registry.remove()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("redis unavailable during shutdown", extra={"error": str(exc)})
        await self.redis.aclose()
        self._stopped.set()
        log.info("game server stopped")

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
        return 404, Problem(404, "not-found", detail=f"no resource at {path[:64]}").encode(path[:128]), PROBLEM

    def _refresh_gauges(self) -> None:
        if self.inputs_accepted:
            self.metrics.inputs.inc(self.inputs_accepted)
            self.inputs_accepted = 0
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

    # --- joining ---------------------------------------------------------------------------

    def start_join(self, conn: Connection, msg: p.Join) -> None:
        asyncio.get_running_loop().create_task(self._join(conn, msg))

    async def _join(self, conn: Connection, msg: p.Join) -> None:
        try:
            if msg.resume is not None:
                room, seat = self._resume(msg.resume, conn)
            else:
                assert msg.token is not None
                room, seat = await self._join_with_token(conn, msg.token)
        except JoinRefused as exc:
            conn.joining = False
            self.metrics.joins.labels(exc.code).inc()
            conn.send(p.error(exc.code, exc.message))
            conn.close(frames.CLOSE_POLICY, exc.code)
            return
        except (RedisError, OSError) as exc:
            conn.joining = False
            self.metrics.joins.labels("redis").inc()
            log.warning("join failed: redis", extra={"error": str(exc)})
            conn.send(p.error(p.INTERNAL, "the server cannot check tokens right now; retry"))
            conn.close(frames.CLOSE_INTERNAL, "redis unavailable")
            return
        self.metrics.joins.labels("ok").inc()
        self.resumes[seat.resume] = (room, seat)
        conn.joined(room, seat)
        conn.send(room.welcome(seat))
        conn.send(room.keyframe(time.time_ns() // 1000))

    def _resume(self, token: str, conn: Connection) -> tuple[Room, Seat]:
        found = self.resumes.pop(token, None)
        if found is None:
            raise JoinRefused(p.RESUME_REJECTED, "unknown or used resume token (the grace period may be over)")
        room, seat = found
        if room.seats[seat.index] is not seat or not room.lifecycle.accepts_players:
            raise JoinRefused(p.RESUME_REJECTED, "the seat is no longer held")
        old = seat.link
        if isinstance(old, Connection) and old is not conn:
            old.seat = old.room = None
            old.close(frames.CLOSE_POLICY, "replaced by a newer connection")
        room.reattach(seat, conn)
        return room, seat

    async def _join_with_token(self, conn: Connection, token: str) -> tuple[Room, Seat]:
        try:
            claims = self.verifier.verify(token, tokens.JOIN_AUDIENCE, max_ttl_s=JOIN_TOKEN_MAX_TTL_S)
        except tokens.TokenError as exc:
            raise JoinRefused(p.TOKEN_REJECTED, f"{exc.code}: {exc}") from None
        if claims.get("srv") != self.server_id:
            raise JoinRefused(p.WRONG_SERVER, "token is for another server")
        match_id = claims.get("mid")
        if not isinstance(match_id, str) or not 1 <= len(match_id) <= 64:
            raise JoinRefused(p.TOKEN_REJECTED, "token lacks a match id")
        player = PlayerId(claims["sub"])
        name = claims.get("name") if isinstance(claims.get("name"), str) else player
        room = self.rooms.get(MatchId(match_id))
        if room is None:
            self._check_new_room(match_id, claims)
        elif room.spec.roster is not None and player not in room.spec.roster:
            raise JoinRefused(p.NOT_IN_ROSTER, "player is not on this match's roster")
        ttl = max(1.0, float(claims["exp"]) - time.time() + tokens.LEEWAY_S)
        if not await self.guard.claim(claims["jti"], ttl):
            raise JoinRefused(p.TOKEN_REUSED, "join token was already used")
        loop = asyncio.get_running_loop()
        room = self.rooms.get(MatchId(match_id))  # another join may have created it meanwhile
        if room is None:
            room = self._create_room(self._check_new_room(match_id, claims), loop.time())
        return room, room.admit(player, str(name), conn, loop.time())

    def _check_new_room(self, match_id: str, claims: dict[str, Any]) -> RoomSpec:
        if self.draining:
            raise JoinRefused(p.DRAINING, "server is draining and takes no new matches")
        spec = spec_from_claims(match_id, claims.get("room"), default_tick_hz=self.settings.tick_hz,
                                max_seats=self.settings.max_seats_per_room)
        if len(self.rooms) >= self.settings.max_rooms or self._seats_in_use() + spec.seats > self.settings.max_players:
            raise JoinRefused(p.ROOM_FULL, "server has no capacity for another match")
        return spec

    def _new_mode(self, config: ModeConfig, mode: str, phase: int) -> GameMode:
        if mode == Arena.name:
            world = self.worlds.get((config.tick_hz, phase))
            if world is None:
                world = self.worlds[config.tick_hz, phase] = ArenaWorld(self.settings.max_players, config.tick_hz)
            try:
                return Arena(config, world)
            except WorldFull:
                raise JoinRefused(p.ROOM_FULL, "server has no capacity for another match") from None
        return MODES[mode](config)

    def _create_room(self, spec: RoomSpec, now: float) -> Room:
        phase = self.grid.add(spec.match_id, spec.tick_hz, spec.seats, now).phase
        try:
            room = Room(spec, server_id=self.server_id, now=now, wall_us=time.time_ns() // 1000,
                        grace_s=self.settings.reconnect_grace_s, keyframe_every_s=self.settings.keyframe_interval_s,
                        mode_factory=lambda config: self._new_mode(config, spec.mode, phase))
        except BaseException:
            self.grid.remove(spec.match_id)
            raise
        self.rooms[spec.match_id] = room
        self._describe(room, live=True)
        self._wake_scheduler()
        log.info("room created", extra={"match_id": spec.match_id, "mode": spec.mode, "seats": spec.seats})
        return room

    def _seats_in_use(self) -> int:
        return sum(r.spec.seats for r in self.rooms.values())

    # --- traffic from players ----------------------------------------------------------------

    def on_inputs(self, conn: Connection, inputs: tuple[p.Input, ...]) -> None:
        assert conn.room is not None and conn.seat is not None
        accepted, dropped = conn.room.push_inputs(conn.seat, inputs)
        self.inputs_accepted += accepted  # added to the counter once per scheduler batch
        if dropped:
            self.metrics.rejected("queue_full", dropped)

    def on_leave(self, conn: Connection) -> None:
        if conn.room is not None and conn.seat is not None:
            self.resumes.pop(conn.seat.resume, None)
            conn.room.release(conn.seat, "left")
            conn.room = conn.seat = None

    def on_connection_lost(self, conn: Connection) -> None:
        self.connections.discard(conn)
        room, seat = conn.room, conn.seat
        if room is not None and seat is not None and seat.link is conn:
            room.drop(seat, asyncio.get_running_loop().time())

    # --- the scheduler -------------------------------------------------------------------------

    async def _scheduler(self) -> None:
        """Run every room's ticks on its fixed grid; rooms due together are stepped together."""
        loop = asyncio.get_running_loop()
        metrics = self.metrics
        while not self._stopping.is_set():
            now = loop.time()
            due = self.grid.due(now)
            steps = 0
            while due:
                steps += 1
                started = loop.time()
                wall = time.time_ns() // 1000
                rooms = [self.rooms[m] for m in due]
                for m in due:
                    metrics.tick_lateness.observe(started - self.grid.clocks[m].deadline)
                # Step every due room in one batch, then encode and send room by room, each
                # stamped with the time it is actually sent.
                for room, (out, outcome) in zip(rooms, step_rooms(rooms, started, wall)):
                    sent_us = time.time_ns() // 1000
                    self._tick(room, room.end_tick(out, outcome, started, sent_us), started, sent_us)
                metrics.ticks.inc(len(rooms))
                if self.inputs_accepted:
                    metrics.inputs.inc(self.inputs_accepted)
                    self.inputs_accepted = 0
                metrics.tick_duration.observe(loop.time() - started)
                due, skipped = self.grid.advance(due, started, steps)
                if skipped:
                    metrics.ticks_skipped.inc(skipped)
                    log.warning("rooms fell behind; skipping ahead", extra={"steps_skipped": skipped})
            self.feed.kick()
            next_due = self.grid.next_deadline(default=now + 0.25)
            if next_due > loop.time():
                # One future and one timer per wait (cheaper than wait_for on an Event).
                self._sleep = sleep = loop.create_future()
                timer = loop.call_at(next_due, _wake, sleep)
                try:
                    await sleep
                finally:
                    timer.cancel()
                    self._sleep = None

    def _wake_scheduler(self) -> None:
        """A room was added: its first deadline may come before the one the scheduler waits for."""
        if self._sleep is not None:
            _wake(self._sleep)

    def _tick(self, room: Room, out: TickOutput, now: float, wall_us: int) -> None:
        """Send one room's tick output to its players, the feed and the results stream."""
        for seat in out.expired:
            self.resumes.pop(seat.resume, None)
        match_id = room.spec.match_id
        if out.delta is not None:
            self._fan_out(room, out.delta, out.events, now)
            self.feed.append(match_id, feeds.DELTA, out.tick, out.delta)
        if out.events is not None:
            self.feed.append(match_id, feeds.EVENTS, out.tick, out.events)
        if out.keyframe is not None:
            self.feed.append(match_id, feeds.KEYFRAME, out.tick, out.keyframe)
            self._describe(room, live=True)
        if out.result is not None:
            self.feed.append(match_id, feeds.END, out.tick, room.keyframe(wall_us))
            self._describe(room, live=False)
            self.results.submit(out.result)
            self.metrics.results.inc()
            asyncio.get_running_loop().create_task(self.results.flush())
        if room.state is RoomState.DISPOSED:
            self._dispose(room)

    def _fan_out(self, room: Room, delta: bytes, events: bytes | None, now: float) -> None:
        """Send the tick's delta (and events) to every connected player: framed once.

        A client whose unsent backlog passes the skip bound gets nothing until it drains,
        then a keyframe in place of the deltas it missed; one that stays behind too long, or
        whose backlog passes the close bound, is disconnected (its seat is held as for any
        dropped connection). Nothing here waits for a client.
        """
        framed = frames.frame_binary(delta)
        if events is not None:
            framed += frames.frame_binary(events)
        settings = self.settings
        sent = dropped = 0
        keyframe: bytes | None = None
        for seat in room.seats:
            if seat is None:
                continue
            conn = seat.link
            if conn is None or not conn.open:
                continue
            backlog = conn.transport.get_write_buffer_size()
            if backlog > settings.send_buffer_skip_bytes:
                if seat.skipped_since is None:
                    seat.skipped_since = now
                if (backlog > settings.send_buffer_close_bytes
                        or now - seat.skipped_since > settings.slow_client_timeout_s):
                    self.metrics.slow_closed.inc()
                    log.info("closing a client that does not read", extra={"backlog": backlog, **conn.describe()})
                    conn.abort()
                    continue
                seat.needs_keyframe = True
                dropped += 1
                continue
            seat.skipped_since = None
            if seat.needs_keyframe:
                # This client missed deltas: the keyframe (state after this tick) replaces them.
                if keyframe is None:
                    keyframe = frames.frame_binary(room.keyframe(time.time_ns() // 1000))
                conn.write_framed(keyframe + (frames.frame_binary(events) if events else b""))
                seat.needs_keyframe = False
                continue
            conn.write_framed(framed)
            sent += 1
        if sent:
            self.metrics.frames_out.inc(sent)
            self.metrics.bytes_out.inc(sent * len(framed))
        if dropped:
            self.metrics.frames_dropped.inc(dropped)

    def _dispose(self, room: Room) -> None:
        match_id = room.spec.match_id
        room.mode.close()
        for seat in list(room.occupied()):
            self.resumes.pop(seat.resume, None)
            conn = seat.link
            if isinstance(conn, Connection):
                conn.room = conn.seat = None
                if room.end_reason == "not_enough_players":
                    conn.send(p.error(p.ROOM_CLOSED, "not enough players joined in time"))
                conn.close(frames.CLOSE_NORMAL, "match over")
        self.rooms.pop(match_id, None)
        self.grid.remove(match_id)
        self._describe(room, live=False)
        log.info("room disposed", extra={"match_id": match_id, "reason": room.end_reason})

    def _describe(self, room: Room, live: bool) -> None:
        snap = room.prev
        columns = room.mode.player_columns
        score_col = columns.index("score") if "score" in columns else None
        roster = [{"seat": s.index, "id": s.player_id, "name": s.name, "team": s.team,
                   "score": int(snap.players[s.index, score_col]) if score_col is not None else 0}
                  for s in room.occupied()]
        mode = type(room.mode)
        self.feed.describe(room.spec.match_id, feeds.MatchInfo(
            match_id=room.spec.match_id, mode=room.spec.mode, server_id=self.server_id,
            state=room.state.value, tick=snap.tick, tick_hz=room.spec.tick_hz,
            players=tuple(roster), started_at_us=room.started_wall_us or room.created_wall_us,
            updated_at_ms=int(time.time() * 1000), end_reason=room.end_reason,
            columns=mode.column_layout(), map_info=dict(mode.MAP),
        ), live)

    # --- registry ----------------------------------------------------------------------------

    def describe_server(self) -> dict[str, Any]:
        players = sum(r.players for r in self.rooms.values())
        in_use = self._seats_in_use()
        return {
            "address": self.public_url,
            "region": self.settings.region,
            "capacity": self.settings.max_players,
            "seats_free": 0 if self.draining else max(0, self.settings.max_players - in_use),
            "rooms": len(self.rooms),
            "rooms_free": 0 if self.draining else max(0, self.settings.max_rooms - len(self.rooms)),
            "players": players,
            "draining": self.draining,
            "modes": sorted(["arena"]),
        }

    async def _beat_once(self) -> None:
        try:
            await self.registry.beat(self.describe_server())
            await self.results.flush()
            self.redis_ok = True
        except (RedisError, OSError) as exc:
            if self.redis_ok:
                log.warning("heartbeat failed", extra={"error": str(exc)})
            self.redis_ok = False

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

    def listening(self) -> dict[str, object]:
        return {"server_id": self.server.server_id, "url": self.server.public_url, "port": self.server.port}

    async def drain_and_stop(self) -> None:
        await self.server.drain_and_stop()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
