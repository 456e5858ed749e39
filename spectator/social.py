"""Chat on the relay: the social socket's sessions and this replica's half of delivery.

:class:`ChatHub` holds one Redis pub/sub connection for the whole process and, per topic, the
local sessions that want it: a topic per group channel (``game:``, ``party:``) and one per
player for direct messages (``docs/redis-keys.md``). A message is published once; Redis hands
it only to the replicas with a listener; each replica frames it once and writes the same bytes
to each of its subscribers, skipping the players blocked from it (named in the published
entry, worked out once by the sender's replica).

:class:`SocialSession` is one player's socket: its messages are handled one at a time, in
order, by its own task fed from a bounded queue, so a Redis round trip never blocks the
event loop's reading and a flood is refused at the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from elysium import chat, moderation, tokens
from elysium.chat import ChatMessage, ChatRefused, ChatStore, Relations
from elysium.ws import envelope, frames
from spectator import social_protocol as sp

if TYPE_CHECKING:
    from elysium.ws.rawsocket import RawSocket
    from spectator.metrics import SpectatorMetrics
    from spectator.settings import SpectatorSettings

log = logging.getLogger("spectator.social")

QUEUE_MAX = 32  # messages of one socket waiting to be handled; more are refused (rate_limited)


class ChatHub:
    """This replica's chat delivery: one pub/sub connection and the local subscribers of each topic."""

    def __init__(self, redis: aioredis.Redis, relations: Relations, settings: SpectatorSettings,
                 verifier: tokens.Verifier, metrics: SpectatorMetrics) -> None:
        self.redis = redis
        self.metrics = metrics
        self.relations = relations
        self.settings = settings
        self.limits = settings.chat_limits()
        self.text_filter = settings.text_filter()
        self.verifier = verifier
        self.store = ChatStore(redis, self.limits)
        self.pubsub = redis.pubsub()
        self.local: dict[str, set[SocialSession]] = {}  # topic -> sessions on this replica
        self.players: dict[str, SocialSession] = {}  # player -> their session here
        self.sessions: set[SocialSession] = set()
        self.delivered = 0  # messages written to sockets (for metrics and the benchmark)
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self.closed = False
        # A ban ends the banned player's social socket here at once (the moderation event stream).
        self._stop = asyncio.Event()
        self.moderation = moderation.ModerationWatch(redis, on_event=self._on_moderation, on_resync=self._on_resync)
        self._watch_task: asyncio.Task[None] | None = None

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` beside the sessions (detaching a socket that left), keeping its task alive."""
        task = asyncio.get_running_loop().create_task(coro)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    def start(self, replica_id: str) -> None:
        """Start reading; the relay starts whether or not Redis answers (``/readyz`` says which)."""
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._read(chat.replica_topic(replica_id)), name="chat-hub")
        self._watch_task = loop.create_task(self.moderation.run(self._stop), name="chat-moderation")

    async def _on_moderation(self, event: moderation.ModerationEvent) -> None:
        if event.action == moderation.BAN:
            self._end_banned(event.player)

    async def _on_resync(self, banned: frozenset[str]) -> None:
        for player in banned & self.players.keys():
            self._end_banned(player)

    def _end_banned(self, player: str) -> None:
        session = self.players.get(player)
        if session is not None:
            session.conn.send(envelope.error(sp.BANNED, "this account is banned"))
            session.conn.close(frames.CLOSE_POLICY, sp.BANNED)

    async def stop(self) -> None:
        self.closed = True
        self._stop.set()
        tasks = [t for t in (self._task, self._watch_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in list(self.sessions):
            session.stop()
        for job in list(self._jobs):
            job.cancel()
        try:
            await asyncio.wait_for(self.pubsub.aclose(), 5.0)  # type: ignore[no-untyped-call]
        except (RedisError, OSError, TimeoutError):
            pass

    # --- topics ------------------------------------------------------------------------------

    async def _subscribe(self, topic: str) -> asyncio.Future[None]:
        """Subscribe to ``topic`` once; the future Redis's confirmation resolves (from then on
        nothing published to it is missed)."""
        fut = self._confirmed.get(topic)
        if fut is None:
            fut = self._confirmed[topic] = asyncio.get_running_loop().create_future()
            try:
                await self.pubsub.subscribe(topic)
            except BaseException:
                self._confirmed.pop(topic, None)
                raise
        return fut

    async def attach(self, topic: str, session: SocialSession) -> None:
        """Deliver ``topic`` to ``session`` from now on; returns once Redis confirmed the subscription.

        No lock: the topic's bookkeeping changes between awaits only, and the pub/sub connection
        sends SUBSCRIBE and UNSUBSCRIBE in the order they are asked for."""
        self.local.setdefault(topic, set()).add(session)
        fut = await self._subscribe(topic)
        await asyncio.wait_for(asyncio.shield(fut), 10.0)

    async def detach(self, topic: str, session: SocialSession) -> None:
        if self.closed:
            return
        subscribers = self.local.get(topic)
        if subscribers is None:
            return
        subscribers.discard(session)
        if not subscribers:
            del self.local[topic]
            self._confirmed.pop(topic, None)
            await self.pubsub.unsubscribe(topic)

    # --- reading -----------------------------------------------------------------------------

    async def _read(self, own_topic: str) -> None:
        while True:
            try:
                if own_topic not in self._confirmed:
                    # The replica's own topic keeps the connection subscribed while no player is here.
                    await self._subscribe(own_topic)
                self._handle(await self.pubsub.get_message(timeout=1.0))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("chat pub/sub failed; reconnecting", extra={"error": str(exc)})
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("chat delivery failed")

    def _handle(self, item: dict[str, Any] | None) -> None:
        if item is None:
            return
        topic = item["channel"].decode() if isinstance(item["channel"], bytes) else str(item["channel"])
        kind = item["type"]
        if kind == "subscribe":
            fut = self._confirmed.get(topic)
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        if kind != "message":
            return
        try:
            published = chat.decode_published(item["data"])
        except (ValueError, TypeError):
            return
        subscribers = self.local.get(topic)
        if not subscribers:
            return
        if published.message is not None:
            framed = frames.frame_binary(published.message)
            skip = published.skip
            sent = 0
            for session in subscribers:
                if session.player not in skip:
                    session.conn.write(framed)
                    sent += 1
            self.delivered += sent
            self.metrics.chat_delivered.inc(sent)
        elif published.takeover:
            for session in list(subscribers):
                if session.socket_id != published.takeover and topic == chat.player_topic(session.player):
                    session.replaced()
        else:
            for session in list(subscribers):
                if session.player in published.removed:
                    session.removed_from(topic)


class SocialSession:
    """One player's social socket: its state and the task that handles its messages in order."""

    def __init__(self, hub: ChatHub, conn: RawSocket, hello_timeout_s: float) -> None:
        self.hub = hub
        self.conn = conn
        self.player = ""
        self.name = ""
        self.channels: dict[str, str] = {}  # subscribed channel -> its topic
        self.stopped = False  # the socket is gone
        self.socket_id = uuid.uuid4().hex  # names this socket when it takes its player over
        self.queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="social")
        # Until hello: the deadline to send it; after: the token's expiry.
        self._expiry: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(hello_timeout_s,
                                                                                          self._no_hello)
        hub.sessions.add(self)
        hub.metrics.social_sockets.set(len(hub.sessions))

    # --- from the socket --------------------------------------------------------------------

    def received(self, data: bytes) -> None:
        if len(self.queue) >= QUEUE_MAX:
            self.conn.violation(envelope.RATE_LIMITED, f"more than {QUEUE_MAX} messages waiting; slow down")
            return
        self.queue.append(data)
        self._wake.set()

    def stop(self) -> None:
        """The socket is gone: stop handling, leave every topic."""
        self._task.cancel()
        if self._expiry is not None:
            self._expiry.cancel()
        self.hub.sessions.discard(self)
        self.hub.metrics.social_sockets.set(len(self.hub.sessions))
        if self.player and self.hub.players.get(self.player) is self:
            del self.hub.players[self.player]
        topics = list(self.channels.values())
        if self.player:
            topics.append(chat.player_topic(self.player))
        self.channels.clear()
        self.stopped = True
        for topic in topics:
            self.hub.spawn(self._quietly(self.hub.detach(topic, self)))

    async def _attach(self, topic: str) -> None:
        """Attach to ``topic``, and leave it again when the socket went away meanwhile."""
        await self.hub.attach(topic, self)
        if self.stopped:
            await self.hub.detach(topic, self)

    @staticmethod
    async def _quietly(coro: Any) -> None:
        try:
            await coro
        except (RedisError, OSError, TimeoutError):
            pass

    def replaced(self) -> None:
        """Another social socket of this player (here or on another relay) took over."""
        self.conn.send(envelope.error(sp.REPLACED, "another social socket of this player took over"))
        self.conn.close(frames.CLOSE_POLICY, sp.REPLACED)

    def removed_from(self, topic: str) -> None:
        """The hub read that this player was taken out of a channel."""
        for ch, t in list(self.channels.items()):
            if t == topic:
                del self.channels[ch]
                self.conn.send(sp.removed(ch))
                self.hub.spawn(self._quietly(self.hub.detach(topic, self)))

    # --- the handler task -------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            while not self.queue:
                self._wake.clear()
                await self._wake.wait()
            data = self.queue.popleft()
            if not self.conn.open:
                return
            try:
                await self._handle(data)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError):
                self.conn.send(envelope.error(envelope.INTERNAL, "chat storage is unreachable; retry",
                                              sp.message_ref(data)))
            except Exception:
                log.exception("social message failed")
                self.conn.send(envelope.error(envelope.INTERNAL, "the relay failed to handle this message",
                                              sp.message_ref(data)))

    async def _handle(self, data: bytes) -> None:
        hub = self.hub
        try:
            msg = sp.decode_social(data, hub.settings.social_max_message_bytes, hub.limits.max_chars)
        except envelope.ProtocolViolation as exc:
            self.conn.violation(exc.code, exc.message)
            return
        if isinstance(msg, envelope.Ping):
            self.conn.send(envelope.pong(msg.id, msg.client_time, time.time_ns() // 1000))
            return
        if isinstance(msg, envelope.Leave):
            self.conn.close(frames.CLOSE_NORMAL, "left")
            return
        if isinstance(msg, sp.Hello):
            if self.player:
                self.conn.violation(sp.ALREADY_AUTHENTICATED, "this socket has already said hello")
            else:
                await self._hello(msg)
            return
        if not self.player:
            self.conn.violation(sp.NOT_AUTHENTICATED, "send hello with a player token first")
            return
        try:
            if isinstance(msg, sp.Subscribe):
                await self._subscribe(msg)
            elif isinstance(msg, sp.Unsubscribe):
                await self._unsubscribe(msg)
            else:
                await (self._say(msg) if isinstance(msg, sp.Say) else self._direct(msg))
                hub.metrics.chat_messages.labels("ok").inc()
        except ChatRefused as exc:
            if isinstance(msg, (sp.Say, sp.Direct)):
                hub.metrics.chat_messages.labels(exc.code).inc()
            self.conn.send(envelope.error(exc.code, exc.message, msg.id))

    async def _hello(self, msg: sp.Hello) -> None:
        hub = self.hub
        try:
            claims = hub.verifier.verify(msg.token, tokens.PLAYER_AUDIENCE)
        except tokens.TokenError as exc:
            self.conn.send(envelope.error(sp.TOKEN_REJECTED, f"{exc.code}: {exc}"))
            self.conn.close(frames.CLOSE_POLICY, sp.TOKEN_REJECTED)
            return
        player = str(claims["sub"])
        if not player or len(player) > sp.MAX_PLAYER_CHARS:
            self.conn.send(envelope.error(sp.TOKEN_REJECTED, "the token's player id (sub) is not usable for chat"))
            self.conn.close(frames.CLOSE_POLICY, sp.TOKEN_REJECTED)
            return
        if await moderation.is_banned(hub.redis, player):
            self.conn.send(envelope.error(sp.BANNED, "this account is banned"))
            self.conn.close(frames.CLOSE_POLICY, sp.BANNED)
            return
        self.player, self.name = player, str(claims.get("name") or player)[:32]
        previous = hub.players.get(player)
        hub.players[player] = self
        if previous is not None:
            previous.replaced()
        # The token's end is the socket's end: the client reconnects with a fresh one.
        if self._expiry is not None:
            self._expiry.cancel()
        remaining = max(0.0, float(claims["exp"]) + tokens.LEEWAY_S - time.time())
        self._expiry = asyncio.get_running_loop().call_later(remaining, self._expired)
        # Subscribed first, then the inbox taken: a message sent meanwhile is either live or in it.
        await self._attach(chat.player_topic(player))
        await hub.store.take_over(player, self.socket_id)  # a socket of this player on another relay closes
        waiting = await hub.store.take_inbox(player)
        limits = hub.limits
        self.conn.send(sp.ready(player, self.name, max_chars=limits.max_chars,
                                messages_per_window=limits.messages_per_window, window_s=limits.window_s))
        self.conn.send(sp.inbox(waiting))

    def _no_hello(self) -> None:
        if not self.player:
            self.conn.send(envelope.error(sp.NOT_AUTHENTICATED, "no hello within the handshake timeout"))
            self.conn.close(frames.CLOSE_POLICY, "hello timeout")

    def _expired(self) -> None:
        self.conn.send(envelope.error(sp.TOKEN_REJECTED, "token_expired: the player token expired; reconnect"))
        self.conn.close(frames.CLOSE_POLICY, "token expired")

    # --- group channels ---------------------------------------------------------------------

    @staticmethod
    def _group_name(raw: str) -> chat.Channel:
        """The group channel named ``raw`` (a party's or a game's), else ChatRefused."""
        channel = chat.parse_channel(raw)
        if channel.kind == chat.DM:
            raise ChatRefused(chat.BAD_CHANNEL, "direct messages are sent with dm, to a friend")
        if channel.kind == chat.TEAM:
            raise ChatRefused(chat.BAD_CHANNEL, "team chat is sent in the match's own socket")
        return channel

    async def _subscribe(self, msg: sp.Subscribe) -> None:
        channel = self._group_name(msg.ch)
        if not await chat.is_member(self.hub.redis, channel.name, self.player):
            raise ChatRefused(chat.NOT_MEMBER, f"you are not a member of {channel.name}")
        hub = self.hub
        topic = chat.channel_topic(channel.name)
        if channel.name not in self.channels:
            self.channels[channel.name] = topic
            await self._attach(topic)
        past = await hub.store.history(channel.name)
        blocked = await hub.relations.blocked_among(self.player, {m.sender for m in past})
        self.conn.send(sp.history(channel.name, [m for m in past if m.sender not in blocked], msg.id))

    async def _unsubscribe(self, msg: sp.Unsubscribe) -> None:
        topic = self.channels.pop(msg.ch, None)
        if topic is None:
            raise ChatRefused(sp.NOT_SUBSCRIBED, f"this socket is not subscribed to {msg.ch[:64]}")
        await self.hub.detach(topic, self)
        self.conn.send(sp.ack(msg.id, ch=msg.ch))

    async def _say(self, msg: sp.Say) -> None:
        """Checked here: the text, the channel's name, the mute; in Redis, in one script with the
        history and the publish: membership, the rate, and the members blocked from the line."""
        hub = self.hub
        text = chat.check_text(msg.text, hub.limits, hub.text_filter)
        channel = self._group_name(msg.ch)
        if await hub.relations.is_muted(self.player):
            raise ChatRefused(chat.MUTED, "you are muted in chat")
        message = self._message(channel.name, text)
        await hub.store.say(message)
        self.conn.send(sp.ack(msg.id, ch=channel.name, mid=message.mid))

    # --- direct messages --------------------------------------------------------------------

    async def _direct(self, msg: sp.Direct) -> None:
        hub = self.hub
        if msg.to == self.player:
            raise ChatRefused(envelope.BAD_FIELD, "to names yourself")
        text = chat.check_text(msg.text, hub.limits, hub.text_filter)
        if await hub.relations.blocked_between(self.player, msg.to):
            raise ChatRefused(chat.BLOCKED, "you and this player cannot message each other")
        if not await hub.relations.are_friends(self.player, msg.to):
            raise ChatRefused(chat.NOT_FRIENDS, "direct messages go to friends only")
        await self._may_send()
        message = self._message(chat.dm_channel(self.player, msg.to), text)
        online = await hub.store.deliver_direct(message, msg.to)
        self.conn.send(sp.ack(msg.id, ch=message.ch, mid=message.mid, to=msg.to, stored=not online))

    # --- shared -----------------------------------------------------------------------------

    async def _may_send(self) -> None:
        """Refuses a muted player, then counts the message against the player's rate (last, so a
        message refused for any other reason costs nothing)."""
        hub = self.hub
        if await hub.relations.is_muted(self.player):
            raise ChatRefused(chat.MUTED, "you are muted in chat")
        if not await chat.take_rate(hub.redis, self.player, hub.limits):
            raise ChatRefused(chat.CHAT_RATE_LIMITED, f"more than {hub.limits.messages_per_window} messages per "
                                                      f"{hub.limits.window_s} s")

    def _message(self, ch: str, text: str) -> ChatMessage:
        return ChatMessage(ch=ch, sender=self.player, name=self.name, text=text, ts_ms=time.time_ns() // 1_000_000,
                           mid=uuid.uuid4().hex)
