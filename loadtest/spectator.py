"""One simulated spectator: watch a match through the relay and measure what arrives.

The relay sends the game's own bytes (keyframes, deltas, events) after the delay it
announces in its first ``watch`` message; latency is the tick timestamp to receipt minus
that delay. Like a player, a spectator is a raw protocol with no task while it watches.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

import msgpack

from loadtest.measure import Recorder
from loadtest.wsclient import HandshakeFailed, WsClient, open_ws

STREAM_END = ("end", "stream_ended", "shutdown")


def watch_url(relay_url: str, match_id: str) -> str:
    base = relay_url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[len("http"):]
    return f"{base}/v1/watch/{quote(match_id, safe='')}?delay=0"


class SimSpectator:
    __slots__ = ("url", "rec", "end_at", "retries", "connect_timeout_s", "ws", "delay_us", "started", "first",
                 "closed", "ended", "loop", "live", "last_rx", "period_ns")

    def __init__(self, url: str, rec: Recorder, end_at: float, *, retries: int, connect_timeout_s: float) -> None:
        self.url = url
        self.rec = rec
        self.end_at = end_at
        self.retries = retries
        self.connect_timeout_s = connect_timeout_s
        self.ws: WsClient | None = None
        self.delay_us = 0
        self.started = 0
        self.first = True
        self.closed: asyncio.Future[str] | None = None
        self.ended = False
        self.live = False  # past the catch-up burst the relay sends on attach
        self.last_rx = 0
        self.period_ns = 50_000_000
        self.loop = asyncio.get_running_loop()

    async def watch(self) -> None:
        rec, loop = self.rec, self.loop
        failures = 0
        while loop.time() < self.end_at and failures <= self.retries and not self.ended:
            if failures:
                await asyncio.sleep(min(2.0, 0.2 * 2 ** (failures - 1)))
            self.started = time.perf_counter_ns()
            self.first = True
            self.live = False
            self.last_rx = 0
            self.closed = loop.create_future()
            try:
                self.ws = await open_ws(self.url, self, min(self.connect_timeout_s, self.end_at - loop.time() + 0.1))
            except (OSError, TimeoutError, HandshakeFailed) as exc:
                rec.error("spectator_" + (exc.cause if isinstance(exc, HandshakeFailed) else
                                          "connect_timeout" if isinstance(exc, TimeoutError) else "connect_error"))
                failures += 1
                continue
            rec.spectators += 1
            try:
                cause = await asyncio.wait_for(asyncio.shield(self.closed), max(0.0, self.end_at - loop.time()))
            except TimeoutError:
                cause = None
            finally:
                rec.spectators -= 1
                self.ws.close()
                self.ws = None
            if cause is None or self.ended:
                return
            rec.disconnect("spectator_" + cause)
            failures += 1

    def finish(self) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result("finished")

    def on_message(self, data: bytes) -> None:
        rx_wall = time.time_ns() // 1000
        rec = self.rec
        rec.counts["spectator_msgs"] += 1
        rec.counts["spectator_bytes"] += len(data)
        try:
            msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
            kind = msg["t"]
        except (ValueError, TypeError, KeyError, msgpack.UnpackException):
            rec.error("spectator_bad_message")
            return
        if kind in ("delta", "keyframe"):
            rx = time.perf_counter_ns()
            if self.first:
                self.first = False
                rec.time_us("spectator_join", (rx - self.started) / 1000)
            elif not self.live and rx - self.last_rx > self.period_ns // 2:
                self.live = True  # frames now arrive a tick apart: the catch-up burst is over
            self.last_rx = rx
            if self.live:
                rec.time_us("spectator_latency", max(0, rx_wall - msg["ts"] - self.delay_us))
            else:
                rec.counts["spectator_catchup"] += 1
        elif kind == "watch":
            self.delay_us = int(float(msg.get("delay_s") or 0) * 1_000_000)
            self.period_ns = 1_000_000_000 // max(1, int(msg.get("tick_hz") or 20))
        elif kind == "error":
            rec.error("spectator_" + str(msg.get("code", "error")))
        elif kind in STREAM_END:
            self.ended = True

    def on_close(self, cause: str) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result("ended" if self.ended else cause)
