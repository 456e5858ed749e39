"""A small game client over the websockets library: used by bots, tests and examples.

It keeps a replica of the match (:class:`elysium.ws.replica.Replica`) built from keyframes
and deltas exactly as ``docs/protocol.md`` describes, which is how a third-party client would do it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from elysium.ws import envelope, play
from elysium.ws.replica import Replica


class GameClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.welcome: dict[str, Any] = {}
        self.replica = Replica()
        self.events: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.seq = -1  # the last seq sent; the join's keyframe says where the seat stands
        self.result: dict[str, Any] | None = None
        self.shutdown: dict[str, Any] | None = None

    async def connect(self) -> None:
        self.ws = await connect(self.url, max_size=2**22, compression=None, open_timeout=10)

    async def send(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send(data)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.ws is not None
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(data, bytes)
        msg = envelope.unpack(data)
        self._observe(msg)
        return msg

    def _observe(self, msg: dict[str, Any]) -> None:
        kind = msg["t"]
        if kind == "welcome":
            self.welcome = msg
            self.replica.motion = msg["columns"]["motion"]
            self.replica.width = len(msg["columns"]["player"])
        elif kind in ("keyframe", "delta", "events"):
            self.replica.apply(msg)
            if kind == "events":
                self.events.extend(msg["e"])
                for ev in msg["e"]:
                    if ev["k"] == "end":
                        self.result = ev
        elif kind == "error":
            self.errors.append(msg)
        elif kind == "shutdown":
            self.shutdown = msg

    async def join(self, token: str | None = None, resume: str | None = None, timeout: float = 5.0,
                   choice: dict[str, int | float | bool | str] | None = None) -> dict[str, Any]:
        """Join and return the welcome; the keyframe that follows is read too. ``choice``: what
        the mode's ``join_choice`` asks for (a team, a loadout)."""
        if self.ws is None:
            await self.connect()
        await self.send(play.encode_join(token=token, resume=resume, choice=choice))
        msg = await self.recv(timeout)
        if msg["t"] != "welcome":
            return msg
        await self.expect("keyframe", timeout)
        # Sequence numbers belong to the seat: go on after the last one it applied (-1: none yet).
        self.seq = self.replica.acks.get(msg["player"], -1)
        return msg

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - time.monotonic()))
            if msg["t"] == kind:
                return msg

    async def send_input(self, move_x: float, move_y: float, aim: float, fire: bool) -> int:
        """An arena input (protocol v1's row)."""
        return await self.send_row(move_x, move_y, aim, fire)

    async def send_row(self, *fields: int | float | bool) -> int:
        """An input of any mode: ``fields`` in the order of ``welcome.input.row`` after ``seq``."""
        self.seq = (self.seq + 1) % play.SEQ_MODULUS
        await self.send(play.encode_inputs([(self.seq, *fields)]))
        return self.seq

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
