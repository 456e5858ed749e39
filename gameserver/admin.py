"""The game server's admin API beside its websocket: ``/v1/admin/rooms`` and the kick.

``GET /v1/admin/rooms`` lists the rooms with their players and what the server knows of
their lateness; ``POST /v1/admin/rooms/{match_id}/players/{player_id}/kick`` (body
``{"reason": "..."}``) removes a player from one match the way a ban does: an ``error``
``kicked`` with the reason, a close 1008, the seat freed, the resume token void. Both need
a service token with the ``gameserver:admin`` scope (``docs/tokens.md``), verified with
``ELYSIUM_SERVICE_PUBLIC_KEY_FILE``; the operator console reaches them through the gateway.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from elysium import scopes, tokens
from elysium.problem import CONTENT_TYPE as PROBLEM
from elysium.problem import Problem, shared
from elysium.ws.play import KICKED
from elysium.ws.rawsocket import header
from gameserver.spec import PlayerId

if TYPE_CHECKING:
    from gameserver.room import Room, Seat
    from gameserver.schedule import Clock

log = logging.getLogger("gameserver.admin")

PREFIX = "/v1/admin/"
KICK = re.compile(r"^/v1/admin/rooms/([^/]{1,200})/players/([^/]{1,200})/kick$")
MAX_REASON_CHARS = 200
Answer = tuple[int, bytes, str, dict[str, str]]  # status, body, content type, headers


def _json(status: int, body: Any) -> Answer:
    return status, json.dumps(body, separators=(",", ":")).encode(), "application/json", {}


def _problem(exc: Problem, target: str) -> Answer:
    return exc.status, exc.encode(target.partition("?")[0][:128]), PROBLEM, exc.headers


def reason_of(body: bytes) -> str:
    """The kick's reason from its JSON body: 1 to 200 characters, no control characters."""
    try:
        raw = json.loads(body or b"null")
    except ValueError:
        raise shared("invalid-json", "the body is not JSON") from None
    if not isinstance(raw, dict) or set(raw) - {"reason"}:
        raise shared("invalid-request", "the body is {\"reason\": \"...\"}", errors={"body": "takes reason only"})
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise shared("invalid-request", "a kick needs a reason", errors={"reason": "required, 1 to 200 characters"})
    reason = unicodedata.normalize("NFC", reason.strip())
    if len(reason) > MAX_REASON_CHARS or any(unicodedata.category(c) == "Cc" for c in reason):
        raise shared("invalid-request", "the reason is 1 to 200 characters without control characters",
                     errors={"reason": "1 to 200 characters, no control characters"})
    return reason


def seat_view(seat: Seat, score: int | None, now: float) -> dict[str, Any]:
    link = seat.link
    transport = getattr(link, "transport", None)
    backlog = transport.get_write_buffer_size() if transport is not None and not transport.is_closing() else 0
    return {
        "seat": seat.index, "player_id": seat.player_id, "name": seat.name, "team": seat.team,
        "connected": seat.connected, "score": score,
        "dropped_for_s": None if seat.dropped_at is None else round(max(0.0, now - seat.dropped_at), 1),
        "in_match_s": round(max(0.0, now - seat.joined_at), 1),
        # Input lateness as the room tracks it: the newest sequence number received, the newest
        # applied, and how many wait for the next tick.
        "last_input_seq": seat.last_enqueued, "last_applied_seq": seat.last_applied, "inputs_waiting": len(seat.queue),
        # Output lateness: bytes not yet taken by the client, and how long the fan-out has skipped it.
        "send_backlog_bytes": backlog,
        "slow_for_s": None if seat.skipped_since is None else round(max(0.0, now - seat.skipped_since), 1),
        "rtt_ms": None,  # the server answers pings but does not time them: clients measure round trips
    }


def room_view(room: Room, clock: Clock | None, now: float) -> dict[str, Any]:
    columns = room.mode.player_columns
    score_col = columns.index("score") if "score" in columns else None
    snap = room.prev
    return {
        "match_id": room.spec.match_id, "mode": room.spec.mode, "state": room.state.value, "tick": snap.tick,
        "tick_hz": room.spec.tick_hz, "age_s": round(max(0.0, now - room.created_at), 1), "seats": room.spec.seats,
        "late_ticks": clock.late_ticks if clock is not None else 0,
        "skipped_ticks": clock.skipped if clock is not None else 0,
        "players": [seat_view(s, int(snap.players[s.index, score_col]) if score_col is not None else None, now)
                    for s in room.occupied()],
    }


class Admin:
    """Answers ``/v1/admin/*``; ``remove`` is :meth:`gameserver.joins.Joins.remove`."""

    def __init__(self, server_id: str, verifier: tokens.Verifier | None, rooms: dict[Any, Room],
                 clocks: dict[Any, Clock], remove: Callable[..., int], clock: Callable[[], float]) -> None:
        self.server_id = server_id
        self.verifier = verifier
        self.rooms = rooms
        self.clocks = clocks
        self.remove = remove
        self.clock = clock

    def handle(self, method: str, target: str, head: bytes, body: bytes) -> Answer:
        try:
            return self._route(method, target, head, body)
        except Problem as exc:
            return _problem(exc, target)

    def _authorize(self, head: bytes) -> dict[str, Any]:
        scheme, _, token = (header(head, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():  # no token: 401, whether or not the API is enabled
            raise shared("unauthorized", "send a service token as Authorization: Bearer <token>",
                         headers={"WWW-Authenticate": 'Bearer realm="elysium"'})
        if self.verifier is None:
            raise scopes.admin_disabled()
        try:
            claims = self.verifier.verify(token.strip(), tokens.SERVICE_AUDIENCE)
        except tokens.TokenError as exc:
            raise shared("invalid-token", str(exc), token_error=exc.code,
                         headers={"WWW-Authenticate": 'Bearer realm="elysium", error="invalid_token"'}) from None
        scopes.require(claims, scopes.GAMESERVER_ADMIN)
        return claims

    def _route(self, method: str, target: str, head: bytes, body: bytes) -> Answer:
        path, _, query = target.partition("?")
        if path == "/v1/admin/rooms":
            if method != "GET":
                raise Problem(405, "method-not-allowed", detail="this path takes GET", headers={"Allow": "GET"})
            self._authorize(head)
            if query:
                raise shared("invalid-request", "this route takes no query parameters")
            now = self.clock()
            rooms = [room_view(r, self.clocks.get(m), now) for m, r in list(self.rooms.items())]
            return _json(200, {"server_id": self.server_id, "rooms": rooms})
        kick = KICK.match(path)
        if kick is None:
            raise shared("not-found", f"no resource at {path[:64]}")
        if method != "POST":
            raise Problem(405, "method-not-allowed", detail="a kick is a POST", headers={"Allow": "POST"})
        claims = self._authorize(head)
        match_id, player_id = unquote(kick.group(1)), unquote(kick.group(2))
        reason = reason_of(body)
        room = self.rooms.get(match_id)
        if room is None:
            raise Problem(404, "unknown-match", detail="no such match on this server")
        seat = room.by_player.get(PlayerId(player_id))
        if seat is None:
            raise Problem(404, "unknown-player", detail="that player holds no seat in this match")
        index = seat.index
        self.remove(player_id, KICKED, reason, "kicked", match_id)
        by = str(claims.get("sub", ""))[:128]
        log.info("player kicked", extra={"match_id": match_id, "player": player_id, "by": by, "reason": reason})
        return _json(200, {"match_id": match_id, "player_id": player_id, "seat": index, "reason": reason, "by": by,
                           "at_ms": int(time.time() * 1000)})
