"""A cheap websocket client: a raw asyncio protocol with pre-masked frames.

Thousands of these run in one process, so there is no per-connection task, queue or
reader coroutine: bytes arrive in :meth:`WsClient.data_received`, whole messages go
straight to the owner's ``on_message``. The handshake is checked by the websockets
library's sans-I/O ``ClientProtocol``; after it, frames are built with
:func:`elysium.ws.frames.frame_client` and parsed with :class:`elysium.ws.frames.FrameReader`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from typing import Protocol
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from elysium.ws import frames

MAX_HEAD_BYTES = 16384
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class Owner(Protocol):
    def on_message(self, data: bytes) -> None: ...

    def on_close(self, cause: str) -> None: ...


class HandshakeFailed(Exception):
    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause


class WsClient(asyncio.Protocol):
    __slots__ = ("owner", "uri", "proto", "transport", "opened", "head", "reader", "mask", "is_open", "closed",
                 "bytes_in")

    def __init__(self, url: str, owner: Owner) -> None:
        self.owner = owner
        self.uri = parse_uri(url)
        self.proto: ClientProtocol | None = None
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head = bytearray()
        self.reader = frames.FrameReader(MAX_MESSAGE_BYTES, expect_mask=False)
        self.mask = os.urandom(4)
        self.is_open = False
        self.closed = False
        self.bytes_in = 0

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.proto = ClientProtocol(self.uri, max_size=MAX_MESSAGE_BYTES)
        self.proto.send_request(self.proto.connect())
        for chunk in self.proto.data_to_send():
            transport.write(chunk)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if self.is_open:
            reader = self.reader
            if not reader.buf and not reader._parts:
                # Fast path: whole, final, unmasked binary frames (every tick frame) go straight to the
                # owner; whatever is left (a partial frame, a control frame) takes the FrameReader path.
                pos, end = 0, len(data)
                owner = self.owner
                while end - pos >= 2 and data[pos] == 0x82:
                    length = data[pos + 1]
                    if length < 126:
                        start = pos + 2
                    elif length == 126 and end - pos >= 4:
                        length = (data[pos + 2] << 8) | data[pos + 3]
                        start = pos + 4
                    else:
                        break
                    stop = start + length
                    if stop > end:
                        break
                    owner.on_message(data[start:stop])
                    if self.closed:
                        return
                    pos = stop
                if pos == end:
                    return
                if pos:
                    data = data[pos:]
            try:
                messages = self.reader.feed(data)
            except frames.FrameError as exc:
                self._fail("frame_error", exc.close_code)
                return
            for message in messages:
                op = message.opcode
                if op == frames.OP_BINARY:
                    self.owner.on_message(message.data)
                elif op == frames.OP_CLOSE:
                    code = struct.unpack("!H", message.data[:2])[0] if len(message.data) >= 2 else 1005
                    self._fail(f"server_close_{code}", frames.CLOSE_NORMAL)
                    return
                elif op == frames.OP_PING:
                    self._write(frames.frame_client(frames.OP_PONG, message.data, self.mask))
                elif op == frames.OP_TEXT:
                    self.owner.on_message(message.data)
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > MAX_HEAD_BYTES:
                self._handshake_failed("handshake", "response head too large")
            return
        head, rest = bytes(self.head[: end + 4]), bytes(self.head[end + 4:])
        self.head = bytearray()
        assert self.proto is not None
        self.proto.receive_data(head)
        self.proto.events_received()
        if self.proto.state is not State.OPEN:
            refusal = self.proto.handshake_exc
            self._handshake_failed("handshake", str(refusal) if refusal else "handshake refused")
            return
        self.proto = None
        self.is_open = True
        if not self.opened.done():
            self.opened.set_result(None)
        if rest:
            self.data_received(rest)

    def connection_lost(self, exc: Exception | None) -> None:
        was_open, self.is_open = self.is_open, False
        if not self.opened.done():
            self.opened.set_exception(HandshakeFailed("connect_lost", "connection closed during the handshake"))
        if not self.closed:
            self.closed = True
            if was_open:
                self.owner.on_close("reset" if exc is not None else "eof")

    # --- use ----------------------------------------------------------------------------

    def _write(self, framed: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(framed)

    def send(self, payload: bytes) -> int:
        """Send one binary message; returns the bytes written to the socket."""
        framed = frames.frame_client(frames.OP_BINARY, payload, self.mask)
        self._write(framed)
        return len(framed)

    def close(self, code: int = frames.CLOSE_NORMAL) -> None:
        """Close from our side (no callback to the owner)."""
        if self.closed:
            return
        self.closed = True
        self.is_open = False
        if self.transport is not None:
            if not self.transport.is_closing():
                self.transport.write(frames.frame_client(frames.OP_CLOSE, struct.pack("!H", code), self.mask))
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self.is_open = False
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, cause: str, code: int) -> None:
        if self.closed:
            return
        self.close(code)
        self.owner.on_close(cause)

    def _handshake_failed(self, cause: str, detail: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeFailed(cause, detail))
        self.abort()


async def open_ws(url: str, owner: Owner, timeout_s: float) -> WsClient:
    """Connect and finish the handshake within ``timeout_s`` or raise (OSError, TimeoutError, HandshakeFailed)."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("ws", "wss") or not host:
        raise HandshakeFailed("bad_url", f"not a ws:// URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    loop = asyncio.get_running_loop()

    async def connect() -> WsClient:
        _, client = await loop.create_connection(lambda: WsClient(url, owner), host, port,
                                                 ssl=parts.scheme == "wss" or None)
        try:
            await client.opened
        except BaseException:
            client.abort()
            raise
        return client

    return await asyncio.wait_for(connect(), timeout_s)
