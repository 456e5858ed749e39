"""One player's socket: HTTP routing, the websocket handshake, framing, limits, dispatch.

A raw asyncio protocol rather than a websockets server: the tick fan-out writes one
pre-framed message to every transport, and reads are parsed straight from the socket's
chunks. The websockets library does the handshake (sans-I/O ``ServerProtocol``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import TYPE_CHECKING, Any

from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.speedups import apply_mask

from gameserver import protocol as p
from gameserver import wire

if TYPE_CHECKING:
    from gameserver.room import Room, Seat
    from gameserver.server import GameServer

log = logging.getLogger("gameserver.connection")

MAX_HEAD_BYTES = 8192
PLAY_PATH = "/v1/play"

_HTTP, _OPEN, _CLOSING, _CLOSED = 0, 1, 2, 3


class Connection(asyncio.Protocol):
    __slots__ = (
        "server", "transport", "state", "head", "reader", "seat", "room", "joining", "rate", "tokens", "refilled",
        "strikes", "struck_at", "peer", "join_timer", "last_error_at",
    )

    def __init__(self, server: GameServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.state = _HTTP
        self.head = bytearray()
        self.reader = wire.FrameReader(server.settings.max_message_bytes)
        self.seat: Seat | None = None
        self.room: Room | None = None
        self.joining = False
        self.rate = float(server.settings.max_inputs_per_s)  # inputs per second allowed
        self.tokens = self.rate
        self.refilled = time.monotonic()
        self.strikes = 0.0
        self.struck_at = self.refilled
        self.last_error_at = 0.0
        self.peer = ""
        self.join_timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.server.settings.socket_send_buffer_bytes:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.server.settings.socket_send_buffer_bytes)
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        loop = asyncio.get_running_loop()
        self.join_timer = loop.call_later(self.server.settings.join_timeout_s, self._join_timeout)

    def data_received(self, data: bytes) -> None:
        if self.state == _OPEN:
            # Fast path for the message a playing client sends every tick: one small, whole,
            # masked binary frame holding valid inputs. Anything else takes the general path.
            reader = self.reader
            if (self.seat is not None and len(data) > 6 and data[0] == 0x82 and 0x80 <= data[1] < 0x80 + 126
                    and len(data) == 6 + (data[1] & 0x7F) and not reader.buf and not reader._parts):
                payload = apply_mask(data[6:], data[2:6])
                inputs = p.decode_inputs_fast(payload)
                if inputs is not None and self._take_tokens(len(inputs)):
                    self.server.on_inputs(self, inputs)
                    return
                self._on_binary(payload)
                return
            try:
                messages = self.reader.feed(data)
            except wire.FrameError as exc:
                self.server.metrics.rejected(exc.reason.split(" ")[0])
                self.close(exc.close_code, exc.reason)
                return
            for message in messages:
                if self.state != _OPEN:
                    return
                self._dispatch(message)
        elif self.state == _HTTP:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > MAX_HEAD_BYTES:
                    self._http_reply(431, b"request head too large\n", "text/plain")
                return
            head, rest = bytes(self.head[: end + 4]), bytes(self.head[end + 4:])
            self.head = bytearray()
            self._route(head, rest)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = _CLOSED
        if self.join_timer is not None:
            self.join_timer.cancel()
        self.server.on_connection_lost(self)

    # --- HTTP and handshake ------------------------------------------------------------

    def _route(self, head: bytes, rest: bytes) -> None:
        line = head.split(b"\r\n", 1)[0].split(b" ")
        if len(line) != 3 or not line[2].startswith(b"HTTP/1."):
            self._http_reply(400, b"bad request line\n", "text/plain")
            return
        method, path = line[0], line[1].split(b"?", 1)[0].decode("latin-1")
        if path == PLAY_PATH:
            self._handshake(head, rest)
            return
        if method != b"GET":
            self._http_reply(405, b"method not allowed\n", "text/plain")
            return
        status, body, ctype = self.server.http_get(path)
        self._http_reply(status, body, ctype)

    def _http_reply(self, status: int, body: bytes, content_type: str) -> None:
        assert self.transport is not None
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                  431: "Request Header Fields Too Large", 503: "Service Unavailable"}.get(status, "Error")
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n".encode() + body
        )
        self.state = _CLOSING
        self.transport.close()

    def _handshake(self, head: bytes, rest: bytes) -> None:
        assert self.transport is not None
        proto = ServerProtocol(max_size=self.server.settings.max_message_bytes)
        proto.receive_data(head)
        events = proto.events_received()
        request = events[0] if events and isinstance(events[0], Request) else None
        if request is None:
            self._http_reply(400, b"bad websocket handshake\n", "text/plain")
            return
        if self.server.draining and not self.server.rooms:
            response = proto.reject(503, "server is draining\n")
        else:
            response = proto.accept(request)
        proto.send_response(response)
        for chunk in proto.data_to_send():
            self.transport.write(chunk)
        if response.status_code != 101:
            self.state = _CLOSING
            self.transport.close()
            return
        self.state = _OPEN
        self.server.metrics.connections.inc()
        if rest:
            self.data_received(rest)

    # --- messages ----------------------------------------------------------------------

    def _dispatch(self, message: wire.Message) -> None:
        op = message.opcode
        if op == wire.OP_BINARY:
            self._on_binary(message.data)
        elif op == wire.OP_PING:
            self._write(wire.frame_control(wire.OP_PONG, message.data))
        elif op == wire.OP_CLOSE:
            self.close(wire.CLOSE_NORMAL, "")
        elif op == wire.OP_TEXT:
            self.violation(p.TEXT_FRAME, "the protocol uses binary frames only")

    def _on_binary(self, data: bytes) -> None:
        now = time.monotonic()
        try:
            msg = p.decode_client(data)
        except p.ProtocolViolation as exc:
            self.violation(exc.code, exc.message)
            return
        cost = len(msg.inputs) if isinstance(msg, p.Inputs) else 1
        if not self._take_tokens(cost, now):
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
                self.send(p.error(p.UNSUPPORTED_VERSION, f"server speaks protocol {p.PROTOCOL_VERSION}"))
                self.close(wire.CLOSE_POLICY, "unsupported protocol version")
                return
            self.joining = True
            self.server.start_join(self, msg)
        elif isinstance(msg, p.Leave):
            self.server.on_leave(self)
            self.close(wire.CLOSE_NORMAL, "left")

    def _take_tokens(self, cost: int, now: float | None = None) -> bool:
        """The per-connection rate limit: a token bucket refilled at the allowed rate."""
        if now is None:
            now = time.monotonic()
        rate = self.rate
        self.tokens = min(rate, self.tokens + (now - self.refilled) * rate)
        self.refilled = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def violation(self, code: str, message: str, *, count: bool = True) -> None:
        """The client broke a protocol rule: answer with an error frame, close on repeat."""
        now = time.monotonic()
        self.strikes = max(0.0, self.strikes - (now - self.struck_at)) + 1.0
        self.struck_at = now
        if count:
            self.server.metrics.rejected(code)
        if now - self.last_error_at >= 0.2 or code != p.RATE_LIMITED:
            self.last_error_at = now
            self.send(p.error(code, message))
        if self.strikes > self.server.settings.abuse_limit:
            self.send(p.error(code, "too many protocol errors; closing"))
            self.close(wire.CLOSE_POLICY, "too many protocol errors")

    def _join_timeout(self) -> None:
        self.join_timer = None
        if self.seat is None and self.state in (_OPEN, _HTTP) and not self.joining:
            if self.state == _OPEN:
                self.send(p.error(p.NOT_JOINED, "no join within the join timeout"))
                self.close(wire.CLOSE_POLICY, "join timeout")
            elif self.transport is not None:
                self.transport.close()

    def joined(self, room: Room, seat: Seat) -> None:
        self.joining = False
        self.room, self.seat = room, seat
        if self.join_timer is not None:
            self.join_timer.cancel()
            self.join_timer = None

    # --- sending -----------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self.state == _OPEN

    def _write(self, framed: bytes) -> None:
        if self.transport is not None and self.state == _OPEN:
            self.transport.write(framed)

    def send(self, payload: bytes) -> None:
        """Frame and send one message (control traffic; the tick path uses write_framed)."""
        self._write(wire.frame_binary(payload))

    def write_framed(self, framed: bytes) -> None:
        self.transport.write(framed)  # type: ignore[union-attr]

    def close(self, code: int, reason: str) -> None:
        if self.state != _OPEN or self.transport is None:
            return
        self.transport.write(wire.frame_close(code, reason))
        self.state = _CLOSING
        self.transport.close()

    def abort(self) -> None:
        self.state = _CLOSING
        if self.transport is not None:
            self.transport.abort()

    def describe(self) -> dict[str, Any]:
        return {"peer": self.peer, "seat": self.seat.index if self.seat else None}
