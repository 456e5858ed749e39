"""Players' ``in_match`` presence (``elysium.presence``), written off the tick.

The joins note who took and who gave up a seat (:meth:`SeatPresence.joined`,
:meth:`SeatPresence.left`: no I/O, no await); the heartbeat sends what changed in one
pipeline (:meth:`SeatPresence.flush`), and every third of the expiry it sets every seated
player again, so a server that dies leaves no player shown in a match for longer than the
expiry. A friend sees a seat taken within one heartbeat. Through a Redis outage the
changes wait for the next heartbeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from elysium import presence

log = logging.getLogger("gameserver.presence")


class SeatPresence:
    def __init__(self, client: aioredis.Redis, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.clock = clock
        self.seated: dict[str, str] = {}  # player -> match id, as Redis should show it
        self._changed: dict[str, str | None] = {}  # player -> match id to show, None: clear
        self._cleared: dict[str, str] = {}  # player -> the match id a clear is for
        self._renew_at = 0.0

    def joined(self, player: str, match_id: str) -> None:
        self.seated[player] = match_id
        self._changed[player] = match_id

    def left(self, player: str, match_id: str) -> None:
        """``player`` gave up the seat in ``match_id`` (ignored when they already sit elsewhere)."""
        if self.seated.get(player) != match_id:
            return
        del self.seated[player]
        self._changed[player] = None
        self._cleared[player] = match_id

    @property
    def pending(self) -> int:
        return len(self._changed)

    async def flush(self) -> None:
        """Send the changes since the last flush (and everyone seated, when a renewal is due)."""
        now = self.clock()
        renew = now >= self._renew_at
        changed = dict(self.seated) if renew else {p: m for p, m in self._changed.items() if m is not None}
        cleared = {p: self._cleared[p] for p, m in self._changed.items() if m is None and p in self._cleared}
        if not changed and not cleared:
            self._renew_at = now + self.ttl_s / 3 if renew else self._renew_at
            return
        self._changed.clear()
        self._cleared.clear()
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for match_id in set(changed.values()):
                    players = [p for p, m in changed.items() if m == match_id]
                    presence.queue_set(pipe, players, presence.State.IN_MATCH, self.ttl_s, match_id=match_id)
                for player, match_id in cleared.items():
                    presence.queue_clear(pipe, [player], presence.State.IN_MATCH, match_id=match_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("presence not written: redis", extra={"error": str(exc)[:200]})
            for player, match_id in cleared.items():  # retried at the next heartbeat, unless overtaken
                self._changed.setdefault(player, None)
                self._cleared.setdefault(player, match_id)
            for player in changed:
                if player in self.seated:
                    self._changed.setdefault(player, self.seated[player])
            return
        if renew:
            self._renew_at = now + self.ttl_s / 3
