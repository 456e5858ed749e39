"""In-match team chat, relayed inside the game protocol and off the tick's path.

A seated player's ``chat`` message is checked at once (length, filter: pure and quick); what
needs Redis (the player's mute, their chat rate shared with the social socket, blocks between
them and each team mate) runs in a task of its own, bounded in number, so a tick never waits
for it. The line is encoded and framed once and written to each team mate's socket (every
player's, in a mode without teams), the sender's own included, except those blocked either way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from elysium import chat
from elysium.chat import ChatLimits, ChatRefused, Relations, TextFilter
from elysium.ws import frames
from gameserver import protocol as p

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from gameserver.connection import Connection
    from gameserver.room import Room, Seat

log = logging.getLogger("gameserver.chat")

MAX_IN_FLIGHT = 1000  # chat lines being checked at once in this process; more are refused


class TeamChat:
    def __init__(self, redis: aioredis.Redis, relations: Relations, limits: ChatLimits,
                 text_filter: TextFilter) -> None:
        self.redis = redis
        self.relations = relations
        self.limits = limits
        self.text_filter = text_filter
        self.in_flight: set[asyncio.Task[None]] = set()
        self.relayed = 0

    def on_chat(self, conn: Connection, msg: p.Chat) -> None:
        """A seated player's chat line (the caller checked the seat)."""
        room, seat = conn.room, conn.seat
        assert room is not None and seat is not None
        try:
            text = chat.check_text(msg.text, self.limits, self.text_filter)
        except ChatRefused as exc:
            conn.send(p.error(exc.code, exc.message, msg.id))
            return
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            conn.send(p.error(p.RATE_LIMITED, "chat is busy; retry", msg.id))
            return
        task = asyncio.get_running_loop().create_task(self._relay(conn, room, seat, text, msg.id))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _relay(self, conn: Connection, room: Room, seat: Seat, text: str, ref: int | None) -> None:
        try:
            if await self.relations.is_muted(seat.player_id):
                raise ChatRefused(chat.MUTED, "you are muted in chat")
            if not await chat.take_rate(self.redis, seat.player_id, self.limits):
                raise ChatRefused(chat.CHAT_RATE_LIMITED, f"more than {self.limits.messages_per_window} messages "
                                                          f"per {self.limits.window_s} s")
            teams = room.spec.teams > 1
            mates = [s for s in room.occupied() if s.link is not None and (not teams or s.team == seat.team)]
            blocked = await self.relations.blocked_among(seat.player_id, [s.player_id for s in mates])
        except ChatRefused as exc:
            conn.send(p.error(exc.code, exc.message, ref))
            return
        except (RedisError, OSError) as exc:
            log.warning("team chat failed: redis", extra={"error": str(exc)})
            conn.send(p.error(p.INTERNAL, "chat is unavailable right now; retry", ref))
            return
        framed = frames.frame_binary(p.chat(seat=seat.index, player=seat.player_id, name=seat.name,
                                            team=seat.team if teams else None, text=text,
                                            ts_ms=time.time_ns() // 1_000_000))
        for mate in mates:
            link: Any = mate.link
            if mate.player_id not in blocked and link is not None and link.open:
                link.write(framed)
                self.relayed += 1
