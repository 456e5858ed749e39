"""Websocket framing after the handshake (RFC 6455), as a pure, incremental codec.

Server frames are never masked, so one framed message is identical for every client:
:func:`frame_binary` runs once per tick and the same bytes go to every transport.
:class:`FrameReader` parses masked client frames from arbitrary chunks with a hard cap on
message size. The handshake itself is done by the websockets library (sans-I/O).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from websockets.speedups import apply_mask

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011


class FrameError(Exception):
    """The peer broke websocket framing rules; close with ``close_code``."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason


def _header(opcode: int, length: int) -> bytes:
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


def frame_binary(payload: bytes) -> bytes:
    return _header(OP_BINARY, len(payload)) + payload


def frame_control(opcode: int, payload: bytes = b"") -> bytes:
    return _header(opcode, len(payload[:125])) + payload[:125]


def frame_close(code: int, reason: str = "") -> bytes:
    return frame_control(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])


def frame_client(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """A masked client frame (for clients, tests and the load tester)."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    return head + mask + apply_mask(payload, mask)


@dataclass(slots=True)
class Message:
    opcode: int  # OP_BINARY, OP_TEXT, OP_CLOSE, OP_PING or OP_PONG
    data: bytes


class FrameReader:
    """Turns received bytes into whole messages; raises :class:`FrameError` on violations."""

    __slots__ = ("buf", "max_message", "_parts", "_part_op", "_part_len", "expect_mask")

    def __init__(self, max_message: int, expect_mask: bool = True) -> None:
        self.buf = bytearray()
        self.max_message = max_message
        self.expect_mask = expect_mask
        self._parts: list[bytes] = []
        self._part_op = 0
        self._part_len = 0

    def feed(self, data: bytes) -> list[Message]:
        # Fast path: one small, whole, masked binary frame (a typical input message).
        if not self.buf and self.expect_mask and len(data) > 6 and data[0] == 0x82 and not self._parts:
            n = data[1] ^ 0x80
            if n < 126 and len(data) == 6 + n:
                return [Message(OP_BINARY, apply_mask(data[6:], data[2:6]))]
        buf = self.buf
        buf += data
        out: list[Message] = []
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if b0 & 0x70:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "reserved bits set")
            opcode = b0 & 0x0F
            masked = b1 & 0x80
            if bool(masked) != self.expect_mask:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if end - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos + 2)
                head = 10
            if opcode >= 0x8:
                if length > 125 or not b0 & 0x80:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "bad control frame")
            elif length + self._part_len > self.max_message:
                raise FrameError(CLOSE_TOO_BIG, f"message larger than {self.max_message} bytes")
            mask_len = 4 if masked else 0
            total = head + mask_len + length
            if end - pos < total:
                break
            start = pos + head + mask_len
            payload = bytes(buf[start:start + length])
            if masked:
                payload = apply_mask(payload, bytes(buf[pos + head:start]))
            pos += total
            fin = b0 & 0x80
            if opcode >= 0x8:
                out.append(Message(opcode, payload))
            elif opcode == OP_CONT:
                if not self._parts:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "continuation without a first frame")
                self._parts.append(payload)
                self._part_len += length
                if fin:
                    out.append(Message(self._part_op, b"".join(self._parts)))
                    self._parts, self._part_len = [], 0
            elif opcode in (OP_TEXT, OP_BINARY):
                if self._parts:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
                if fin:
                    out.append(Message(opcode, payload))
                else:
                    self._parts, self._part_op, self._part_len = [payload], opcode, length
            else:
                raise FrameError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if pos:
            del buf[:pos]
        return out
