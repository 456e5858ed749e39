"""One watcher's socket: HTTP routing, the websocket handshake, limits, and writes.

A raw asyncio protocol, like the game server's: the relay writes one pre-framed batch to
every watcher's transport, so a watcher costs a transport and this small object, and
nothing is encoded per watcher. The websockets library does the handshake (sans-I/O
``ServerProtocol``); :mod:`gameserver.wire` frames and parses the rest.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING

from websockets.http11 import Request
from websockets.server import ServerProtocol

from gameserver import wire
from spectator import protocol as sp

if TYPE_CHECKING:
    from spectator.relay import Channel, MatchRelay, Replay
    from spectator.server import SpectatorServer

MAX_HEAD_BYTES = 8192

_HTTP, _UPGRADED, _OPEN, _CLOSING, _CLOSED = 0, 1, 2, 3, 4
OPEN = _OPEN  # watching: feed bytes may be written

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


class Watcher(asyncio.Protocol):
    __slots__ = (
        "server", "transport", "state", "head", "reader", "skipping", "channel", "relay", "replay",
        "tokens", "refilled", "strikes", "struck_at", "last_error_at", "timer", "kind",
    )

    def __init__(self, server: SpectatorServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.state = _HTTP
        self.head: bytearray | None = bytearray()
        self.reader: wire.FrameReader | None = None
        self.skipping = 0.0  # since when it waits for the next keyframe (slow, or joined before any); 0: not
        self.channel: Channel | None = None
        self.relay: MatchRelay | None = None
        self.replay: Replay | None = None
        self.kind = ""  # "live" or "replay" once watching
        self.tokens = float(server.settings.max_messages_per_s)
        self.refilled = 0.0
        self.strikes = 0.0
        self.struck_at = 0.0
        self.last_error_at = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.timer = asyncio.get_running_loop().call_later(self.server.settings.handshake_timeout_s, self._timeout)

    def data_received(self, data: bytes) -> None:
        if self.state == _OPEN or self.state == _UPGRADED:
            assert self.reader is not None
            try:
                messages = self.reader.feed(data)
            except wire.FrameError as exc:
                self.server.metrics.rejected(exc.reason.split(" ")[0])
                if exc.close_code == wire.CLOSE_TOO_BIG:
                    self.send(sp.error(sp.TOO_LARGE, exc.reason))
                self.close(exc.close_code, exc.reason)
                return
            for message in messages:
                if self.state not in (_OPEN, _UPGRADED):
                    return
                self._dispatch(message)
        elif self.state == _HTTP and self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > MAX_HEAD_BYTES:
                    self.http_reply(431, b"request head too large\n", "text/plain")
                    self.head = None
                return
            head, rest = bytes(self.head[: end + 4]), bytes(self.head[end + 4:])
            self.head = None
            self._route(head, rest)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = _CLOSED
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.server.on_connection_lost(self)

    # --- HTTP and handshake ------------------------------------------------------------

    def _route(self, head: bytes, rest: bytes) -> None:
        line = head.split(b"\r\n", 1)[0].split(b" ")
        if len(line) != 3 or not line[2].startswith(b"HTTP/1."):
            self.http_reply(400, b"bad request line\n", "text/plain")
            return
        method, target = line[0], line[1].decode("latin-1")
        if target.startswith(sp.WATCH_PREFIX):
            self._handshake(head, rest, target)
            return
        if method != b"GET":
            body = (b'{"type":"urn:elysium:problem:method-not-allowed","title":"Method Not Allowed","status":405,'
                    b'"detail":"only GET is served here"}')
            self.http_reply(405, body, "application/problem+json")
            return
        self.server.handle_http(self, target)

    def http_reply(self, status: int, body: bytes, content_type: str) -> None:
        if self.transport is None or self.state != _HTTP:
            return
        self.transport.write(
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n".encode() + body
        )
        self.state = _CLOSING
        self.transport.close()

    def _handshake(self, head: bytes, rest: bytes, target: str) -> None:
        assert self.transport is not None
        settings = self.server.settings
        proto = ServerProtocol(max_size=settings.max_message_bytes)
        proto.receive_data(head)
        events = proto.events_received()
        request = events[0] if events and isinstance(events[0], Request) else None
        if request is None:
            self.http_reply(400, b"bad websocket handshake\n", "text/plain")
            return
        refusal = self.server.refuse_new()
        response = proto.reject(503, refusal + "\n") if refusal else proto.accept(request)
        proto.send_response(response)
        for chunk in proto.data_to_send():
            self.transport.write(chunk)
        if response.status_code != 101:
            self.state = _CLOSING
            self.transport.close()
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.state = _UPGRADED
        self.reader = wire.FrameReader(settings.max_message_bytes)
        self.refilled = time.monotonic()
        self.server.start_watch(self, target)
        if rest:
            self.data_received(rest)

    def _timeout(self) -> None:
        self.timer = None
        if self.state == _HTTP and self.transport is not None:
            self.state = _CLOSING
            self.transport.close()

    # --- what the watcher sends -----------------------------------------------------------

    def _dispatch(self, message: wire.Message) -> None:
        op = message.opcode
        if op == wire.OP_BINARY:
            self._on_binary(message.data)
        elif op == wire.OP_PING:
            self.write(wire.frame_control(wire.OP_PONG, message.data))
        elif op == wire.OP_CLOSE:
            self.close(wire.CLOSE_NORMAL, "")
        elif op == wire.OP_TEXT:
            self.violation(sp.TEXT_FRAME, "the protocol uses binary frames only")

    def _on_binary(self, data: bytes) -> None:
        now = time.monotonic()
        rate = self.server.settings.max_messages_per_s
        self.tokens = min(float(rate), self.tokens + (now - self.refilled) * rate)
        self.refilled = now
        if self.tokens < 1:
            self.violation(sp.RATE_LIMITED, f"more than {rate} messages per second")
            return
        self.tokens -= 1
        try:
            msg = sp.decode_watcher(data, self.server.settings.max_message_bytes)
        except sp.ProtocolViolation as exc:
            self.violation(exc.code, exc.message)
            return
        if isinstance(msg, sp.Ping):
            self.send(sp.pong(msg.id, msg.client_time, time.time_ns() // 1000))
        else:
            self.close(wire.CLOSE_NORMAL, "left")

    def violation(self, code: str, message: str) -> None:
        """The watcher broke a protocol rule: answer with an error, close on repeat."""
        now = time.monotonic()
        self.strikes = max(0.0, self.strikes - (now - self.struck_at)) + 1.0
        self.struck_at = now
        self.server.metrics.rejected(code)
        if self.strikes > self.server.settings.abuse_limit:
            self.send(sp.error(code, "too many protocol errors; closing"))
            self.close(wire.CLOSE_POLICY, "too many protocol errors")
            return
        if now - self.last_error_at >= 0.2 or code != sp.RATE_LIMITED:
            self.last_error_at = now
            self.send(sp.error(code, message))

    # --- sending ---------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self.state == _OPEN or self.state == _UPGRADED

    def watching(self, kind: str) -> None:
        self.state = _OPEN
        self.kind = kind

    def write(self, framed: bytes) -> None:
        if self.transport is not None and (self.state == _OPEN or self.state == _UPGRADED):
            self.transport.write(framed)

    def send(self, payload: bytes) -> None:
        self.write(wire.frame_binary(payload))

    def refuse(self, code: str, message: str, close_code: int = wire.CLOSE_POLICY) -> None:
        self.send(sp.error(code, message))
        self.close(close_code, code)

    def close(self, code: int, reason: str) -> None:
        if not self.open or self.transport is None:
            return
        self.transport.write(wire.frame_close(code, reason))
        self.state = _CLOSING
        self.transport.close()

    finish = close

    def abort(self) -> None:
        self.state = _CLOSING
        if self.transport is not None:
            self.transport.abort()
