"""One player's socket: the game protocol on top of :class:`elysium.ws.rawsocket.RawSocket`.

The tick fan-out writes one pre-framed message to every player's transport, and the input
a playing client sends every tick is parsed straight from the socket's chunk (the fast
path in ``data_received``); everything else goes through the base class's frame reader.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from websockets.speedups import apply_mask

from elysium.ws import frames
from elysium.ws.rawsocket import HTTP, OPEN, RawSocket
from gameserver import protocol as p

if TYPE_CHECKING:
    from gameserver.room import Room, Seat
    from gameserver.server import GameServer

log = logging.getLogger("gameserver.connection")

PLAY_PATH = "/v1/play"


class Connection(RawSocket):
    __slots__ = ("server", "seat", "room", "joining", "peer", "schema")

    def __init__(self, server: GameServer) -> None:
        settings = server.settings
        super().__init__(settings.max_message_bytes, settings.abuse_limit, float(settings.max_inputs_per_s),
                         cors=server.cors)
        self.server = server
        self.seat: Seat | None = None
        self.room: Room | None = None
        self.joining = False
        self.peer = ""
        self.schema = p.V1_INPUT  # the input schema of the room's mode, once joined

    # --- the socket --------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    def data_received(self, data: bytes) -> None:
        if self.state == OPEN:
            # Fast path for the message a playing client sends every tick: one small, whole,
            # masked binary frame holding valid inputs. Anything else takes the general path.
            reader = self.reader
            if (self.seat is not None and len(data) > 6 and data[0] == 0x82 and 0x80 <= data[1] < 0x80 + 126
                    and len(data) == 6 + (data[1] & 0x7F) and not reader.buf and not reader._parts):
                payload = apply_mask(data[6:], data[2:6])
                inputs = p.decode_inputs_fast(payload, self.schema)
                if inputs is not None and self.take_tokens(self.input_cost(inputs)):
                    self.server.on_inputs(self, inputs)
                    return
                self.on_binary(payload)
                return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.server.on_connection_lost(self)

    # --- what the base class asks -------------------------------------------------------

    def first_deadline_s(self) -> float:
        return self.server.settings.join_timeout_s  # the HTTP request, the handshake and the join

    def on_deadline(self) -> None:
        if self.seat is None and self.state in (OPEN, HTTP) and not self.joining:
            if self.state == OPEN:
                self.send(p.error(p.NOT_JOINED, "no join within the join timeout"))
                self.close(frames.CLOSE_POLICY, "join timeout")
            else:
                super().on_deadline()

    def is_websocket_target(self, target: str) -> bool:
        return target.split("?", 1)[0] == PLAY_PATH

    def on_get(self, target: str) -> None:
        self.http_reply(*self.server.http_get(target.split("?", 1)[0]))

    def takes_request(self, target: str) -> bool:
        return target.startswith("/v1/admin/")

    def on_request(self, method: str, target: str, head: bytes, body: bytes) -> None:
        self.http_reply(*self.server.http_admin(method, target, head, body))

    def refusal(self, target: str) -> str | None:
        return "server is draining" if self.server.draining and not self.server.rooms else None

    def on_upgraded(self, target: str) -> None:
        self.state = OPEN
        self.server.metrics.connections.inc()

    def error_frame(self, code: str, message: str) -> bytes:
        return p.error(code, message)

    def count_rejected(self, reason: str) -> None:
        self.server.metrics.rejected(reason)

    def send_buffer_bytes(self) -> int:
        return self.server.settings.socket_send_buffer_bytes

    # --- messages ----------------------------------------------------------------------

    def on_binary(self, data: bytes) -> None:
        now = time.monotonic()
        try:
            msg = p.decode_client(data, self.server.settings.max_message_bytes, self.schema)
        except p.ProtocolViolation as exc:
            if exc.code == p.UNSUPPORTED_VERSION and self.seat is None and not self.joining:
                self.refuse_version(exc.message)
            else:
                self.violation(exc.code, exc.message)
            return
        cost = self.input_cost(msg.inputs) if isinstance(msg, p.Inputs) else 1
        if not self.take_tokens(cost, now):
            rate = self.server.settings.max_inputs_per_s
            self.server.metrics.rejected("rate", cost)
            self.violation(p.RATE_LIMITED, f"more than {rate} inputs or messages per second", count=False)
            return
        if isinstance(msg, p.Inputs):
            if self.seat is None or self.room is None:
                self.violation(p.NOT_JOINED, "send join and wait for welcome before input")
                return
            self.server.on_inputs(self, msg.inputs)
        elif isinstance(msg, p.Ping):
            self.send(p.pong(msg.id, msg.client_time, time.time_ns() // 1000))
        elif isinstance(msg, p.Join):
            if self.seat is not None or self.joining:
                self.violation(p.ALREADY_JOINED, "this connection has already joined")
                return
            if msg.version != p.PROTOCOL_VERSION:
                self.refuse_version(f"server speaks protocol {p.PROTOCOL_VERSION}")
                return
            self.joining = True
            self.server.start_join(self, msg)
        elif isinstance(msg, p.Chat):
            if self.seat is None or self.room is None:
                self.violation(p.NOT_JOINED, "send join and wait for welcome before chat")
                return
            self.server.on_chat(self, msg)
        elif isinstance(msg, p.Leave):
            self.server.on_leave(self)
            self.close(frames.CLOSE_NORMAL, "left")

    def refuse_version(self, message: str) -> None:
        """A join without ``v`` or with another version than 1: refused like any join, with a close."""
        self.count_rejected(p.UNSUPPORTED_VERSION)
        self.send(p.error(p.UNSUPPORTED_VERSION, message))
        self.close(frames.CLOSE_POLICY, "unsupported protocol version")

    def input_cost(self, inputs: tuple[p.InputRow, ...]) -> int:
        """What an input message costs in the rate limit: one per input the seat has not
        seen yet (resends of unacknowledged inputs are free), and at least one per message."""
        seat = self.seat
        if seat is None:
            return len(inputs)
        if len(inputs) == 1:
            return 1
        return max(1, p.count_new(inputs, seat.last_enqueued))

    def joined(self, room: Room, seat: Seat) -> None:
        self.joining = False
        self.room, self.seat = room, seat
        self.schema = room.schema
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # --- sending -----------------------------------------------------------------------

    def write_framed(self, framed: bytes) -> None:
        """The tick path: the caller checked ``open``."""
        self.transport.write(framed)  # type: ignore[union-attr]

    def describe(self) -> dict[str, Any]:
        return {"peer": self.peer, "seat": self.seat.index if self.seat else None}
