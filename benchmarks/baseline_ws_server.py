"""A plain websockets + uvloop game server, the peer the capacity benchmark compares with.

It speaks just enough of protocol v1 for benchmarks/gameserver_load.py: a join gets a
keyframe; inputs move each player; every room sends a delta with every player's position
20 times a second with ``websockets.broadcast`` (one timer per room). No tokens, no
simulation, no Redis: it shows what the websockets library itself costs per player.

    python benchmarks/baseline_ws_server.py --port 7399
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import msgpack
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response


class Room:
    def __init__(self) -> None:
        self.players: dict[ServerConnection, list[float]] = {}
        self.tick = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while self.players:
            self.tick += 1
            rows = [[i, int(s[0] * 100), int(s[1] * 100), int(s[2] * 1000)] for i, s in enumerate(self.players.values())]
            msg = msgpack.packb({"t": "delta", "n": self.tick, "ts": time.time_ns() // 1000, "p": rows})
            broadcast(self.players, msg)
            next_at += 0.05
            await asyncio.sleep(max(0.0, next_at - loop.time()))


ROOMS: dict[str, Room] = {}
ROOM_SIZE = 10
JOINED = 0


async def handler(ws: ServerConnection) -> None:
    global JOINED
    room: Room | None = None
    try:
        async for data in ws:
            msg = msgpack.unpackb(data)
            if msg["t"] == "join" and room is None:
                room = ROOMS.setdefault(f"r{JOINED // ROOM_SIZE}", Room())
                JOINED += 1
                room.players[ws] = [32.0, 32.0, 0.0]
                await ws.send(msgpack.packb({"t": "keyframe", "n": room.tick, "ts": time.time_ns() // 1000}))
                if room.task is None:
                    room.task = asyncio.create_task(room.run())
            elif msg["t"] == "input" and room is not None:
                seq, mx, my, aim, fire = msg["i"][-1]
                state = room.players[ws]
                state[0] = min(64.0, max(0.0, state[0] + mx * 0.3))
                state[1] = min(64.0, max(0.0, state[1] + my * 0.3))
                state[2] = aim
    finally:
        if room is not None:
            room.players.pop(ws, None)


def health(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/metrics":
        return connection.respond(200, "")
    return None


async def main(port: int, room_size: int) -> None:
    global ROOM_SIZE
    ROOM_SIZE = room_size
    async with serve(handler, "127.0.0.1", port, compression=None, process_request=health, max_queue=64):
        print(f"baseline listening on {port} pid {os.getpid()}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--room-size", type=int, default=10)
    args = parser.parse_args()
    uvloop.run(main(args.port, args.room_size))
