"""Load client for the game-server capacity benchmark: many light players in one process.

Run by ``benchmarks/gameserver_capacity.py``; prints one JSON line of measurements.
Each player joins with a development token, sends one input per tick (20 Hz), and reads
every frame; the server-send to client-receive latency comes from each delta's ``ts``. The
input round trip (an input's send to the delta acknowledging its ``seq``) is measured on one
player in ``RTT_SAMPLE``, which decodes its deltas fully.
Frames are parsed by hand and inputs are pre-framed with a zero mask (valid per RFC 6455:
the key is chosen by the client) so the load process stays cheaper than the server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import os
import random
import struct
import time
from typing import cast

import msgpack
import uvloop
from hdrh.histogram import HdrHistogram

from elysium import devtokens, tokens
from elysium.ws import frames, play

TS_MARK = b"\xa2ts\xcf"  # "ts" key followed by a uint64 in every delta and keyframe
RTT_SAMPLE = 10  # one player in this many measures its input round trip
SENT_RING = 64  # send times kept per sampled player, by seq modulo this


class Player(asyncio.Protocol):
    transport: asyncio.Transport  # set by connection_made, before any data arrives

    def __init__(self, bench: Bench, token: str, sampled: bool = False) -> None:
        self.bench = bench
        self.seat = -1  # from the welcome, for sampled players
        self.sent_ns: list[int] | None = [0] * SENT_RING if sampled else None
        self.token = token
        self.buf = b""
        self.handshaken = False
        self.joined = asyncio.get_running_loop().create_future()
        self.seq = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; uvloop's do not subclass asyncio.Transport, so this is not an isinstance check.
        self.transport = cast(asyncio.Transport, transport)
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET /v1/play HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())

    def data_received(self, data: bytes) -> None:
        bench = self.bench
        bench.bytes_in += len(data)
        buf = self.buf + data if self.buf else data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            self.handshaken = True
            buf = buf[end + 4:]
            self.transport.write(frames.frame_client(frames.OP_BINARY, play.encode_join(token=self.token), b"\0\0\0\0"))
        pos, n = 0, len(buf)
        now_us = time.time_ns() // 1000
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos + 2)
                head = 10
            end = pos + head + length
            if end > n:
                break
            start = pos + head
            bench.messages_in += 1
            # msgpack map header (a fixmap; a map16 for a welcome, which has more than 15 keys),
            # then "t" and its value: delta / keyframe / events / welcome / error ...
            body = start + (3 if buf[start] == 0xDE else 1)
            kind = buf[body + 3:body + 6]
            if kind == b"del" or kind == b"key":
                bench.deltas_in += 1
                mark = buf.find(TS_MARK, start, start + 40)
                if mark > 0:
                    (ts,) = struct.unpack_from("!Q", buf, mark + 4)
                    if bench.measuring:
                        bench.latency.record_value(max(1, now_us - ts))
                if self.sent_ns is not None and kind == b"del" and bench.measuring:
                    self.record_ack(msgpack.unpackb(buf[start:end]))
                if kind == b"key" and not self.joined.done():
                    self.joined.set_result(True)
            elif kind == b"wel" and self.sent_ns is not None:
                self.seat = msgpack.unpackb(buf[start:end])["player"]
            elif buf[pos] & 0x0F == frames.OP_CLOSE:
                self.closed = True
            elif not self.joined.done() and kind == b"err":
                self.joined.set_exception(RuntimeError(str(msgpack.unpackb(buf[start:end]))))
            pos = end
        self.buf = buf[pos:] if pos < n else b""

    def record_ack(self, delta: dict[str, object]) -> None:
        """The round trip of the input this delta acknowledges for our seat, if any."""
        assert self.sent_ns is not None
        for seat, seq in cast(list[list[int]], delta.get("a", ())):
            if seat == self.seat and 0 < seq <= self.seq and self.seq - seq < SENT_RING:
                sent = self.sent_ns[seq % SENT_RING]
                if sent:
                    self.bench.input_rtt.record_value(max(1, (time.monotonic_ns() - sent) // 1000))
                    self.sent_ns[seq % SENT_RING] = 0  # counted once

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.bench.measuring or self.bench.settled:
            self.bench.dropped += 1
        if not self.joined.done():
            self.joined.set_exception(ConnectionError("closed before joining"))

    def send_input(self, move_x: float, move_y: float, aim: float, fire: bool) -> None:
        if self.closed:
            return
        self.seq += 1
        if self.sent_ns is not None:
            self.sent_ns[self.seq % SENT_RING] = time.monotonic_ns()
        payload = msgpack.packb({"t": "input", "i": [[self.seq, move_x, move_y, aim, fire]]})
        self.transport.write(bytes((0x82, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
        self.bench.messages_out += 1


class Bench:
    def __init__(self) -> None:
        self.latency = HdrHistogram(1, 10_000_000, 3)  # µs
        self.input_rtt = HdrHistogram(1, 10_000_000, 3)  # µs, input send to its ack
        self.bytes_in = 0
        self.messages_in = 0
        self.messages_out = 0
        self.deltas_in = 0
        self.dropped = 0
        self.measuring = False
        self.settled = False


async def run(args: argparse.Namespace) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    bench = Bench()
    signer = tokens.Signer(tokens.load_private_key(path=args.key_file), devtokens.DEV_ISSUER)
    room = devtokens.room_claim(seats=args.room_size, min_players=1, score_limit=1000, time_limit_s=3600)
    players: list[Player] = []
    started = time.monotonic()
    for i in range(args.players):
        token = devtokens.mint_join(signer, match_id=f"{args.prefix}-{i // args.room_size}", player_id=f"p{i}",
                                    server_id=args.server_id, room=room)
        _, player = await loop.create_connection(functools.partial(Player, bench, token, i % RTT_SAMPLE == 0), "127.0.0.1", args.port)
        players.append(player)
        if i % 50 == 49:
            await asyncio.sleep(50 / args.ramp_per_s)
    await asyncio.wait_for(asyncio.gather(*(pl.joined for pl in players)), 60)
    ramp_s = time.monotonic() - started
    rng = random.Random(1)
    groups = 10
    tick = 1.0 / 20

    async def drive(group: list[Player]) -> None:
        state = [(rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-3, 3)) for _ in group]
        next_at = loop.time()
        while not stop.is_set():
            for k, pl in enumerate(group):
                mx, my, aim = state[k]
                if rng.random() < 0.05:
                    mx, my, aim = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-3, 3)
                    state[k] = (mx, my, aim)
                pl.send_input(mx, my, aim, rng.random() < 0.2)
            next_at += tick
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    stop = asyncio.Event()
    drivers = []
    for g in range(groups):
        drivers.append(loop.create_task(drive(players[g::groups])))
        await asyncio.sleep(tick / groups)
    bench.settled = True
    await asyncio.sleep(args.settle_s)
    bench.measuring = True
    print(json.dumps({"phase": "measure-start"}), flush=True)
    b0, m0, o0, d0 = bench.bytes_in, bench.messages_in, bench.messages_out, bench.deltas_in
    cpu0 = time.process_time()
    t0 = time.monotonic()
    await asyncio.sleep(args.measure_s)
    elapsed = time.monotonic() - t0
    bench.measuring = False
    print(json.dumps({"phase": "measure-end"}), flush=True)
    cpu = time.process_time() - cpu0
    stop.set()
    await asyncio.gather(*drivers)
    result = {
        "players": args.players,
        "connected": sum(1 for pl in players if not pl.closed),
        "dropped": bench.dropped,
        "ramp_s": round(ramp_s, 2),
        "measure_s": round(elapsed, 2),
        "latency_ms": {q: round(bench.latency.get_value_at_percentile(v) / 1000, 2)
                       for q, v in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
        "input_rtt_ms": {q: round(bench.input_rtt.get_value_at_percentile(v) / 1000, 2)
                         for q, v in (("p50", 50), ("p99", 99))},
        "input_rtt_samples": bench.input_rtt.get_total_count(),
        "messages_in_per_s": round((bench.messages_in - m0) / elapsed),
        "deltas_per_player_s": round((bench.deltas_in - d0) / elapsed / args.players, 2),
        "bytes_in_per_s": round((bench.bytes_in - b0) / elapsed),
        "messages_out_per_s": round((bench.messages_out - o0) / elapsed),
        "client_cpu": round(cpu / elapsed, 3),
    }
    for pl in players:
        if pl.transport is not None:
            pl.transport.abort()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--players", type=int, required=True)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--server-id", default="bench-1")
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--ramp-per-s", type=float, default=1000)
    parser.add_argument("--settle-s", type=float, default=3)
    parser.add_argument("--measure-s", type=float, default=10)
    args = parser.parse_args()
    print(json.dumps(uvloop.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
