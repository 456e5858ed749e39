"""One timer per worker: each tick, every playing player of the worker sends its input.

Sending from the worker's tick (rather than from each player's receive callback) makes one
loop wake-up write every player's input and keeps the send rate at the scenario's tick rate
whatever the server does. The ticker also watches the worker: a tick that fires more than
half a period after its slot counts its inputs as *late* (``sends_late``), and whole slots
the loop missed count the inputs that were never sent (``sends_dropped``, the players that
sent this tick times the slots missed). Both say the tester, not the server, fell behind.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from loadtest.measure import Recorder


class Ticking(Protocol):
    def tick(self, now_ns: int) -> bool: ...


class Ticker:
    __slots__ = ("loop", "period_s", "rec", "players", "next_at", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, tick_hz: int, rec: Recorder) -> None:
        self.loop = loop
        self.period_s = 1.0 / tick_hz
        self.rec = rec
        self.players: dict[Ticking, None] = {}  # insertion-ordered set
        self.next_at = 0.0
        self.handle: asyncio.TimerHandle | None = None

    def add(self, player: Ticking) -> None:
        self.players[player] = None
        if self.handle is None:
            self.next_at = self.loop.time() + self.period_s
            self.handle = self.loop.call_at(self.next_at, self._fire)

    def discard(self, player: Ticking) -> None:
        self.players.pop(player, None)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def _fire(self) -> None:
        period = self.period_s
        late = self.loop.time() - self.next_at
        now_ns = time.perf_counter_ns()
        sent = 0
        for player in tuple(self.players):
            if player.tick(now_ns):
                sent += 1
        rec = self.rec
        if late > period / 2:
            rec.sends_late += sent
        if late >= period:
            missed = int(late / period)
            rec.sends_dropped += missed * sent
            self.next_at += missed * period
        self.next_at += period
        self.handle = self.loop.call_at(self.next_at, self._fire) if self.players else None
