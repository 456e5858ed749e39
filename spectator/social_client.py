"""A small social socket client over the websockets library: used by tests and examples."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from elysium.ws import envelope
from spectator import social_protocol as sp


class SocialClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.ready: dict[str, Any] = {}
        self.inbox: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []  # every message, in order
        self.pending: list[dict[str, Any]] = []  # received but not yet returned by expect or answer
        self._next_id = 0

    async def connect(self) -> None:
        self.ws = await connect(self.url, max_size=2**20, compression=None, open_timeout=10)

    async def send(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send(data)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.ws is not None
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(data, bytes)
        msg = envelope.unpack(data)
        self.received.append(msg)
        return msg

    async def _first(self, wanted: Any, timeout: float) -> dict[str, Any]:
        """The first message, oldest first, for which ``wanted`` holds; the ones before it are skipped
        (dropped from ``pending``) and the ones after it wait there."""
        for i, msg in enumerate(self.pending):
            if wanted(msg):
                del self.pending[: i + 1]
                return msg
        self.pending.clear()
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - time.monotonic()))
            if wanted(msg):
                return msg

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of type ``kind``."""
        return await self._first(lambda m: m["t"] == kind, timeout)

    async def texts_until(self, last: str, timeout: float = 5.0) -> list[str]:
        """The texts of the ``msg`` messages received up to and including the one saying ``last``."""
        texts: list[str] = []
        while not texts or texts[-1] != last:
            texts.append((await self.expect("msg", timeout))["text"])
        return texts

    async def hello(self, token: str) -> dict[str, Any]:
        """Connect, say hello and read ``ready`` and ``inbox`` (or the refusal)."""
        if self.ws is None:
            await self.connect()
        await self.send(sp.encode_hello(token))
        msg = await self.recv()
        if msg["t"] != "ready":
            return msg
        self.ready = msg
        self.inbox = (await self.expect("inbox"))["msgs"]
        return msg

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def answer(self, ident: int, timeout: float = 5.0) -> dict[str, Any]:
        """The ack, history or error that answers the message with ``id`` ``ident``."""
        for i, msg in enumerate(self.pending):
            if self._answers(msg, ident):
                del self.pending[i]
                return msg
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - time.monotonic()))
            if self._answers(msg, ident):
                return msg
            self.pending.append(msg)

    @staticmethod
    def _answers(msg: dict[str, Any], ident: int) -> bool:
        return msg.get("ref") == ident and msg["t"] in ("ack", "history", "error")

    async def subscribe(self, ch: str) -> dict[str, Any]:
        ident = self.next_id()
        await self.send(sp.encode_sub(ch, ident))
        return await self.answer(ident)

    async def unsubscribe(self, ch: str) -> dict[str, Any]:
        ident = self.next_id()
        await self.send(sp.encode_unsub(ch, ident))
        return await self.answer(ident)

    async def say(self, ch: str, text: str) -> dict[str, Any]:
        ident = self.next_id()
        await self.send(sp.encode_say(ch, text, ident))
        return await self.answer(ident)

    async def dm(self, to: str, text: str) -> dict[str, Any]:
        ident = self.next_id()
        await self.send(sp.encode_dm(to, text, ident))
        return await self.answer(ident)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
