"""TicketEvents: one subscription per replica fans ticket status changes out to the
event streams open on it. A message only says "look again"; streams re-read the ticket."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from elysium import redisreply
from matchmaker import keys

log = logging.getLogger("matchmaker.events")

QUEUE_MAX = 8  # a stream that falls behind loses wake-ups, never state: it re-reads the ticket


class TicketEvents:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.listeners: dict[str, set[asyncio.Queue[str]]] = {}
        self.ready = asyncio.Event()

    def listen(self, ticket_id: str) -> asyncio.Queue[str]:
        q: asyncio.Queue[str] = asyncio.Queue(QUEUE_MAX)
        self.listeners.setdefault(ticket_id, set()).add(q)
        return q

    def unlisten(self, ticket_id: str, q: asyncio.Queue[str]) -> None:
        group = self.listeners.get(ticket_id)
        if group is not None:
            group.discard(q)
            if not group:
                del self.listeners[ticket_id]

    def wake_all(self) -> None:
        """Make every open stream look at its ticket again (and notice a shutdown)."""
        for group in list(self.listeners.values()):
            for q in group:
                if not q.full():
                    q.put_nowait("")

    def _dispatch(self, message: str) -> None:
        status, *ticket_ids = message.split(" ")
        for ticket_id in ticket_ids:
            for q in self.listeners.get(ticket_id, ()):
                try:
                    q.put_nowait(status)
                except asyncio.QueueFull:
                    pass

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(keys.EVENTS)
                self.ready.set()
                while not stop.is_set():
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg["type"] == "message" and self.listeners:
                        self._dispatch(redisreply.text(msg["data"]))
            except (RedisError, OSError) as exc:
                log.warning("ticket events unavailable", extra={"error": str(exc)})
                # Wake every stream so it re-reads its ticket rather than waiting on a dead channel.
                self.wake_all()
                await asyncio.sleep(1.0)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves PubSub.aclose unannotated
