"""One socket of the relay: a watcher (the watch protocol) or, on ``/v1/social``, a player's social
socket (chat, :mod:`spectator.social`), on top of :class:`elysium.ws.rawsocket.RawSocket`.

The relay writes one pre-framed batch to every watcher's transport, so a watcher costs a
transport and this small object, and nothing is encoded per watcher. A social socket hands its
messages to its :class:`spectator.social.SocialSession`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from elysium.ws import frames
from elysium.ws.rawsocket import OPEN, UPGRADED, RawSocket
from spectator import protocol as sp
from spectator import social_protocol
from spectator.social import SocialSession

if TYPE_CHECKING:
    from spectator.live import Channel, MatchRelay
    from spectator.replay import Replay
    from spectator.server import SpectatorServer

__all__ = ["Watcher"]

EARLY_PONGS_KEPT = 4  # pings answered after the hello when they come before it; more are not answered


class Watcher(RawSocket):
    __slots__ = ("server", "skipping", "channel", "relay", "replay", "kind", "early", "player", "match_id", "social")

    def __init__(self, server: SpectatorServer) -> None:
        settings = server.settings
        largest = max(settings.max_message_bytes, settings.social_max_message_bytes if server.chat else 0)
        super().__init__(largest, settings.abuse_limit, float(settings.max_messages_per_s), cors=server.cors)
        self.server = server
        self.skipping = 0.0  # since when it waits for the next keyframe (slow, or joined before any); 0: not
        self.channel: Channel | None = None
        self.relay: MatchRelay | None = None
        self.replay: Replay | None = None
        self.kind = ""  # "live" or "replay" once watching
        self.early: list[bytes] = []  # answers to pings that came before the watch hello was sent
        self.player: str | None = None  # the signed-in watcher's player id (a token came with the watch)
        self.match_id = ""  # what it watches, once watching
        self.social: SocialSession | None = None  # on /v1/social

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.social is not None:
            self.social.stop()
        self.server.on_connection_lost(self)

    # --- what the base class asks -------------------------------------------------------

    def first_deadline_s(self) -> float:
        return self.server.settings.handshake_timeout_s

    def is_websocket_target(self, target: str) -> bool:
        return target.startswith(sp.WATCH_PREFIX) or (self.server.chat is not None and _is_social(target))

    def on_get(self, target: str) -> None:
        self.server.handle_http(self, target)

    def refusal(self, target: str) -> str | None:
        return self.server.refuse_new(social=_is_social(target)) or None

    def on_upgraded(self, target: str) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        hub = self.server.chat
        if hub is not None and _is_social(target):
            self.state = OPEN
            self.rate = self.tokens = float(self.server.settings.social_max_messages_per_s)
            self.social = SocialSession(hub, self, self.server.settings.handshake_timeout_s)
            return
        self.state = UPGRADED
        self.server.start_watch(self, target)

    def error_frame(self, code: str, message: str) -> bytes:
        return sp.error(code, message)

    def count_rejected(self, reason: str) -> None:
        self.server.metrics.rejected(reason)

    def on_frame_error(self, exc: frames.FrameError) -> None:
        if exc.close_code == frames.CLOSE_TOO_BIG:
            self.send(sp.error(sp.TOO_LARGE, exc.reason))

    # --- what the watcher sends -----------------------------------------------------------

    def on_binary(self, data: bytes) -> None:
        if self.social is not None:
            if self.take_tokens(1):
                self.social.received(data)
            else:
                self.violation(sp.RATE_LIMITED, f"more than {self.server.settings.social_max_messages_per_s} "
                                                "messages per second")
            return
        if not self.take_tokens(1):
            self.violation(sp.RATE_LIMITED, f"more than {self.server.settings.max_messages_per_s} messages per second")
            return
        try:
            msg = sp.decode_watcher(data, self.server.settings.max_message_bytes)
        except sp.ProtocolViolation as exc:
            self.violation(exc.code, exc.message)
            return
        if isinstance(msg, sp.Ping):
            pong = sp.pong(msg.id, msg.client_time, time.time_ns() // 1000)
            if self.kind:
                self.send(pong)
            elif len(self.early) < EARLY_PONGS_KEPT:  # the hello is always the first message
                self.early.append(pong)
        else:
            self.close(frames.CLOSE_NORMAL, "left")

    # --- watching ---------------------------------------------------------------------------

    def watching(self, kind: str) -> None:
        """The hello has been sent: from now on the watcher gets the stream (and pongs).

        A connection already closing or closed stays so: reopening it would send the stream
        to a transport that is gone (uvloop raises on it) and keep its slot forever.
        """
        if self.state == UPGRADED:
            self.state = OPEN
        self.kind = kind
        early, self.early = self.early, []
        for pong in early:
            self.send(pong)

    def refuse(self, code: str, message: str, close_code: int = frames.CLOSE_POLICY) -> None:
        self.send(sp.error(code, message))
        self.close(close_code, code)

    def finish(self, code: int, reason: str) -> None:
        self.close(code, reason)


def _is_social(target: str) -> bool:
    return target.partition("?")[0] == social_protocol.SOCIAL_PATH
