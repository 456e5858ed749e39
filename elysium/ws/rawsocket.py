"""A websocket endpoint as a raw asyncio protocol: HTTP head, handshake, frames, abuse.

The game server's players and the spectator relay's watchers both receive pre-framed
bytes written straight to their transports (encoded once, written to many), which a
websockets or aiohttp connection cannot take without its own reader task, queues and
per-message framing. :class:`RawSocket` is what both need around that: it reads the HTTP
head (bounded), answers plain requests through the subclass, runs the websockets
library's sans-I/O handshake on the websocket path, parses masked client frames with hard
limits (:mod:`elysium.ws.frames`), answers pings and close frames, and counts protocol
violations, closing a connection after repeated abuse. A subclass says what its binary
messages mean and what its owner does on each step.

Every refusal at the HTTP level (a malformed or oversized request, a wrong method, a plain
request to the websocket path, a refused handshake) is ``application/problem+json``
(:class:`elysium.problem.Problem`); a 405 carries ``Allow: GET``. Paths a subclass names in
:meth:`RawSocket.takes_request` (the admin API) also take POST with a small JSON body, and
see the request head (its Authorization). With a CORS policy
(:mod:`elysium.cors`), plain answers carry its headers and a preflight is answered here.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping

from websockets.http11 import Request
from websockets.server import ServerProtocol

from elysium.cors import Cors, is_preflight
from elysium.problem import CONTENT_TYPE, TITLES, Problem
from elysium.ws import frames
from elysium.ws.envelope import RATE_LIMITED, TEXT_FRAME, TOO_LARGE

MAX_HEAD_BYTES = 8192
MAX_BODY_BYTES = 4096  # a POST body to a path the subclass takes requests on (takes_request)

# Connection states. UPGRADED: the handshake is done but the owner has not opened the
# stream yet (a watcher between its handshake and its first feed bytes); both it and OPEN
# accept frames and writes.
HTTP, UPGRADED, OPEN, CLOSING, CLOSED = 0, 1, 2, 3, 4

_REASONS = {200: "OK", 204: "No Content", **TITLES}
# The problem code of each status the websockets library refuses a handshake with.
_HANDSHAKE_CODES = {400: "bad-request", 403: "forbidden", 405: "method-not-allowed", 426: "upgrade-required"}


def header(head: bytes, name: bytes) -> str | None:
    """The value of the header ``name`` (lower case) in a request head, or None."""
    for line in head.split(b"\r\n")[1:]:
        key, colon, value = line.partition(b":")
        if colon and key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return None


class RawSocket(asyncio.Protocol):
    __slots__ = ("transport", "state", "head", "reader", "timer", "strikes", "struck_at", "last_error_at",
                 "abuse_limit", "rate", "tokens", "refilled", "cors", "origin", "pending")

    def __init__(self, max_message_bytes: int, abuse_limit: int, rate: float, cors: Cors | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.state = HTTP
        self.head = bytearray()
        self.reader = frames.FrameReader(max_message_bytes)
        self.timer: asyncio.TimerHandle | None = None  # the deadline for the first step (see first_deadline_s)
        self.strikes = 0.0
        self.struck_at = 0.0
        self.last_error_at = 0.0
        self.abuse_limit = abuse_limit  # violations (decaying one per second) past which it is closed
        self.rate = rate  # messages (or inputs) per second allowed, see take_tokens
        self.tokens = rate
        self.refilled = time.monotonic()
        self.cors = cors  # the owner's CORS policy (ELYSIUM_CORS_ORIGINS), None: no CORS headers
        self.origin: str | None = None  # the Origin of the plain HTTP request, when there is a policy
        self.pending: tuple[str, bytes, int] | None = None  # a POST waiting for its body: target, head, length

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
        """A plain GET (not the websocket path): answer it with :meth:`http_reply` or :meth:`http_problem`."""
        raise NotImplementedError

    def takes_request(self, target: str) -> bool:
        """Whether ``target`` is answered by :meth:`on_request` (GET and POST, with the head and body)."""
        return False

    def on_request(self, method: str, target: str, head: bytes, body: bytes) -> None:
        """A request to a path of :meth:`takes_request`: answer it with :meth:`http_reply`.

        Only a POST's body is read (``body``); any other method comes with none, and the
        subclass answers a method its path does not take with 405 and that path's ``Allow``."""
        raise NotImplementedError

    def refusal(self, target: str) -> str | None:
        """Why a handshake on ``target`` is refused now (answered 503, ``service-unavailable``), or None to accept it."""
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

    def on_frame_error(self, exc: frames.FrameError) -> None:
        """A framing error, just before the connection is closed with its close code.

        A message over the size limit is answered with a ``too_large`` error first, so the
        peer learns why before the 1009 close.
        """
        if exc.close_code == frames.CLOSE_TOO_BIG:
            self.send(self.error_frame(TOO_LARGE, exc.reason))

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
            except frames.FrameError as exc:
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
            if self.pending is not None:
                self._body_arrived()
                return
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > MAX_HEAD_BYTES:
                    self.http_problem(Problem(431, "headers-too-large",
                                              detail=f"the request head is larger than {MAX_HEAD_BYTES} bytes"))
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
            self.http_problem(Problem(400, "bad-request", detail="the request line is not METHOD TARGET HTTP/1.x"))
            return
        method, target = line[0], line[1].decode("latin-1")
        if self.cors is not None:
            self.origin = header(head, b"origin")
            if method == b"OPTIONS" and is_preflight("OPTIONS", self.origin,
                                                     header(head, b"access-control-request-method")):
                self._preflight(self.cors, target)
                return
        if self.is_websocket_target(target):
            self._handshake(head, rest, target)
        elif self.takes_request(target):
            self._request(method, target, head, rest)
        elif method != b"GET":
            self.http_problem(Problem(405, "method-not-allowed", detail="only GET is served here",
                                      headers={"Allow": "GET"}), target)
        else:
            self.on_get(target)

    def _request(self, method: bytes, target: str, head: bytes, rest: bytes) -> None:
        if method != b"POST":  # GET, or a method the subclass refuses with its path's own Allow
            self.on_request(method.decode("latin-1")[:16], target, head, b"")
            return
        if header(head, b"transfer-encoding") is not None:
            self.http_problem(Problem(400, "bad-request", detail="send the body with a Content-Length"), target)
            return
        raw = header(head, b"content-length") or "0"
        if not raw.isdigit():
            self.http_problem(Problem(400, "bad-request", detail="Content-Length is not a number"), target)
            return
        if int(raw) > MAX_BODY_BYTES:
            self.http_problem(Problem(413, "body-too-large", detail=f"the body is larger than {MAX_BODY_BYTES} bytes"),
                              target)
            return
        self.pending = (target, head, int(raw))
        self.head = bytearray(rest)
        self._body_arrived()

    def _body_arrived(self) -> None:
        assert self.pending is not None
        target, head, length = self.pending
        if len(self.head) < length:
            return  # more to come (the first deadline bounds the wait)
        body = bytes(self.head[:length])
        self.pending = None
        self.head = bytearray()
        self.on_request("POST", target, head, body)

    def _preflight(self, policy: Cors, target: str) -> None:
        """A CORS preflight: every path here takes GET only."""
        headers = policy.preflight(self.origin, ("GET",))
        if headers is None:
            self.http_problem(Problem(403, "forbidden", detail=f"the origin {str(self.origin)[:100]} may not call "
                                                               f"this service from a browser"), target)
        else:
            self.http_reply(204, b"", "", headers)

    def http_reply(self, status: int, body: bytes, content_type: str,
                   headers: Mapping[str, str] | None = None) -> None:
        """Answer a plain HTTP request and close (one request per connection).

        With a CORS policy, the answer carries its headers for the request's ``Origin``.
        """
        if self.transport is None or self.state != HTTP:
            return
        if self.cors is not None and not (headers and "Access-Control-Allow-Methods" in headers):
            headers = {**self.cors.headers(self.origin), **(headers or {})}
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        typed = f"Content-Type: {content_type}\r\n" if content_type else ""
        self.transport.write(
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n{typed}"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n{extra}Connection: close\r\n\r\n".encode()
            + body
        )
        self.state = CLOSING
        self.transport.close()

    def http_problem(self, problem: Problem, target: str = "") -> None:
        """Answer a plain HTTP request with ``application/problem+json`` and close."""
        instance = target.partition("?")[0][:128]
        self.http_reply(problem.status, problem.encode(instance), CONTENT_TYPE, problem.headers)

    def _handshake(self, head: bytes, rest: bytes, target: str) -> None:
        assert self.transport is not None
        proto = ServerProtocol(max_size=self.reader.max_message)
        proto.receive_data(head)
        events = proto.events_received()
        request = events[0] if events and isinstance(events[0], Request) else None
        if request is None:
            self.http_problem(Problem(400, "bad-request", detail="not a valid websocket handshake request"), target)
            return
        refusal = self.refusal(target)
        if refusal:
            self.http_problem(Problem(503, "service-unavailable", detail=refusal), target)
            return
        response = proto.accept(request)
        if response.status_code != 101:
            status = response.status_code if response.status_code in _HANDSHAKE_CODES else 400
            reason = str(proto.handshake_exc or "the websocket handshake failed")[:200]
            headers = {name: response.headers[name] for name in ("Upgrade", "Allow") if name in response.headers}
            self.http_problem(Problem(status, _HANDSHAKE_CODES[status], detail=f"this path takes a websocket: {reason}",
                                      headers=headers), target)
            return
        proto.send_response(response)
        for chunk in proto.data_to_send():
            self.transport.write(chunk)
        self.on_upgraded(target)
        if rest:
            self.data_received(rest)

    # --- frames and abuse ---------------------------------------------------------------------

    def _dispatch(self, message: frames.Message) -> None:
        op = message.opcode
        if op == frames.OP_BINARY:
            self.on_binary(message.data)
        elif op == frames.OP_PING:
            self.write(frames.frame_control(frames.OP_PONG, message.data))
        elif op == frames.OP_CLOSE:
            self.close(frames.CLOSE_NORMAL, "")
        elif op == frames.OP_TEXT:
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
            self.close(frames.CLOSE_POLICY, "too many protocol errors")
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
        self.write(frames.frame_binary(payload))

    def close(self, code: int, reason: str) -> None:
        if not self.open or self.transport is None:
            return
        self.transport.write(frames.frame_close(code, reason))
        self.state = CLOSING
        self.transport.close()

    def abort(self) -> None:
        self.state = CLOSING
        if self.transport is not None:
            self.transport.abort()
