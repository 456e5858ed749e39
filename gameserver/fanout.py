"""A tick's fan-out: the delta (and events) framed once and written to every connected player.

Nothing here waits for a client. A client keeping up gets the shared bytes (the inline fast
path); one that falls behind is handled by the kernel's slow-reader policy
(:mod:`elysium.ws.fanout`): skipped while its unsent backlog is past the skip bound, then
sent a keyframe in place of the deltas it missed once it drains, or disconnected if it stays
behind too long or passes the close bound (its seat is held as for any dropped connection).
A mode with per-seat views sends each view's bytes to the seats of that view (``send_views``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from elysium.ws import frames
from elysium.ws.fanout import Action, SlowReaderPolicy, slow_reader
from elysium.ws.rawsocket import OPEN
from gameserver.metrics import GameMetrics
from gameserver.room import Room, Seat
from gameserver.settings import GameServerSettings

log = logging.getLogger("gameserver")


def policy_from(settings: GameServerSettings) -> SlowReaderPolicy:
    return SlowReaderPolicy(skip_bytes=settings.send_buffer_skip_bytes, close_bytes=settings.send_buffer_close_bytes,
                            slow_close_s=settings.slow_client_timeout_s)


class FanOut:
    __slots__ = ("policy", "metrics")

    def __init__(self, policy: SlowReaderPolicy, metrics: GameMetrics) -> None:
        self.policy = policy
        self.metrics = metrics

    def send(self, room: Room, delta: bytes, events: bytes | None, now: float) -> None:
        """Send one tick's delta (and events) to every connected player of ``room``."""
        self._write(room, room.seats, delta, events, now)

    def send_views(self, room: Room, views: list[tuple[bytes, list[Seat]]], events: bytes | None,
                   now: float) -> None:
        """Per-seat views: each view's delta (encoded once) to the seats of that view, and the
        tick's events to all of them."""
        for delta, seats in views:
            self._write(room, seats, delta, events, now)

    def send_private(self, private: list[tuple[Seat, bytes]]) -> None:
        """Events for one seat alone (a refused move's reason), each to its seat's connection."""
        for seat, data in private:
            conn = seat.link
            if conn is not None and conn.open and seat.skipped_since is None:
                conn.write_framed(frames.frame_binary(data))

    def _write(self, room: Room, seats: Iterable[Seat | None], delta: bytes, events: bytes | None,
               now: float) -> None:
        framed = frames.frame_binary(delta)
        if events is not None:
            framed += frames.frame_binary(events)
        skip_bytes = self.policy.skip_bytes
        sent = dropped = 0
        keyframe: bytes | None = None
        for seat in seats:
            if seat is None:
                continue
            conn = seat.link
            if conn is None or conn.state != OPEN:  # a player's connection is OPEN or closing
                continue
            transport = conn.transport
            backlog = transport.get_write_buffer_size()
            if backlog <= skip_bytes and seat.skipped_since is None:
                transport.write(framed)
                sent += 1
                continue
            action = slow_reader(self.policy, backlog, seat.skipped_since, now, can_resync=True)
            if action is Action.SKIP:
                if seat.skipped_since is None:
                    seat.skipped_since = now
                dropped += 1
            elif action is Action.RESYNC:
                # This client missed deltas: the keyframe (state after this tick) replaces them;
                # with per-seat views it is that seat's view, encoded once per view.
                if room.per_seat_views:
                    resync = frames.frame_binary(room.keyframe(time.time_ns() // 1000, seat))
                else:
                    if keyframe is None:
                        keyframe = frames.frame_binary(room.keyframe(time.time_ns() // 1000))
                    resync = keyframe
                conn.write_framed(resync + (frames.frame_binary(events) if events else b""))
                seat.skipped_since = None
            elif action is Action.CLOSE:
                self.metrics.slow_closed.inc()
                log.info("closing a client that does not read", extra={"backlog": backlog, **conn.describe()})
                conn.abort()
        if sent:
            self.metrics.frames_out.inc(sent)
            self.metrics.bytes_out.inc(sent * len(framed))
        if dropped:
            self.metrics.frames_dropped.inc(dropped)
