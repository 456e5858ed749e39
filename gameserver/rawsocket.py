"""A websocket endpoint as a raw asyncio protocol: HTTP head, handshake, frames, abuse.

The game server's players and the spectator relay's watchers both receive pre-framed
bytes written straight to their transports (encoded once, written to many), which a
websockets or aiohttp connection cannot take without its own reader task, queues and
per-message framing. :class:`RawSocket` is what both need around that: it reads the HTTP
head (bounded), answers plain requests through the subclass, runs the websockets
library's sans-I/O handshake on the websocket path, parses masked client frames with hard
limits (:mod:`gameserver.wire`), answers pings and close frames, and counts protocol
violations, closing a connection after repeated abuse. A subclass says what its binary
messages mean and what its owner does on each step.
"""

from __future__ import annotations

import asyncio
import socket
import time

from websockets.http11 import Request
from websockets.server import ServerProtocol

from gameserver import wire
from gameserver.protocol import RATE_LIMITED, TEXT_FRAME  # the watch protocol uses the same codes

MAX_HEAD_BYTES = 8192

# Connection states. UPGRADED: the handshake is done but the owner has not opened the
# stream yet (a watcher between its handshake and its first feed bytes); both it and OPEN
# accept frames and writes.
HTTP, UPGRADED, OPEN, CLOSING, CLOSED = 0, 1, 2, 3, 4

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


