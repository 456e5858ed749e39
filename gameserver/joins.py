"""From a ``join`` message to a seat: join tokens, resume tokens, and new rooms.

A join carries either a join token (checked: signature, audience, this server, the match's
roster, single use through the replay guard) or a resume token from an earlier welcome. A
token for a match this server does not host yet creates the room, if the server is not
draining and has the capacity; the room's game mode is made by that mode's
:class:`~gameserver.modes.base.ModeFactory`. A refused join is answered with a protocol
error and a close; nothing is created.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from redis.exceptions import RedisError

from elysium import moderation, tokens
from elysium.presence import MatchPresence
from elysium.modes import ModeDeclaration, declare
from elysium.ws import frames
from gameserver import protocol as p
from gameserver.connection import Connection
from gameserver.metrics import GameMetrics
from gameserver.modes import GameMode, ModeConfig, ModeFactory, ModeFull
from gameserver.redisio import ReplayGuard
from gameserver.room import JoinRefused, MatchId, PlayerId, Room, RoomSpec, Seat, spec_from_claims
from gameserver.scheduler import Scheduler
from gameserver.settings import GameServerSettings

log = logging.getLogger("gameserver")

JOIN_TOKEN_MAX_TTL_S = 60.0
MAX_MATCH_ID_CHARS = 64
REPLACED = "replaced by a newer connection"  # the close reason (1008) of a connection whose seat was taken over


class Joins:
    """Seats players: owns the resume tokens and one mode factory per hosted mode."""

    def __init__(self, settings: GameServerSettings, server_id: str, verifier: tokens.Verifier, guard: ReplayGuard,
                 scheduler: Scheduler, metrics: GameMetrics, modes: Mapping[str, type[GameMode[Any]]], *,
                 draining: Callable[[], bool], presence: MatchPresence, bans: moderation.ModerationWatch) -> None:
        self.settings = settings
        self.presence = presence
        self.server_id = server_id
        self.verifier = verifier
        self.issuers = tuple(name.strip() for name in settings.join_issuers.split(",") if name.strip())
        self.guard = guard
        self.scheduler = scheduler
        self.rooms = scheduler.rooms
        self.metrics = metrics
        self.mode_classes = dict(modes)
        self.declarations: dict[str, ModeDeclaration] = {name: declare(mode) for name, mode in modes.items()}
        self.factories: dict[str, ModeFactory] = {name: mode.factory(settings.max_players)
                                                  for name, mode in modes.items()}
        self.draining = draining
        self.bans = bans  # who is banned, kept from the moderation events; a join also asks Redis
        self.resumes: dict[str, tuple[Room, Seat]] = {}

    @property
    def modes(self) -> list[str]:
        """The names of the modes this server hosts, sorted."""
        return sorted(self.factories)

    def seats_in_use(self) -> int:
        return sum(r.spec.seats for r in self.rooms.values())

    # --- a join ------------------------------------------------------------------------------

    def start(self, conn: Connection, msg: p.Join) -> None:
        asyncio.get_running_loop().create_task(self._join(conn, msg))

    async def _join(self, conn: Connection, msg: p.Join) -> None:
        try:
            if msg.resume is not None:
                room, seat = self._resume(msg.resume, conn)
            else:
                assert msg.token is not None
                room, seat = await self._join_with_token(conn, msg.token, msg.choice)
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
        self.presence.joined(seat.player_id, room.spec.match_id)
        conn.joined(room, seat)
        conn.send(room.welcome(seat))
        conn.send(room.keyframe(time.time_ns() // 1000, seat))  # the seat's view, with per-seat views

    def _resume(self, token: str, conn: Connection) -> tuple[Room, Seat]:
        found = self.resumes.pop(token, None)
        if found is None:
            raise JoinRefused(p.RESUME_REJECTED, "unknown or used resume token (the grace period may be over)")
        room, seat = found
        if room.seats[seat.index] is not seat or not room.lifecycle.accepts_players:
            raise JoinRefused(p.RESUME_REJECTED, "the seat is no longer held")
        _close_replaced(seat, conn)
        room.reattach(seat, conn)
        return room, seat

    async def _join_with_token(self, conn: Connection, token: str,
                               choice: Mapping[str, Any] | None = None) -> tuple[Room, Seat]:
        try:
            claims = self.verifier.verify(token, tokens.JOIN_AUDIENCE, issuer=self.issuers,
                                          max_ttl_s=JOIN_TOKEN_MAX_TTL_S)
        except tokens.TokenError as exc:
            raise JoinRefused(p.TOKEN_REJECTED, f"{exc.code}: {exc}") from None
        if claims.get("srv") != self.server_id:
            raise JoinRefused(p.WRONG_SERVER, "token is for another server")
        match_id = claims.get("mid")
        if not isinstance(match_id, str) or not match_id:
            raise JoinRefused(p.TOKEN_REJECTED, "token lacks a match id (mid)")
        if len(match_id) > MAX_MATCH_ID_CHARS:
            raise JoinRefused(p.TOKEN_REJECTED, f"token's match id (mid) is longer than {MAX_MATCH_ID_CHARS} characters")
        player = PlayerId(claims["sub"])
        name = claims.get("name") if isinstance(claims.get("name"), str) else player
        if self.bans.banned(player) or await moderation.is_banned(self.bans.redis, player):
            raise JoinRefused(p.BANNED, "this account is banned")
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
        if self.bans.banned(player):  # banned while this join waited: the kick found no seat to take
            raise JoinRefused(p.BANNED, "this account is banned")
        held = room.by_player.get(player)
        if held is not None and room.lifecycle.accepts_players:
            # A second join token for a seated player takes the seat over: the older
            # connection is closed and the seat's old resume token stops working.
            self.resumes.pop(held.resume, None)
            _close_replaced(held, conn)
        seat = room.admit(player, str(name), conn, loop.time(), choice, time.time_ns() // 1000)
        self.scheduler.describe(room, live=True)  # the listing shows who waits in a room, not only who plays
        return room, seat

    # --- a new room ----------------------------------------------------------------------------

    def _check_new_room(self, match_id: str, claims: dict[str, Any]) -> RoomSpec:
        if self.draining():
            raise JoinRefused(p.DRAINING, "server is draining and takes no new matches")
        spec = spec_from_claims(match_id, claims.get("room"), default_tick_hz=self.settings.tick_hz,
                                max_seats=self.settings.max_seats_per_room, modes=self.declarations)
        if len(self.rooms) >= self.settings.max_rooms or self.seats_in_use() + spec.seats > self.settings.max_players:
            raise JoinRefused(p.ROOM_FULL, "server has no capacity for another match")
        return spec

    def _create_room(self, spec: RoomSpec, now: float) -> Room:
        factory = self.factories[spec.mode]
        settings = self.settings

        def build(phase: int) -> Room:
            try:
                return Room(spec, server_id=self.server_id, now=now, wall_us=time.time_ns() // 1000,
                            grace_s=settings.reconnect_grace_s, keyframe_every_s=settings.keyframe_interval_s,
                            mode_factory=lambda config: _new_mode(factory, config, phase),
                            mode_class=self.mode_classes[spec.mode])
            except JoinRefused:
                raise
            except Exception:  # noqa: BLE001 - a mode that cannot make the match refuses only this join
                log.exception("game mode raised making a room", extra={"match_id": spec.match_id, "mode": spec.mode})
                raise JoinRefused(p.ROOM_CLOSED, "the game mode could not start this match") from None

        room = self.scheduler.add(spec, now, build)
        log.info("room created", extra={"match_id": spec.match_id, "mode": spec.mode, "seats": spec.seats})
        return room

    # --- seats going away ------------------------------------------------------------------------

    def leave(self, conn: Connection) -> None:
        """The player said ``leave``: the seat is given up, not held."""
        if conn.room is not None and conn.seat is not None:
            self.resumes.pop(conn.seat.resume, None)
            self.presence.left(conn.seat.player_id, conn.room.spec.match_id)
            conn.room.release(conn.seat, "left")
            conn.room = conn.seat = None

    def remove(self, player: str, code: str, message: str, reason: str, match_id: str | None = None) -> int:
        """Take ``player`` out of every room they hold a seat in (only ``match_id``'s when given), connected
        or not: the seat is freed (the room's events say ``leave`` with ``reason``), the resume token
        stops working, and a connected player gets an ``error`` with ``code`` and a close (1008). How
        many seats."""
        removed = 0
        for room in list(self.rooms.values()):
            seat = room.by_player.get(PlayerId(player))
            if seat is None or (match_id is not None and room.spec.match_id != match_id):
                continue
            self.resumes.pop(seat.resume, None)
            conn = seat.link
            room.release(seat, reason)
            if isinstance(conn, Connection):
                conn.room = conn.seat = None
                conn.send(p.error(code, message))
                conn.close(frames.CLOSE_POLICY, code)
            self.scheduler.describe(room, live=room.lifecycle.accepts_players)  # the listing loses the player
            self.metrics.removed.labels(reason).inc()
            removed += 1
        return removed

    def seats_expired(self, seats: Sequence[Seat]) -> None:
        """The grace period of these dropped seats is over: their resume tokens no longer work."""
        for seat in seats:
            held = self.resumes.pop(seat.resume, None)
            if held is not None:
                self.presence.left(seat.player_id, held[0].spec.match_id)

    def room_disposed(self, room: Room) -> None:
        """The room is gone: forget its resume tokens and close its players' connections."""
        for seat in list(room.occupied()):
            self.resumes.pop(seat.resume, None)
            self.presence.left(seat.player_id, room.spec.match_id)
            conn = seat.link
            if isinstance(conn, Connection):
                conn.room = conn.seat = None
                if room.end_reason == "not_enough_players":
                    conn.send(p.error(p.ROOM_CLOSED, "not enough players joined in time"))
                conn.close(frames.CLOSE_NORMAL, "match over")


def _close_replaced(seat: Seat, conn: Connection) -> None:
    """Close the connection holding ``seat`` (if any, and not ``conn``): a newer one takes it."""
    old = seat.link
    if isinstance(old, Connection) and old is not conn:
        old.seat = old.room = None
        old.close(frames.CLOSE_POLICY, REPLACED)


def _new_mode(factory: ModeFactory, config: ModeConfig, phase: int) -> GameMode[Any]:
    try:
        return factory.create(config, phase)
    except ModeFull:
        raise JoinRefused(p.ROOM_FULL, "server has no capacity for another match") from None
