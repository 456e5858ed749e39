"""A small watch client over the websockets library: used by tests and examples.

It rebuilds the match with :class:`elysium.ws.replica.Replica` from the relayed keyframes,
deltas and events, exactly as a player's client does, and keeps the relay's own messages.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from elysium.ws.replica import Replica
from spectator import protocol as sp

FEED_TYPES = ("keyframe", "delta", "events")


class SpectatorClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.hello: dict[str, Any] = {}
        self.replica = Replica()
        self.started = False  # a keyframe (or the feed's first entry) has been applied
        self.kinds: list[str] = []
        self.ticks: list[int] = []
        self.end: dict[str, Any] | None = None
        self.stream_ended: dict[str, Any] | None = None
        self.shutdown: dict[str, Any] | None = None
        self.errors: list[dict[str, Any]] = []
        self.close_code: int | None = None

    async def connect(self) -> None:
        self.ws = await connect(self.url, max_size=2**22, compression=None, open_timeout=10)

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        assert self.ws is not None
        try:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd is not None else 1006
            raise
        assert isinstance(data, bytes)
        msg = sp.unpack(data)
        self.observe(msg)
        return msg

    def observe(self, msg: dict[str, Any]) -> None:
        kind = msg["t"]
        self.kinds.append(kind)
        if kind == "watch":
            self.hello = msg
            if msg.get("columns"):
                self.replica.motion = msg["columns"]["motion"]
                self.replica.width = len(msg["columns"]["player"])
        elif kind in FEED_TYPES:
            self.replica.apply(msg)
            self.ticks.append(msg["n"])
            self.started = True
        elif kind == "end":
            self.end = msg
        elif kind == "stream_ended":
            self.stream_ended = msg
        elif kind == "shutdown":
            self.shutdown = msg
        elif kind == "error":
            self.errors.append(msg)

    async def watch_until_closed(self, timeout: float = 30.0, on_message: Any = None) -> None:
        """Read until the relay closes the stream (``close_code`` is then set)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = await self.recv(max(0.01, deadline - time.monotonic()))
            except ConnectionClosed:
                return
            if on_message is not None:
                on_message(self, msg)

    async def expect(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - time.monotonic()))
            if msg["t"] == kind:
                return msg

    async def send(self, data: bytes | str) -> None:
        assert self.ws is not None
        await self.ws.send(data)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