class RawSocket(asyncio.Protocol):
    __slots__ = ("transport", "state", "head", "reader", "timer", "strikes", "struck_at", "last_error_at",
                 "abuse_limit", "rate", "tokens", "refilled")

    def __init__(self, max_message_bytes: int, abuse_limit: int, rate: float) -> None:
        self.transport: asyncio.Transport | None = None
        self.state = HTTP
        self.head = bytearray()
        self.reader = wire.FrameReader(max_message_bytes)
        self.timer: asyncio.TimerHandle | None = None  # the deadline for the first step (see first_deadline_s)
        self.strikes = 0.0
        self.struck_at = 0.0
        self.last_error_at = 0.0
        self.abuse_limit = abuse_limit  # violations (decaying one per second) past which it is closed
        self.rate = rate  # messages (or inputs) per second allowed, see take_tokens
        self.tokens = rate
        self.refilled = time.monotonic()

    # --- what subclasses say ---------------------------------------------------------------

    def first_deadline_s(self) -> float:
        """Seconds a new connection has before :meth:`on_deadline` (cancel ``timer`` once it is met)."""
        raise NotImplementedError

    def on_deadline(self) -> None:
        """The first deadline passed; by default a connection still in its HTTP request is closed."""
        if self.state == HTTP and self.transport is not None:
            self.state = CLOSING
            self.transport.close()

    def is_websocket_target(self, target: str) -> bool:
        raise NotImplementedError

    def on_get(self, target: str) -> None:
        """A plain GET (not the websocket path): answer it with :meth:`http_reply`."""
        raise NotImplementedError

    def refusal(self) -> str | None:
        """Why a handshake is refused now (answered 503), or None to accept it."""
        return None

    def on_upgraded(self, target: str) -> None:
        """The handshake succeeded (101 sent): set ``state`` to UPGRADED or OPEN."""
        raise NotImplementedError

    def on_binary(self, data: bytes) -> None:
        raise NotImplementedError

    def error_frame(self, code: str, message: str) -> bytes:
        """The protocol's error message (unframed)."""
        raise NotImplementedError

    def count_rejected(self, reason: str) -> None:
        """Count a rejected message in the owner's metrics."""

    def on_frame_error(self, exc: wire.FrameError) -> None:
        """A framing error, just before the connection is closed with its close code."""

    def send_buffer_bytes(self) -> int:
        return 0  # the kernel's default

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.send_buffer_bytes():
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes())
            except OSError:
                pass
        self.timer = asyncio.get_running_loop().call_later(self.first_deadline_s(), self._deadline)

    def data_received(self, data: bytes) -> None:
        if self.state == OPEN or self.state == UPGRADED:
            try:
                messages = self.reader.feed(data)
            except wire.FrameError as exc:
                self.count_rejected(exc.reason.split(" ")[0])
                self.on_frame_error(exc)
                self.close(exc.close_code, exc.reason)
                return
            for message in messages:
                if self.state != OPEN and self.state != UPGRADED:
                    return
                self._dispatch(message)
        elif self.state == HTTP:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > MAX_HEAD_BYTES:
                    self.http_reply(431, b"request head too large\n", "text/plain")
                return
            head, rest = bytes(self.head[: end + 4]), bytes(self.head[end + 4:])
            self.head = bytearray()
            self._route(head, rest)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = CLOSED
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _deadline(self) -> None:
        self.timer = None
        self.on_deadline()

    # --- HTTP and the handshake -------------------------------------------------------------

    def _route(self, head: bytes, rest: bytes) -> None:
        line = head.split(b"\r\n", 1)[0].split(b" ")
        if len(line) != 3 or not line[2].startswith(b"HTTP/1."):
            self.http_reply(400, b"bad request line\n", "text/plain")
            return
        method, target = line[0], line[1].decode("latin-1")
        if self.is_websocket_target(target):
            self._handshake(head, rest, target)
        elif method != b"GET":
            self.http_reply(405, b'{"type":"urn:elysium:problem:method-not-allowed","title":"Method Not Allowed",'
                                 b'"status":405,"detail":"only GET is served here"}', "application/problem+json")
        else:
            self.on_get(target)

    def http_reply(self, status: int, body: bytes, content_type: str) -> None:
        """Answer a plain HTTP request and close (one request per connection)."""
        if self.transport is None or self.state != HTTP:
            return
        self.transport.write(
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n".encode() + body
        )
        self.state = CLOSING
        self.transport.close()

    def _handshake(self, head: bytes, rest: bytes, target: str) -> None:
        assert self.transport is not None
        proto = ServerProtocol(max_size=self.reader.max_message)
        proto.receive_data(head)
        events = proto.events_received()
        request = events[0] if events and isinstance(events[0], Request) else None
        if request is None:
            self.http_reply(400, b"bad websocket handshake\n", "text/plain")
            return
        refusal = self.refusal()
        response = proto.reject(503, refusal + "\n") if refusal else proto.accept(request)
        proto.send_response(response)
        for chunk in proto.data_to_send():
            self.transport.write(chunk)
        if response.status_code != 101:
            self.state = CLOSING
            self.transport.close()
            return
        self.on_upgraded(target)
        if rest:
            self.data_received(rest)

    # --- frames and abuse ---------------------------------------------------------------------

    def _dispatch(self, message: wire.Message) -> None:
        op = message.opcode
        if op == wire.OP_BINARY:
            self.on_binary(message.data)
        elif op == wire.OP_PING:
            self.write(wire.frame_control(wire.OP_PONG, message.data))
        elif op == wire.OP_CLOSE:
            self.close(wire.CLOSE_NORMAL, "")
        elif op == wire.OP_TEXT:
            self.violation(TEXT_FRAME, "the protocol uses binary frames only")

    def take_tokens(self, cost: int, now: float | None = None) -> bool:
        """The per-connection rate limit: a token bucket refilled at ``rate`` per second."""
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
        """The peer broke a protocol rule: answer with an error, close on repeat.

        Strikes decay by one per second; rate-limit errors are answered at most every 0.2 s
        (the peer is flooding: answering each would be a flood of our own).
        """
        now = time.monotonic()
        self.strikes = max(0.0, self.strikes - (now - self.struck_at)) + 1.0
        self.struck_at = now
        if count:
            self.count_rejected(code)
        if self.strikes > self.abuse_limit:
            self.send(self.error_frame(code, "too many protocol errors; closing"))
            self.close(wire.CLOSE_POLICY, "too many protocol errors")
            return
        if now - self.last_error_at >= 0.2 or code != RATE_LIMITED:
            self.last_error_at = now
            self.send(self.error_frame(code, message))

    # --- sending ---------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self.state == OPEN or self.state == UPGRADED

    def write(self, framed: bytes) -> None:
        """Write bytes already framed (shared by every receiver of the same message)."""
        if self.transport is not None and (self.state == OPEN or self.state == UPGRADED):
            self.transport.write(framed)

    def send(self, payload: bytes) -> None:
        """Frame and send one message."""
        self.write(wire.frame_binary(payload))

    def close(self, code: int, reason: str) -> None:
        if not self.open or self.transport is None:
            return
        self.transport.write(wire.frame_close(code, reason))
        self.state = CLOSING
        self.transport.close()

    def abort(self) -> None:
        self.state = CLOSING
        if self.transport is not None:
            self.transport.abort()
