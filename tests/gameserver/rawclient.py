"""A raw websocket client for abuse tests: sends any bytes, reads server frames."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

from elysium.ws import envelope, frames


async def http_exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes as an HTTP request and read the whole answer (the server closes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def problem_of(answer: bytes, status: int, code: str) -> dict[str, Any]:
    """The problem+json body of a raw HTTP answer, checked against its status and code."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), lines[0]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "application/problem+json", headers
    assert int(headers["content-length"]) == len(body)
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == status and problem["code"] == code, problem
    assert problem["type"] == f"urn:elysium:problem:{code}" and problem["title"] and problem["detail"], problem
    return problem


async def assert_bad_http_answered(port: int, get_path: str, post_path: str, websocket_path: str) -> None:
    """Malformed, oversized, wrong-method and non-upgrade requests each get their problem+json answer."""
    problem_of(await http_exchange(port, b"NONSENSE\r\n\r\n"), 400, "bad-request")
    padded = f"GET {get_path} HTTP/1.1\r\nX-Pad: ".encode() + b"a" * 9000
    problem_of(await http_exchange(port, padded), 431, "headers-too-large")
    posted = await http_exchange(port, f"POST {post_path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    assert problem_of(posted, 405, "method-not-allowed")["instance"] == post_path
    assert b"\r\nAllow: GET\r\n" in posted
    plain = await http_exchange(port, f"GET {websocket_path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    problem_of(plain, 426, "upgrade-required")  # a websocket path, but no upgrade asked
    assert b"\r\nUpgrade: websocket\r\n" in plain


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames = frames.FrameReader(1 << 24, expect_mask=False)
        self.pending: list[frames.Message] = []

    @classmethod
    async def open(cls, port: int, path: str = "/v1/play", rcvbuf: int = 0) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, payload: bytes, opcode: int = frames.OP_BINARY) -> None:
        self.writer.write(frames.frame_client(opcode, payload, os.urandom(4)))

    async def recv(self, timeout: float = 5.0) -> frames.Message:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed")
            self.pending.extend(self.frames.feed(data))
        return self.pending.pop(0)

    async def recv_msg(self, kind: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The next server message (skipping others until ``kind`` when given)."""
        while True:
            frame = await self.recv(timeout)
            if frame.opcode == frames.OP_CLOSE:
                raise ConnectionError(f"closed with {int.from_bytes(frame.data[:2], 'big')}")
            if frame.opcode != frames.OP_BINARY:
                continue
            msg = envelope.unpack(frame.data)
            if kind is None or msg["t"] == kind:
                return msg

    async def close_code(self, timeout: float = 5.0) -> int:
        """Read until the server's close frame; return its code."""
        while True:
            frame = await self.recv(timeout)
            if frame.opcode == frames.OP_CLOSE:
                return int.from_bytes(frame.data[:2], "big")

    async def closed(self, timeout: float = 5.0) -> bool:
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
        except (ConnectionError, TimeoutError):
            return False

    def pause_reading(self) -> None:
        self.writer.transport.pause_reading()  # type: ignore[attr-defined]

    def resume_reading(self) -> None:
        self.writer.transport.resume_reading()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.writer.close()
